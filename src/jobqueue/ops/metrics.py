"""Prometheus metrics for `GET /metrics`.

Two sources, one scrape target:
- this API process: HTTP requests and latency, enqueue outcomes (prometheus-client objects);
- the workers: job outcomes, retries and durations, which every worker adds to counters in Redis
  in the same transaction that records the job's end, plus queue depth and worker liveness read
  at scrape time. Any number of workers, restarts included, appear as one consistent series.
"""

from collections.abc import Iterator

from arq.connections import ArqRedis
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from jobqueue.history.vocabulary import JobStatus
from jobqueue.ops.stats import QueueSnapshot, snapshot_queue
from jobqueue.ops.workers import WorkerInfo, list_workers
from jobqueue.settings import Settings
from jobqueue.store.statistics import DURATION_BUCKETS, JobCounters, read_job_counters


class ApiMetrics:
    """This process's own metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.enqueued = Counter(
            "jobqueue_enqueue_requests",
            "POST /v1/jobs outcomes by function: created, existing (idempotent) or conflict",
            ["function", "outcome"],
            registry=self.registry,
        )
        self.http_requests = Counter(
            "jobqueue_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "jobqueue_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            registry=self.registry,
        )
        self.open_streams = Gauge(  # read at scrape time (`set_function`, by the app)
            "jobqueue_api_open_streams",
            "SSE streams and waiting long-polls this API process serves (JOBQUEUE_MAX_STREAMS)",
            registry=self.registry,
        )


class _SharedCollector(Collector):
    """Yields what was read from Redis just before rendering."""

    def __init__(
        self, counters: JobCounters, queue: QueueSnapshot, workers: list[WorkerInfo]
    ) -> None:
        self.counters, self.queue, self.workers = counters, queue, workers

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        finished = CounterMetricFamily(
            "jobqueue_jobs_finished",
            "Jobs finished, by function and status",
            labels=["function", "status"],
        )
        for (function, status), count in self.counters.finished.items():
            finished.add_metric([function, status], float(count))
        yield finished
        retried = CounterMetricFamily(
            "jobqueue_job_retries", "Retries scheduled, by function", labels=["function"]
        )
        for function, count in self.counters.retried.items():
            retried.add_metric([function], float(count))
        yield retried
        stalled = CounterMetricFamily(
            "jobqueue_job_stalls",
            "Runs that never ended (their worker died or lost its lease), by function",
            labels=["function"],
        )
        for function, count in self.counters.stalled.items():
            stalled.add_metric([function], float(count))
        yield stalled
        durations = HistogramMetricFamily(
            "jobqueue_job_duration_seconds", "Job run time, by function", labels=["function"]
        )
        for function, fields in self.counters.durations.items():
            cumulative, buckets = 0, []
            for bound in [*map(str, DURATION_BUCKETS), "+Inf"]:
                cumulative += int(fields.get(bound, 0))
                buckets.append((bound, float(cumulative)))
            durations.add_metric([function], buckets, float(fields.get("sum", 0)))
        yield durations
        depth = GaugeMetricFamily(
            "jobqueue_queue_jobs", "Jobs in the queue by state", labels=["queue", "state"]
        )
        for state in (JobStatus.queued, JobStatus.deferred, JobStatus.in_progress):
            depth.add_metric([self.queue.queue, state], getattr(self.queue, state))
        yield depth
        oldest = GaugeMetricFamily(
            "jobqueue_queue_oldest_waiting_age_seconds",
            "Age of the oldest job waiting to start (0 when none)",
            labels=["queue"],
        )
        oldest.add_metric([self.queue.queue], self.queue.oldest_waiting_age_s or 0.0)
        yield oldest
        held = GaugeMetricFamily(
            "jobqueue_tenant_held_jobs",
            "Jobs left queued for their tenant's cap at a worker's last poll (the most any alive "
            "worker left: each sees the same queue)",
        )
        held.add_metric([], max((w.held for w in self.workers if w.status == "alive"), default=0))
        yield held
        workers = GaugeMetricFamily("jobqueue_workers", "Workers by status", labels=["status"])
        for status in ("alive", "gone"):
            workers.add_metric([status], sum(1 for w in self.workers if w.status == status))
        yield workers


async def render(redis: ArqRedis, settings: Settings, api: ApiMetrics) -> bytes:
    """The Prometheus text exposition of both sources."""
    shared = CollectorRegistry()
    shared.register(
        _SharedCollector(
            await read_job_counters(redis),
            await snapshot_queue(redis, settings.queue_name),
            await list_workers(redis, settings),
        )
    )
    return generate_latest(api.registry) + generate_latest(shared)
