"""`JobQueue`: the facade over Redis. Routes call it; it is the only code reading arq's job keys.

It maps arq's states and the service's history to the public `JobStatus`, and raises domain
errors: `JobNotFound`, `JobConflict`, `QueueUnavailable`.
"""

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

import structlog
from arq.constants import (
    abort_jobs_ss,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from arq.jobs import serialize_result
from redis.exceptions import ConnectionError, TimeoutError, WatchError

from jobqueue import keys
from jobqueue.client import EnqueueOutcome, EnqueueSpec, TrackedRedis
from jobqueue.crons import CronInfo, list_crons, manual_run_id
from jobqueue.crons import find as find_cron
from jobqueue.crons import is_running as cron_is_running
from jobqueue.errors import JobConflict, JobNotFound, QueueUnavailable
from jobqueue.events import Event, follow, latest_event_id, past_events, read_events
from jobqueue.index import Page, read_page
from jobqueue.metrics import ApiMetrics
from jobqueue.metrics import render as render_metrics
from jobqueue.records import WAITING, ms_to_datetime, now_ms, public_status
from jobqueue.serialization import deserialize, serialize
from jobqueue.settings import Settings
from jobqueue.snapshots import read_job
from jobqueue.stats import QueueReport, queue_report
from jobqueue.tracking import REQUEST_ID_ARG
from jobqueue.views import JobStatus, JobView
from jobqueue.workers import WorkerInfo, list_workers

log = structlog.get_logger("jobqueue.queue")

P = ParamSpec("P")
R = TypeVar("R")

# Longest single blocking read: must stay under the API pool's socket timeout.
BLOCK_MS = 1000
RETRYABLE_STATUSES = (JobStatus.failed, JobStatus.aborted)


def _unavailable_on_redis_errors(
    method: Callable[Concatenate["JobQueue", P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate["JobQueue", P], Coroutine[Any, Any, R]]:
    @functools.wraps(method)
    async def guarded(queue: "JobQueue", /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(queue, *args, **kwargs)
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise QueueUnavailable(f"Redis is unavailable: {exc.__class__.__name__}") from exc

    return guarded


@dataclass(frozen=True)
class EnqueueOptions:
    job_id: str | None = None
    defer_by: float | None = None
    defer_until: datetime | None = None
    expires: float | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class BulkRetry:
    retried: list[str]
    already_retried: int


class JobQueue:
    def __init__(self, redis: TrackedRedis, settings: Settings) -> None:
        self._redis = redis
        self._settings = settings
        self._queue = settings.queue_name

    @_unavailable_on_redis_errors
    async def ping(self) -> None:
        await self._redis.ping()

    @_unavailable_on_redis_errors
    async def enqueue(
        self, function: str, args: dict[str, Any], options: EnqueueOptions
    ) -> tuple[JobView, bool]:
        """Enqueue a job; returns its view and whether it is new.

        With a `job_id` that already exists, the existing job is returned when its function and
        args match, and `JobConflict` is raised when they do not.
        """
        outcome = await self._redis.enqueue_one(_spec(function, args, options))
        result = await self._settle(outcome, function, args)
        if isinstance(result, JobConflict):
            raise result
        return result

    @_unavailable_on_redis_errors
    async def enqueue_batch(
        self, jobs: list[tuple[str, dict[str, Any], EnqueueOptions]]
    ) -> list[tuple[JobView, bool] | JobConflict]:
        """Enqueue many jobs in one round trip; each result is as for `enqueue`, or the
        `JobConflict` that `enqueue` would have raised for it."""
        outcomes = await self._redis.enqueue_many([_spec(*job) for job in jobs])
        return [
            await self._settle(outcome, function, args)
            for (function, args, _), outcome in zip(jobs, outcomes, strict=True)
        ]

    async def _settle(
        self, outcome: EnqueueOutcome, function: str, args: dict[str, Any]
    ) -> tuple[JobView, bool] | JobConflict:
        """A new job's view, or the existing job's if it is the same job (idempotency)."""
        if outcome.created:
            return _new_view(outcome, function, args), True
        existing = await read_job(self._redis, self._queue, outcome.job_id)
        if existing is None:
            return JobConflict(f"job_id {outcome.job_id!r} was being replaced; retry")
        if existing.function != function or existing.args != args:
            return JobConflict(
                f"job_id {outcome.job_id!r} is already used by a job with a different "
                "function or args"
            )
        return existing, False

    @_unavailable_on_redis_errors
    async def get(self, job_id: str) -> JobView:
        view = await read_job(self._redis, self._queue, job_id)
        if view is None:
            raise JobNotFound(f"job {job_id!r} not found (unknown, or its history has expired)")
        return view

    @_unavailable_on_redis_errors
    async def wait(self, job_id: str, timeout: float) -> JobView:
        """The job's view once terminal, or its current view after `timeout` seconds.

        Sleeps on the job's event stream, so it wakes as soon as the job ends.
        """
        deadline = time.monotonic() + timeout
        stream = keys.job_events(job_id)
        while True:
            last_id = await latest_event_id(self._redis, stream)
            view = await self.get(job_id)
            remaining = deadline - time.monotonic()
            if view.status.is_terminal or remaining <= 0:
                return view
            block_ms = max(1, min(BLOCK_MS, int(remaining * 1000)))
            await read_events(self._redis, stream, last_id, block_ms=block_ms, count=1)

    @_unavailable_on_redis_errors
    async def abort(self, job_id: str) -> JobView:
        """Abort a job that has not finished; raises `JobConflict` if it has.

        A queued or deferred job is finished as aborted right here, so it never runs even if no
        worker is up. If a worker has just picked it up, arq's abort flag cancels it there.
        """
        view = await self.get(job_id)
        if view.status.is_terminal:
            raise JobConflict(f"job {job_id!r} has already finished ({view.status})")
        if view.status == JobStatus.in_progress or not await self._abort_before_start(job_id):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zadd(abort_jobs_ss, {job_id: now_ms()})
                pipe.publish(keys.wake_channel(self._queue), "1")  # workers check aborts now
                await pipe.execute()
        return await self.get(job_id)

    async def _abort_before_start(self, job_id: str) -> bool:
        in_progress_key = in_progress_key_prefix + job_id
        job_key = job_key_prefix + job_id
        async with self._redis.pipeline(transaction=True) as pipe:
            await pipe.watch(in_progress_key, job_key)
            raw = await pipe.get(job_key)
            if raw is None or await pipe.exists(in_progress_key):
                return False
            try:
                job = deserialize(raw)
            except ValueError:
                return False  # unreadable: the worker fails it without running it
            now = now_ms()
            result = serialize_result(
                job["f"], job["a"], job["k"], 0, job["et"], False, asyncio.CancelledError(),
                now, now, f"{job_id}:{job['f']}", self._queue, job_id, serializer=serialize,
            )  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.zrem(self._queue, job_id)
            pipe.delete(job_key, retry_key_prefix + job_id)
            pipe.zrem(abort_jobs_ss, job_id)
            # The pipeline records the `aborted` transition along with this result.
            pipe.set(result_key_prefix + job_id, result or b"", px=self._settings.result_ttl * 1000)
            try:
                await pipe.execute()
            except WatchError:
                return False  # a worker took it meanwhile
        return True

    @_unavailable_on_redis_errors
    async def retry(self, job_id: str) -> tuple[JobView, bool]:
        """Run a failed or aborted job again under a new id; returns the new job's view and
        whether it is new (a job is re-run once: asking again returns the same re-run)."""
        view = await self.get(job_id)
        if view.status not in RETRYABLE_STATUSES:
            raise JobConflict(f"job {job_id!r} is {view.status}; only failed or aborted jobs retry")
        outcome = await self._redis.enqueue_tracked(view.function, view.args, retry_of=job_id)
        if outcome.already_retried_as is not None:
            return await self.get(outcome.already_retried_as), False
        new = _new_view(outcome, view.function, view.args)
        new.retry_of = job_id
        return new, True

    @_unavailable_on_redis_errors
    async def retry_many(
        self, *, status: JobStatus, function: str | None, since: datetime | None, limit: int
    ) -> BulkRetry:
        """Re-run up to `limit` jobs with `status` (newest first), enqueued since `since`."""
        retried: list[str] = []
        already = 0
        cursor: str | None = None
        while len(retried) < limit:
            page = await read_page(
                self._redis, status=status, function=function, limit=100, cursor=cursor
            )
            for job in page.jobs:
                if since is not None and job.enqueue_time and job.enqueue_time < since:
                    return BulkRetry(retried, already)
                if job.retried_as:
                    already += 1
                    continue
                outcome = await self._redis.enqueue_tracked(
                    job.function, job.args, retry_of=job.job_id
                )
                if outcome.already_retried_as is not None:
                    already += 1
                else:
                    retried.append(outcome.job_id)
                if len(retried) >= limit:
                    break
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        return BulkRetry(retried, already)

    @_unavailable_on_redis_errors
    async def list_jobs(
        self, *, status: JobStatus | None, function: str | None, limit: int, cursor: str | None
    ) -> Page:
        return await read_page(
            self._redis, status=status, function=function, limit=limit, cursor=cursor
        )

    @_unavailable_on_redis_errors
    async def crons(self) -> list[CronInfo]:
        return await list_crons(self._redis, self._settings)

    @_unavailable_on_redis_errors
    async def run_cron(self, name: str) -> JobView:
        """Run a cron job now, unless a run of it is in progress (`JobConflict`)."""
        if find_cron(self._settings, name) is None:
            raise JobNotFound(f"no cron job named {name!r}")
        if await cron_is_running(self._redis, name):
            raise JobConflict(f"{name} is running; wait for it to finish")
        view, created = await self.enqueue(name, {}, EnqueueOptions(job_id=manual_run_id(name)))
        if not created:
            raise JobConflict(f"{name} was started a moment ago")
        return view

    @_unavailable_on_redis_errors
    async def queues(self, series_length: int) -> list[QueueReport]:
        return [await queue_report(self._redis, self._queue, series_length)]

    @_unavailable_on_redis_errors
    async def workers(self) -> list[WorkerInfo]:
        return await list_workers(self._redis, self._settings)

    @_unavailable_on_redis_errors
    async def metrics(self, api: ApiMetrics) -> bytes:
        return await render_metrics(self._redis, self._settings, api)

    async def job_events(self, job_id: str, after: str | None) -> AsyncIterator[Event]:
        """The job's past events (after `after`), then live ones until it ends."""
        stream = keys.job_events(job_id)
        async with _stream_guard():
            last = after or "0-0"
            for event in await past_events(self._redis, stream, after):
                last = event.id
                yield event
                if event.is_terminal:
                    return
            view = await read_job(self._redis, self._queue, job_id)
            if view is None or view.status.is_terminal:
                for event in await past_events(self._redis, stream, last):  # ended just now
                    yield event
                return
            async for event in follow(self._redis, stream, last):
                yield event
                if event.is_terminal:
                    return

    async def all_events(self, after: str | None) -> AsyncIterator[Event]:
        """Every job's events as they happen, after `after` (resume) or from now."""
        async with _stream_guard():
            start = after or await latest_event_id(self._redis, keys.EVENTS)
            async for event in follow(self._redis, keys.EVENTS, start):
                yield event


@asynccontextmanager
async def _stream_guard() -> AsyncIterator[None]:
    """An event stream that loses Redis ends; the client resumes with `Last-Event-ID`."""
    try:
        yield
    except (ConnectionError, TimeoutError, OSError) as exc:
        log.warning("events.stream_ended", error=repr(exc))


def _spec(function: str, args: dict[str, Any], options: EnqueueOptions) -> EnqueueSpec:
    kwargs = dict(args)
    if options.request_id:
        kwargs[REQUEST_ID_ARG] = options.request_id
    return EnqueueSpec(
        function,
        kwargs,
        job_id=options.job_id,
        defer_by=options.defer_by,
        defer_until=options.defer_until,
        expires=options.expires,
    )


def _new_view(outcome: EnqueueOutcome, function: str, args: dict[str, Any]) -> JobView:
    """The view of a job just enqueued, from what the enqueue wrote (no read needed)."""
    return JobView(
        job_id=outcome.job_id,
        function=function,
        args=args,
        status=public_status(WAITING, outcome.score, outcome.enqueue_ms),
        tries=0,
        enqueue_time=ms_to_datetime(outcome.enqueue_ms),
        scheduled_for=ms_to_datetime(outcome.score),
        start_time=None,
        finish_time=None,
    )
