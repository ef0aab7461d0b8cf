"""transition.lua checks every argument before its first write."""

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
    # the TTL, the length, the counts and fields JSON, the finished stream's TTL, N
    [(2, "0"), (3, "-1"), (5, "[1,"), (6, "not json"), (7, "0"), (8, "3")],
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
        command[3 + 3 + position] = value  # EVALSHA sha 3 KEYS..., then ARGV from 1
        pipe.execute_command(*command)
        [reply] = await pipe.execute(raise_on_error=False)
    assert isinstance(reply, ResponseError)
    assert await record_and_events(redis, "t1") == before
    assert TRANSITION.sha == command[1]
