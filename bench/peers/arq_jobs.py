"""The two workloads as arq job functions, and arq's enqueuer, for both arq columns."""

import asyncio
from typing import Any

from arq.connections import RedisSettings, create_pool

from bench.peers import REDIS_URL, SLEEP_SECONDS, concurrently


async def noop(ctx: dict[str, Any], message: str = "") -> dict[str, str]:
    return {"message": message}


async def sleep10(ctx: dict[str, Any], seconds: float = SLEEP_SECONDS) -> dict[str, float]:
    await asyncio.sleep(seconds)
    return {"slept": seconds}


async def enqueue(kind: str, count: int, **pool_options: Any) -> None:
    redis = await create_pool(RedisSettings.from_dsn(REDIS_URL), **pool_options)
    if kind == "noop":
        await concurrently(count, lambda: redis.enqueue_job("noop", message="x"))
    else:
        await concurrently(count, lambda: redis.enqueue_job("sleep10", seconds=SLEEP_SECONDS))
    await redis.aclose()
