"""Micro-batching: concurrent calls share one send, each gets its own result."""

import asyncio
from typing import Any

import pytest
from redis.asyncio.client import Pipeline

from jobqueue.store import enqueue as enqueue_module
from jobqueue.store.batching import MicroBatcher
from jobqueue.store.client import TrackedRedis
from jobqueue.store.enqueue import EnqueueSpec


class Recorder:
    """A `send` that doubles numbers, records its batches, and fails when told to."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.fail_next = False

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        await asyncio.sleep(0)  # a round trip
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("Redis went away")
        return [2 * item for item in items]


async def test_concurrent_calls_share_one_send() -> None:
    send = Recorder()
    batcher = MicroBatcher(send)
    assert await asyncio.gather(*(batcher.submit(n) for n in range(10))) == [
        2 * n for n in range(10)
    ]
    assert send.batches == [list(range(10))]


async def test_batches_hold_at_most_max_batch_calls_in_order() -> None:
    send = Recorder()
    batcher = MicroBatcher(send, max_batch=4)
    assert await asyncio.gather(*(batcher.submit(n) for n in range(10))) == [
        2 * n for n in range(10)
    ]
    assert send.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


async def test_a_batch_is_sent_while_an_earlier_one_is_in_flight() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    batches: list[list[int]] = []

    async def slow_send(items: list[int]) -> list[int]:
        batches.append(items)
        if items == [1]:
            started.set()
            await release.wait()  # the first batch's round trip does not end by itself
        return items

    batcher = MicroBatcher(slow_send)
    first = asyncio.create_task(batcher.submit(1))
    await started.wait()
    assert await batcher.submit(2) == 2  # not held up behind the first batch
    assert not first.done()
    release.set()
    assert await first == 1
    assert batches == [[1], [2]]


async def test_calls_made_while_a_batch_is_in_flight_form_the_next() -> None:
    send = Recorder()
    batcher = MicroBatcher(send)
    first = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0)  # the first batch is on its way
    later = [asyncio.create_task(batcher.submit(n)) for n in (2, 3)]
    assert await asyncio.gather(first, *later) == [2, 4, 6]
    assert send.batches == [[1], [2, 3]]
    assert await batcher.submit(4) == 8


async def test_a_failed_send_fails_its_batch_and_the_next_one_works() -> None:
    send = Recorder()
    send.fail_next = True
    batcher = MicroBatcher(send)
    outcomes = await asyncio.gather(*(batcher.submit(n) for n in range(3)), return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    assert await batcher.submit(5) == 10


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    batcher = MicroBatcher(Recorder())
    gone = asyncio.create_task(batcher.submit(1))
    kept = asyncio.create_task(batcher.submit(2))
    await asyncio.sleep(0)
    gone.cancel()
    assert await kept == 4
    assert gone.cancelled()


@pytest.fixture
async def sent(redis: TrackedRedis, monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    """The commands of every pipeline sent to Redis (the script already loaded)."""
    await redis.script_load(enqueue_module.ENQUEUE.text)
    batches: list[list[Any]] = []
    execute = Pipeline.execute

    async def recording(pipe: Pipeline, raise_on_error: bool = True) -> list[Any]:
        batches.append([command[0] for command, _ in pipe.command_stack])
        return await execute(pipe, raise_on_error)

    monkeypatch.setattr(Pipeline, "execute", recording)
    return batches


async def test_concurrent_enqueues_run_in_one_script_call(
    redis: TrackedRedis, sent: list[list[Any]]
) -> None:
    specs = [EnqueueSpec("echo", {"message": str(n)}) for n in range(5)]
    specs.append(EnqueueSpec("echo", {"message": "0"}, job_id="twice"))
    specs.append(EnqueueSpec("echo", {"message": "0"}, job_id="twice"))
    outcomes = await asyncio.gather(*(redis.enqueue_one(spec) for spec in specs))
    assert sent == [["EVALSHA"]]
    assert [o.created for o in outcomes] == [True] * 6 + [False]  # the repeat found the first
    assert await redis.zcard("arq:queue") == 6


async def test_a_large_batch_is_split_into_script_calls_in_order(
    redis: TrackedRedis, sent: list[list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(enqueue_module, "ENQUEUE_CHUNK", 3)
    specs = [EnqueueSpec("echo", {"message": str(n)}, job_id=f"j{n}") for n in range(7)]
    specs.append(EnqueueSpec("echo", {"message": "0"}, job_id="j0"))
    outcomes = await redis.enqueue_many(specs)
    assert sent == [["EVALSHA"] * 3]  # 3 + 3 + 2 jobs, pipelined
    assert [(o.job_id, o.created) for o in outcomes] == [
        *((f"j{n}", True) for n in range(7)),
        ("j0", False),
    ]


async def test_enqueues_work_after_redis_lost_its_scripts(redis: TrackedRedis) -> None:
    await redis.enqueue_one(EnqueueSpec("echo", {"message": "before"}))
    await redis.script_flush()  # as after a Redis restart: EVALSHA answers NOSCRIPT
    one = await redis.enqueue_one(EnqueueSpec("echo", {"message": "after"}))
    many = await redis.enqueue_many([EnqueueSpec("echo", {"message": "x"}) for _ in range(3)])
    assert one.created
    assert all(o.created for o in many)
    assert await redis.zcard("arq:queue") == 5
