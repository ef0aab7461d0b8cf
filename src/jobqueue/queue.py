"""`JobQueue`: the facade over arq's Redis keys. The only code that reads or writes them.

It maps arq's `deferred/queued/in_progress/complete/not_found` (plus the stored outcome) to the
public `JobStatus`, and raises domain errors: `JobNotFound`, `JobConflict`, `QueueUnavailable`.
"""

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from arq.connections import ArqRedis
from arq.constants import (
    abort_jobs_ss,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from arq.jobs import serialize_result
from redis.exceptions import ConnectionError, TimeoutError, WatchError

from jobqueue.errors import JobConflict, JobNotFound, QueueUnavailable
from jobqueue.serialization import ABORTED_ERROR_TYPE, deserialize, serialize
from jobqueue.settings import Settings
from jobqueue.views import JobError, JobStatus, JobView

# Reserved keyword argument carrying the enqueuing request's id to the worker's logs. Pydantic
# field names cannot start with "_", so it can never clash with a job's own arguments.
REQUEST_ID_ARG = "_request_id"
UNKNOWN_FUNCTION = "<unknown>"
WAIT_POLL_SECONDS = 0.05

P = ParamSpec("P")
R = TypeVar("R")


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


def _ms_to_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _public_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k != REQUEST_ID_ARG}


def _unreadable(what: str) -> JobError:
    return JobError(type="DeserializationError", message=f"{what} is not valid JSON")


class JobQueue:
    def __init__(self, redis: ArqRedis, settings: Settings) -> None:
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
        kwargs = dict(args)
        if options.request_id:
            kwargs[REQUEST_ID_ARG] = options.request_id
        for _ in range(2):  # a second pass only if the existing job vanished meanwhile
            job = await self._redis.enqueue_job(
                function,
                _job_id=options.job_id,
                _defer_by=options.defer_by,
                _defer_until=options.defer_until,
                _expires=options.expires,
                **kwargs,
            )
            if job is not None:
                view = await self._fetch(job.job_id)
                if view is not None:
                    return view, True
                raise JobNotFound(f"job {job.job_id!r} vanished right after it was enqueued")
            assert options.job_id is not None  # arq only refuses a job with a given id
            existing = await self._fetch(options.job_id)
            if existing is None:
                continue
            if existing.function != function or existing.args != args:
                raise JobConflict(
                    f"job_id {options.job_id!r} is already used by a job with a different "
                    "function or args"
                )
            return existing, False
        raise JobConflict(f"job_id {options.job_id!r} is being enqueued concurrently; retry")

    @_unavailable_on_redis_errors
    async def get(self, job_id: str) -> JobView:
        view = await self._fetch(job_id)
        if view is None:
            raise JobNotFound(f"job {job_id!r} not found (unknown, or its result has expired)")
        return view

    async def wait(self, job_id: str, timeout: float) -> JobView:
        """The job's view once terminal, or its current view after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            view = await self.get(job_id)
            remaining = deadline - time.monotonic()
            if view.status.is_terminal or remaining <= 0:
                return view
            await asyncio.sleep(min(WAIT_POLL_SECONDS, remaining))

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
            await self._redis.zadd(abort_jobs_ss, {job_id: _now_ms()})
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
            now = _now_ms()
            result = serialize_result(
                job["f"], job["a"], job["k"], job.get("t") or 0, job["et"], False,
                asyncio.CancelledError(), now, now, f"{job_id}:{job['f']}", self._queue,
                job_id, serializer=serialize,
            )  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.zrem(self._queue, job_id)
            pipe.delete(job_key, retry_key_prefix + job_id)
            pipe.zrem(abort_jobs_ss, job_id)
            pipe.set(result_key_prefix + job_id, result or b"", px=self._settings.result_ttl * 1000)
            try:
                await pipe.execute()
            except WatchError:
                return False  # a worker took it meanwhile
        return True

    async def _fetch(self, job_id: str) -> JobView | None:
        """Read everything arq keeps about a job in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(result_key_prefix + job_id)
            pipe.get(job_key_prefix + job_id)
            pipe.zscore(self._queue, job_id)
            pipe.exists(in_progress_key_prefix + job_id)
            pipe.get(retry_key_prefix + job_id)
            raw_result, raw_job, score, in_progress, tries = await pipe.execute()
        if raw_result is not None:
            return self._finished_view(job_id, raw_result)
        if raw_job is None and score is None:
            return None
        if in_progress:
            status = JobStatus.in_progress
        elif score is not None and score > _now_ms():
            status = JobStatus.deferred
        else:
            status = JobStatus.queued
        view = JobView(
            job_id=job_id,
            function=UNKNOWN_FUNCTION,
            args={},
            status=status,
            tries=int(tries or 0),
            enqueue_time=None,
            scheduled_for=_ms_to_datetime(None if score is None else int(score)),
            start_time=None,
            finish_time=None,
        )
        try:
            job = deserialize(raw_job) if raw_job is not None else None
        except ValueError:
            view.error = _unreadable("the job's data")
            return view
        if job is not None:
            view.function = job["f"]
            view.args = _public_args(job["k"])
            view.enqueue_time = _ms_to_datetime(job["et"])
        return view

    def _finished_view(self, job_id: str, raw_result: bytes) -> JobView:
        try:
            data = deserialize(raw_result)
        except ValueError:
            return JobView(
                job_id=job_id, function=UNKNOWN_FUNCTION, args={}, status=JobStatus.failed,
                tries=0, enqueue_time=None, scheduled_for=None, start_time=None,
                finish_time=None, error=_unreadable("the job's result"),
            )  # fmt: skip
        outcome = data["r"]
        error: JobError | None = None
        if data["s"]:
            status = JobStatus.succeeded
        else:
            error = (
                JobError.model_validate(outcome)
                if isinstance(outcome, dict)
                else JobError(type="JobExecutionFailed", message=str(outcome))
            )
            aborted = error.type == ABORTED_ERROR_TYPE
            status = JobStatus.aborted if aborted else JobStatus.failed
        return JobView(
            job_id=job_id,
            function=data["f"],
            args=_public_args(data["k"]),
            status=status,
            tries=data["t"],
            enqueue_time=_ms_to_datetime(data["et"]),
            scheduled_for=None,
            # A job aborted before it started has no real start time.
            start_time=_ms_to_datetime(data["st"]) if data["t"] else None,
            finish_time=_ms_to_datetime(data["ft"]),
            result=outcome if data["s"] else None,
            error=error,
        )
