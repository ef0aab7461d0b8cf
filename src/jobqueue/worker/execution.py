"""Running one declared job inside arq: the wrapper arq calls for every try.

It fails a job whose runs have stalled too often, validates the stored args against the job's
model (bad args fail at once), binds the log context (job id, function, try, enqueuing request),
applies the retry policy, and returns the result as JSON-ready data. arq itself enforces the
job's timeout; the claim has recorded the start (`jobqueue.store.claim`).
"""

import asyncio
import time
from functools import partial
from typing import Any

import structlog
from arq import Retry
from arq.worker import Function, func
from pydantic import ValidationError

from jobqueue.access.secrets import cipher_for
from jobqueue.history.tracker import JobTracker
from jobqueue.jobs.context import JobContext
from jobqueue.jobs.declaration import JobDefinition
from jobqueue.jobs.retry import BackoffPolicy, RetryableError
from jobqueue.jobs.secret_args import unseal_kwargs
from jobqueue.serialization import error_dict
from jobqueue.settings import Settings
from jobqueue.store.arq_format import pop_request_id
from jobqueue.worker.heartbeat import WorkerStats
from jobqueue.worker.leases import Leases
from jobqueue.worker.swaps.shutdown import Lifecycle

log = structlog.get_logger("jobqueue.worker")

# A job still running this long after it started logs a `job.started` line; a shorter one
# logs one line: its end, with outcome and duration.
START_LOG_DELAY_S = 0.05


class InvalidJobArgs(Exception):
    """The stored args do not fit the job's model (enqueued around the API): never retried."""


class JobStalled(Exception):
    """The job's runs ended with their worker dying (or losing its lease) more often than
    `worker_stall_limit` allows: it is failed rather than run again. Never retried."""


def as_arq_function(definition: JobDefinition, settings: Settings) -> Function:
    async def run(ctx: dict[str, Any], **kwargs: Any) -> Any:
        return await execute(definition, ctx, kwargs)

    run.__qualname__ = definition.name
    return func(
        run,
        name=definition.name,
        timeout=definition.timeout,
        max_tries=definition.max_tries,
        keep_result=settings.result_ttl,
    )


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


async def execute(definition: JobDefinition, ctx: dict[str, Any], kwargs: dict[str, Any]) -> Any:
    settings: Settings = ctx["settings"]
    job_try: int = ctx["job_try"]
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        job_id=ctx["job_id"],
        function=definition.name,
        job_try=job_try,
        request_id=pop_request_id(kwargs),
    )
    stats: WorkerStats = ctx["stats"]
    started = time.perf_counter()
    log_start = asyncio.get_running_loop().call_later(
        START_LOG_DELAY_S, partial(log.info, "job.started", max_tries=definition.max_tries)
    )
    stats.running += 1
    try:
        return await _run(definition, ctx, kwargs, settings, started)
    finally:
        stats.running -= 1
        log_start.cancel()


async def _run(
    definition: JobDefinition,
    ctx: dict[str, Any],
    kwargs: dict[str, Any],
    settings: Settings,
    started: float,
) -> Any:
    stats: WorkerStats = ctx["stats"]
    try:
        _check_stalls(ctx, settings)
        args = _validated(definition, kwargs, settings)
        result = await definition.func(_job_context(definition, ctx), args)  # arq times it out
    except RetryableError as exc:
        if ctx["job_try"] >= definition.max_tries:
            _log_failure(exc, started, stats)
            raise
        raise await _retry_later(definition, ctx, exc, started) from exc
    except asyncio.CancelledError:
        # arq cancels the job on its timeout (then stores a TimeoutError), an abort, or the
        # worker shutting down (then runs the job again: here, as the same try).
        if time.perf_counter() - started >= definition.timeout:
            stats.failed += 1
            log.error("job.failed", outcome="timed_out", duration_ms=_elapsed_ms(started))
        elif _stopping(ctx):
            log.info("job.interrupted", outcome="interrupted", duration_ms=_elapsed_ms(started))
            await _put_back(ctx)
        else:
            log.info("job.cancelled", outcome="cancelled", duration_ms=_elapsed_ms(started))
        raise
    except Exception as exc:
        _log_failure(exc, started, stats)
        raise
    stats.completed += 1
    log.info("job.succeeded", outcome="succeeded", duration_ms=_elapsed_ms(started))
    return None if result is None else result.model_dump(mode="json")


