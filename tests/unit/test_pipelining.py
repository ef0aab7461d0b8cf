"""Auto-pipelining: concurrent commands share a round trip, each gets its own reply."""

import asyncio
from typing import Any

import pytest
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from jobqueue.client import TrackedRedis
from jobqueue.pipelining import AutoPipeline


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every pipeline sent."""
    sizes: list[int] = []
    send = Pipeline.execute

    async def execute(pipe: Pipeline, raise_on_error: bool = True) -> list[Any]:
        sizes.append(len(pipe.command_stack))
        return await send(pipe, raise_on_error)

    monkeypatch.setattr(Pipeline, "execute", execute)
    return sizes


async def test_concurrent_commands_travel_in_one_pipeline(
    redis: TrackedRedis, batches: list[int]
) -> None:
    pipelined = AutoPipeline(redis)
    replies = await asyncio.gather(*(pipelined.execute("INCR", "n") for _ in range(20)))
    assert sorted(replies) == list(range(1, 21))
    assert batches == [20]


async def test_each_caller_gets_its_own_error(redis: TrackedRedis, batches: list[int]) -> None:
    await redis.set("text", "x")
    pipelined = AutoPipeline(redis)
    outcomes: tuple[Any, ...] = await asyncio.gather(
        pipelined.execute("INCR", "n"), pipelined.execute("INCR", "text"), return_exceptions=True
    )
    assert outcomes[0] == 1
    assert isinstance(outcomes[1], ResponseError)


async def test_commands_issued_while_a_batch_is_in_flight_form_the_next(
    redis: TrackedRedis, batches: list[int]
) -> None:
    pipelined = AutoPipeline(redis)
    first = asyncio.create_task(pipelined.execute("INCR", "n"))
    await asyncio.sleep(0)  # the first batch is on its way
    later = [asyncio.create_task(pipelined.execute("INCR", "n")) for _ in range(5)]
    await asyncio.gather(first, *later)
    assert batches == [1, 5]
    assert await pipelined.execute("GET", "n") == b"6"  # and the sender starts again


async def test_a_failed_connection_fails_the_whole_batch_and_the_next_one_works(
    redis: TrackedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    send = Pipeline.execute
    calls = 0

    async def flaky(pipe: Pipeline, raise_on_error: bool = True) -> list[Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RedisConnectionError("Redis went away")
        return await send(pipe, raise_on_error)

    monkeypatch.setattr(Pipeline, "execute", flaky)
    pipelined = AutoPipeline(redis)
    outcomes = await asyncio.gather(
        *(pipelined.execute("INCR", "n") for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(o, RedisConnectionError) for o in outcomes)
    assert await pipelined.execute("INCR", "n") == 1  # healed: nothing of the failed batch ran


async def test_a_cancelled_caller_does_not_disturb_the_others(redis: TrackedRedis) -> None:
    pipelined = AutoPipeline(redis)
    gone = asyncio.create_task(pipelined.execute("INCR", "n"))
    kept = asyncio.create_task(pipelined.execute("INCR", "n"))
    await asyncio.sleep(0)
    gone.cancel()
    assert await kept in (1, 2)
    assert gone.cancelled()
