"""transition.lua checks every argument before its first write, never writes to a finished
job's record nor for a worker that lost the job's lease, and gives a try back (or counts a
retry) only with a write it applies."""

from dataclasses import replace

import pytest
from redis.exceptions import ResponseError

from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from jobqueue.store.transitions import TRANSITION, Transition, TransitionWriter


async def record_and_events(redis: TrackedRedis, job_id: str) -> tuple[dict[bytes, bytes], int]:
    return await redis.hgetall(keys.record(job_id)), await redis.xlen(keys.EVENTS)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("position", "value"),
    # the TTL, the length, the prefix, the counts and fields JSON, the finished stream's TTL, N
    [
        (2, "0"),
        (2, "5.0"),  # (Redis takes only digits: a script would fail after its first write)
        (3, "-1"),
        (3, "1e5"),
        (4, ""),
        (5, "[1,"),
        (5, '{"label": "echo|complete"}'),
        (5, '{"bucket_key": "b", "bucket_ttl": 1.5, "finished_key": "f", "label": "l"}'),
        (
            5,
            '{"bucket_key": "b", "bucket_ttl": 1, "finished_key": "f", "label": "l", '
            '"tenant_bucket_key": 7}',
        ),
        (6, "not json"),
        (6, '{"tries": 1}'),
        (7, "0"),
        (8, "3"),
    ],
)
async def test_a_bad_argument_is_refused_before_anything_is_written(
    redis: TrackedRedis, position: int, value: str
) -> None:
    await redis.enqueue_job("echo", _job_id="t1", message="hi")
    before = await record_and_events(redis, "t1")
    transition = Transition("in_progress", [("started", b"{}")], {"tries": "1"})
    async with redis.pipeline(transaction=True) as pipe:
        TransitionWriter(Settings()).add(pipe, "t1", transition)
        command = list(pipe.command_stack[0][0])
        pipe.command_stack.clear()
        command[3 + 6 + position] = value  # EVALSHA sha 6 KEYS..., then ARGV from 1
        pipe.execute_command(*command)
        [reply] = await pipe.execute(raise_on_error=False)
    assert isinstance(reply, ResponseError)
    assert await record_and_events(redis, "t1") == before
    assert TRANSITION.sha == command[1]


async def test_a_finished_jobs_record_takes_no_more_writes(redis: TrackedRedis) -> None:
    await redis.enqueue_job("echo", _job_id="t2", message="hi")
    writer = TransitionWriter(Settings())
    await writer.write(redis, "t2", Transition("succeeded", [("completed", b"{}")], {"tries": "1"}))
    after_end = await record_and_events(redis, "t2")
    await redis.set(keys.retry("t2"), 1)

    await writer.write(redis, "t2", Transition("", [("progress", b"{}")], {"progress": "{}"}))
    await writer.write(redis, "t2", Transition("failed", [("failed", b"{}")], {"tries": "2"}))
    await writer.write(
        redis, "t2", Transition("waiting", [("interrupted", b"{}")], give_back_try=True)
    )

    assert await record_and_events(redis, "t2") == after_end
    assert await redis.get(keys.retry("t2")) == b"1"  # (a dropped interruption gives nothing)


@pytest.mark.parametrize(
    ("tries_before", "tries_after"), [(b"2", b"1"), (b"0", b"0"), (None, None)]
)
async def test_an_interruption_gives_its_try_back_only_if_one_was_counted(
    redis: TrackedRedis, tries_before: bytes | None, tries_after: bytes | None
) -> None:
    await redis.enqueue_job("echo", _job_id="t3", message="hi")
    if tries_before is not None:
        await redis.set(keys.retry("t3"), tries_before)
    interrupted = Transition("waiting", [("interrupted", b"{}")], give_back_try=True)
    await TransitionWriter(Settings()).write(redis, "t3", interrupted)
    assert await redis.get(keys.retry("t3")) == tries_after
    assert (await redis.hget(keys.record("t3"), "status")) == b"waiting"  # type: ignore[misc]


async def test_a_late_retry_of_a_finished_job_is_not_counted(redis: TrackedRedis) -> None:
    await redis.enqueue_job("echo", _job_id="t4", message="hi")
    writer = TransitionWriter(Settings())
    await writer.write(redis, "t4", Transition("succeeded", [("completed", b"{}")]))
    retry = Transition("waiting", [("retry_scheduled", b"{}")], retried_function="echo")
    await writer.write(redis, "t4", retry)
    assert await redis.hgetall(keys.METRICS_RETRIED) == {}  # type: ignore[misc]


@pytest.mark.parametrize(("holder", "applied"), [("w1", True), (None, True), ("w2", False)])
async def test_a_write_from_a_worker_that_lost_the_lease_is_dropped(
    redis: TrackedRedis, holder: str | None, applied: bool
) -> None:
    await redis.enqueue_job("echo", _job_id="t5", message="hi")
    await redis.set(keys.retry("t5"), 1)
    if holder is not None:
        await redis.set(keys.in_progress("t5"), holder)
    writer = TransitionWriter(Settings())
    retry = Transition(
        "waiting", [("retry_scheduled", b"{}")], {"tries": "1"}, retried_function="echo"
    )
    await writer.write(redis, "t5", replace(retry, held_by="w1"))
    interrupted = Transition("waiting", [("interrupted", b"{}")], {"tries": "0"})
    await writer.write(redis, "t5", replace(interrupted, give_back_try=True, held_by="w1"))
    retried = await redis.hgetall(keys.METRICS_RETRIED)  # type: ignore[misc]
    assert retried == ({b"echo": b"1"} if applied else {})
    assert await redis.get(keys.retry("t5")) == (b"0" if applied else b"1")
    events = await redis.xlen(keys.job_events("t5"))
    assert events == (3 if applied else 1)


@pytest.mark.parametrize(
    "key",
    [keys.EVENTS, keys.job_events("t9"), keys.index(status="succeeded"), keys.METRICS_FINISHED],
    ids=["events", "job-events", "an-index", "a-counter"],
)
async def test_a_key_of_the_wrong_type_fails_alone_not_the_transition(
    redis: TrackedRedis, key: str
) -> None:
    await redis.enqueue_job("echo", _job_id="t9", message="hi")
    await redis.delete(key)
    await redis.set(key, "planted")
    writer = TransitionWriter(Settings())
    await writer.write(redis, "t9", Transition("succeeded", [("succeeded", b"{}")], {"tries": "1"}))
    record = await redis.hgetall(keys.record("t9"))  # type: ignore[misc]
    assert record[b"status"] == b"succeeded"
    assert await redis.get(key) == b"planted"  # (left alone)