def _stopping(ctx: dict[str, Any]) -> bool:
    lifecycle: Lifecycle | None = ctx.get("lifecycle")
    return lifecycle is not None and lifecycle.stopping


async def _put_back(ctx: dict[str, Any]) -> None:
    """Record the interruption and give the try back, within the Redis timeout (with Redis down
    the job's lease recovers it all the same)."""
    tracker: JobTracker = ctx["tracker"]
    settings: Settings = ctx["settings"]
    try:
        async with asyncio.timeout(settings.redis_timeout):
            await tracker.interrupted(
                ctx["redis"], ctx["job_id"], ctx["job_try"], worker=_worker_id(ctx)
            )
    except Exception as exc:
        log.warning("job.interruption_unrecorded", error=repr(exc))


def _worker_id(ctx: dict[str, Any]) -> str:
    """This worker's id, as its leases hold it ("" outside a worker)."""
    leases: Leases | None = ctx.get("leases")
    return leases.owner if leases is not None else ""


def _check_stalls(ctx: dict[str, Any], settings: Settings) -> None:
    leases: Leases | None = ctx.get("leases")
    stalls = leases.stalls(ctx["job_id"]) if leases is not None else 0
    if stalls > settings.worker_stall_limit:
        raise JobStalled(
            f"its worker stopped while running it {stalls} times "
            f"(JOBQUEUE_WORKER_STALL_LIMIT is {settings.worker_stall_limit})"
        )


def _validated(definition: JobDefinition, kwargs: dict[str, Any], settings: Settings) -> Any:
    """The job's args model, its secrets unsealed first (a secret no key decrypts fails the
    job at once with `SecretUnreadable`: no try could read it)."""
    kwargs = unseal_kwargs(definition.args_model, kwargs, cipher_for(settings))
    try:
        return definition.validate_args(kwargs, settings)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'args'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidJobArgs(problems) from None


def _job_context(definition: JobDefinition, ctx: dict[str, Any]) -> JobContext:
    return JobContext(
        job_id=ctx["job_id"],
        job_try=ctx["job_try"],
        max_tries=definition.max_tries,
        settings=ctx["settings"],
        redis=ctx["redis"],
        http=ctx["http"],
        tracker=ctx["tracker"],
    )


async def _retry_later(
    definition: JobDefinition, ctx: dict[str, Any], exc: RetryableError, started: float
) -> Retry:
    """Record and log the retry with its backoff; arq's `Retry` to raise for it."""
    settings: Settings = ctx["settings"]
    policy = BackoffPolicy(settings.retry_base_delay, settings.retry_max_delay)
    delay = policy.delay(ctx["job_try"], exc.retry_after)
    log.warning(
        "job.retrying",
        outcome="retrying",
        duration_ms=_elapsed_ms(started),
        retry_in_s=round(delay, 3),
        error_type=type(exc).__name__,
        error=str(exc),
    )
    ctx["stats"].retried += 1
    tracker: JobTracker = ctx["tracker"]
    await tracker.retry_scheduled(
        ctx["redis"],
        ctx["job_id"],
        definition.name,
        ctx["job_try"],
        delay,
        error_dict(exc),
        worker=_worker_id(ctx),
    )
    return Retry(defer=delay)


def _log_failure(exc: Exception, started: float, stats: WorkerStats) -> None:
    stats.failed += 1
    log.error(
        "job.failed",
        outcome="failed",
        duration_ms=_elapsed_ms(started),
        error_type=type(exc).__name__,
        error=str(exc),
    )
