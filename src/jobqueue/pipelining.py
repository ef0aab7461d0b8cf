"""Auto-pipelining: commands issued concurrently travel to Redis together.

Under load many requests enqueue at the same moment, each paying a full round trip through
redis-py (connection checkout, a write, a read, each with its own syscalls and event-loop
steps). `AutoPipeline` queues them instead and sends whatever is queued as one pipeline (not a
transaction): one write and one read for the lot, each caller getting its own reply or error.
One batch is in flight at a time; commands issued meanwhile form the next one. A command issued
alone waits one event-loop step. (ioredis and Lettuce offer the same; redis-py does not.)
"""

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

_Pending = list[tuple[tuple[Any, ...], asyncio.Future[Any]]]


class AutoPipeline:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._pending: _Pending = []
        self._sender: asyncio.Task[None] | None = None

    async def execute(self, *command: Any) -> Any:
        """Run `command` (as `Redis.execute_command` would) in the next batch."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((command, future))
        sender = self._sender
        if sender is None or sender.get_loop() is not loop:  # (a loop closed under it: tests)
            self._sender = loop.create_task(self._send())
        return await future

    async def _send(self) -> None:
        batch: _Pending = []
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._send_batch(batch)
        except BaseException as exc:  # cancelled (shutting down): nothing more will be sent
            for _, future in batch + self._pending:
                if not future.done():
                    future.set_exception(exc)
            self._pending = []
            raise
        finally:
            self._sender = None

    async def _send_batch(self, batch: _Pending) -> None:
        redis = self._redis
        try:
            pipe = Pipeline(redis.connection_pool, redis.response_callbacks, False, None)
            async with pipe:
                for command, _ in batch:
                    pipe.execute_command(*command)
                replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # the connection failed: every command in the batch did
            replies = [exc] * len(batch)
        for (_, future), reply in zip(batch, replies, strict=True):
            if future.done():  # its caller gave up (cancelled)
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)
