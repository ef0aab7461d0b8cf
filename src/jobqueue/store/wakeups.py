"""The queue's wake-up channel (`jobqueue:wake:{queue}`): the enqueue script publishes to it when
it adds a job that is due now, and the abort route when a running job must stop."""

from collections.abc import AsyncIterator

from arq.connections import ArqRedis

from jobqueue.store import keys

LISTEN_TIMEOUT_S = 1.0  # short reads: the pool's socket timeout applies to them too


async def wake_ups(redis: ArqRedis, queue: str) -> AsyncIterator[None]:
    """Yields on every publish to the queue's channel; ends with the connection's error."""
    async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
        await pubsub.subscribe(keys.wake_channel(queue))
        while True:
            if await pubsub.get_message(timeout=LISTEN_TIMEOUT_S) is not None:
                yield None
