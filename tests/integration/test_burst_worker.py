"""Retry and deferral semantics, run by an in-process arq worker in burst mode (arq's own test
pattern) on a real redis-server, with the service's swaps installed for each test only."""

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.worker import Worker
from pydantic import BaseModel

from jobqueue.history.tracker import JobTracker
from jobqueue.history.view import JobView
from jobqueue.jobs import JobContext, RetryableError, job
from jobqueue.jobs.declaration import JobRegistry
from jobqueue.queue import EnqueueOptions, JobQueue
from jobqueue.serialization import deserialize, serialize
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis
from jobqueue.store.connection import create_redis
from jobqueue.worker import swaps
from jobqueue.worker.lifecycle import arq_functions, shutdown, startup
from jobqueue.worker.swaps.wakeup import WakeUp
from tests.helpers.services import Stack

tries_seen: dict[str, list[int]] = {}


class Args(BaseModel):
    key: str


class Done(BaseModel):
    tries: int


class Transient(RetryableError):
    pass


class Permanent(Exception):
    pass


@job(max_tries=3, timeout=5)
async def flaky_once(ctx: JobContext, args: Args) -> Done:
    """Fails its first try with a transient error."""
    tries_seen.setdefault(args.key, []).append(ctx.job_try)
    if ctx.job_try == 1:
        raise Transient("try again")
    return Done(tries=ctx.job_try)


@job(max_tries=3, timeout=5)
async def always_transient(ctx: JobContext, args: Args) -> Done:
    tries_seen.setdefault(args.key, []).append(ctx.job_try)
    raise Transient(f"still down at try {ctx.job_try}")


@job(max_tries=3, timeout=5)
async def permanent(ctx: JobContext, args: Args) -> Done:
    tries_seen.setdefault(args.key, []).append(ctx.job_try)
    raise Permanent("bad input")


@job(timeout=5)
async def punctual(ctx: JobContext, args: Args) -> Done:
    return Done(tries=ctx.job_try)


REGISTRY = JobRegistry([flaky_once, always_transient, permanent, punctual])


@pytest.fixture
def settings(stack: Stack) -> Settings:
    return Settings(
        redis_url=stack.redis.url,
        queue_name=f"arq:burst-{uuid.uuid4().hex[:8]}",  # the stack's worker never sees it
        retry_base_delay=0.05,
        retry_max_delay=0.2,
        worker_poll_delay=0.02,
        log_format="json",
    )


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[TrackedRedis]:
    client = create_redis(settings, JobTracker(settings))
    yield client
    await client.aclose()


async def run_burst(settings: Settings) -> Worker:
    """Run the queue's jobs to the end with arq's Worker, configured like worker_settings.py's
    `WorkerSettings` (a copy: importing that module would install the swaps for the whole test
    run), the swaps installed for this run only."""
    wakeup = WakeUp()
    worker = Worker(
        functions=arq_functions(REGISTRY, settings),
        queue_name=settings.queue_name,
        redis_pool=create_redis(settings, JobTracker(settings), ride_out_outages=True),
        burst=True,
        handle_signals=False,
        job_serializer=serialize,
        job_deserializer=deserialize,
        ctx={"settings": settings, "wakeup": wakeup},
        on_startup=startup,
        on_shutdown=shutdown,
        max_jobs=settings.worker_max_jobs,
        poll_delay=settings.worker_poll_delay,
        keep_result=settings.result_ttl,
        allow_abort_jobs=True,
    )
    with swaps.installed(wakeup):
        try:
            await worker.main()
        finally:
            await worker.close()
    return worker


async def enqueue(
    redis: TrackedRedis, settings: Settings, function: str, **options: Any
) -> tuple[JobQueue, str]:
    queue = JobQueue(redis, settings)
    key = uuid.uuid4().hex
    view, _ = await queue.enqueue(function, {"key": key}, EnqueueOptions(**options))
    return queue, view.job_id


async def events_of(queue: JobQueue, job_id: str) -> list[dict[str, Any]]:
    found = []
    async for batch in queue.job_events(job_id, None):
        found += [event.data for event in batch]
    await queue.fanout.aclose()  # (the event reader it started)
    return found


def key_of(view: JobView) -> str:
    return str(view.args["key"])


@pytest.mark.usefixtures("process_state_restored")
async def test_a_transient_failure_is_retried_with_backoff_then_succeeds(
    redis: TrackedRedis, settings: Settings
) -> None:
    queue, job_id = await enqueue(redis, settings, "flaky_once")
    await run_burst(settings)
    view = await queue.get(job_id)
    assert (view.status, view.tries, view.result) == ("succeeded", 2, {"tries": 2})
    assert tries_seen[key_of(view)] == [1, 2]
    events = await events_of(queue, job_id)
    assert [e["type"] for e in events] == [
        "enqueued",
        "started",
        "retry_scheduled",
        "started",
        "succeeded",
    ]
    retry = events[2]
    assert 0.025 <= retry["delay_s"] <= 0.05  # the first retry: base delay, equal jitter
    assert retry["error"] == {"type": "Transient", "message": "try again"}


@pytest.mark.usefixtures("process_state_restored")
async def test_tries_run_out_and_the_last_error_is_the_jobs_error(
    redis: TrackedRedis, settings: Settings
) -> None:
    queue, job_id = await enqueue(redis, settings, "always_transient")
    await run_burst(settings)
    view = await queue.get(job_id)
    assert (view.status, view.tries) == ("failed", 3)
    assert view.error is not None
    assert (view.error.type, view.error.message) == ("Transient", "still down at try 3")
    assert tries_seen[key_of(view)] == [1, 2, 3]
    types = [e["type"] for e in await events_of(queue, job_id)]
    assert types.count("retry_scheduled") == 2
    assert types[-1] == "failed"


@pytest.mark.usefixtures("process_state_restored")
async def test_a_permanent_failure_is_not_retried(redis: TrackedRedis, settings: Settings) -> None:
    queue, job_id = await enqueue(redis, settings, "permanent")
    await run_burst(settings)
    view = await queue.get(job_id)
    assert (view.status, view.tries) == ("failed", 1)
    assert view.error is not None
    assert view.error.type == "Permanent"
    assert tries_seen[key_of(view)] == [1]


@pytest.mark.usefixtures("process_state_restored")
async def test_a_deferred_job_starts_no_earlier_than_asked(
    redis: TrackedRedis, settings: Settings
) -> None:
    queue, job_id = await enqueue(redis, settings, "punctual", defer_by=0.3)
    assert (await queue.get(job_id)).status == "deferred"
    started = time.monotonic()
    await run_burst(settings)
    assert time.monotonic() - started >= 0.25  # the burst waited for it to fall due
    view = await queue.get(job_id)
    assert view.status == "succeeded"
    assert view.start_time is not None
    assert view.enqueue_time is not None
    assert (view.start_time - view.enqueue_time).total_seconds() >= 0.3


@pytest.mark.usefixtures("process_state_restored")
async def test_the_swaps_are_installed_for_the_run_only(settings: Settings) -> None:
    import arq.worker

    original_start_jobs, original_poll = Worker.start_jobs, arq.worker.poll  # type: ignore[attr-defined]
    await run_burst(settings)
    assert Worker.start_jobs is original_start_jobs
    assert arq.worker.poll is original_poll  # type: ignore[attr-defined]
