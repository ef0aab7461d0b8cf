"""Micro-batching: calls made concurrently are sent to Redis together.

Under load many requests enqueue at the same moment. Sent one by one, each pays a full round
trip through redis-py: a connection checkout, a write, a read, each with its own syscalls and
event-loop steps. `MicroBatcher` queues them instead and hands whatever is queued to one `send`
call, which writes them all in one command. Each caller gets its own result, or the error if
`send` fails. One batch is in flight at a time, and calls made meanwhile form the next one. A
call made alone waits one event-loop step. (ioredis and Lettuce call the command-level version
of this auto-pipelining; redis-py has none.)
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    def __init__(self, send: Callable[[list[T]], Awaitable[list[R]]]) -> None:
        self._send_batch = send  # one result per item, in order
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """`item`'s result, sent with whatever else is submitted meanwhile."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        sender = self._sender
        if sender is None or sender.get_loop() is not loop:  # (a loop closed under it: tests)
            self._sender = loop.create_task(self._send())
        return await future

    async def _send(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._send_one_batch(batch)
        except BaseException as exc:  # cancelled (shutting down): nothing more will be sent
            for _, future in batch + self._pending:
                if not future.done():
                    future.set_exception(exc)
            self._pending = []
            raise
        finally:
            self._sender = None

    async def _send_one_batch(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._send_batch([item for item, _ in batch])
        except Exception as exc:  # Redis failed: every call in the batch did
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # its caller may have given up (cancelled)
                future.set_result(result)
