"""Micro-batching: concurrent calls share one send, each gets its own result."""

import asyncio

from jobqueue.store.batching import MicroBatcher


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
