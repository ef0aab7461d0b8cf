"""`Operations`: what operators see and do. The operator routes call it; it raises domain errors
(`JobNotFound`, `JobConflict`, `QueueUnavailable`) as `JobQueue` does."""

from jobqueue.errors import JobConflict, JobNotFound
from jobqueue.history.view import JobView
from jobqueue.ops import crons
from jobqueue.ops.crons import CronInfo
from jobqueue.ops.metrics import ApiMetrics, render
from jobqueue.ops.stats import QueueReport, queue_report
from jobqueue.ops.workers import WorkerInfo, list_workers
from jobqueue.queue import EnqueueOptions, JobQueue
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis
from jobqueue.store.outages import Circuit, unavailable_on_outage


class Operations:
    def __init__(self, redis: TrackedRedis, settings: Settings, jobs: JobQueue) -> None:
        self._redis = redis
        self._settings = settings
        self._jobs = jobs

    @property
    def circuit(self) -> Circuit:
        return self._redis.circuit

    @unavailable_on_outage
    async def crons(self) -> list[CronInfo]:
        return await crons.list_crons(self._redis, self._settings)

    @unavailable_on_outage
    async def run_cron(self, name: str, by: str | None = None) -> JobView:
        """Run a cron job now, unless a run of it is in progress (`JobConflict`); `by`: the
        API key's name, recorded as who enqueued the run."""
        if crons.find(self._settings, name) is None:
            raise JobNotFound(f"no cron job named {name!r}")
        if await crons.is_running(self._redis, name):
            raise JobConflict(f"{name} is running; wait for it to finish")
        options = EnqueueOptions(job_id=crons.manual_run_id(name), by=by)
        view, created = await self._jobs.enqueue(name, {}, options)
        if not created:
            raise JobConflict(f"{name} was started a moment ago")
        return view

    @unavailable_on_outage
    async def queues(self, series_length: int, tenant: str | None = None) -> list[QueueReport]:
        """Each queue, as the system sees it or as `tenant` does (its jobs only)."""
        queue = self._settings.queue_name
        return [await queue_report(self._redis, queue, series_length, tenant)]

    @unavailable_on_outage
    async def workers(self) -> list[WorkerInfo]:
        return await list_workers(self._redis, self._settings)

    @unavailable_on_outage
    async def metrics(self, api: ApiMetrics) -> bytes:
        return await render(self._redis, self._settings, api)
