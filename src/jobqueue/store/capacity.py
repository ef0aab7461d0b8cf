"""How full Redis and the queue are: what the API checks before it accepts work.

Reading it costs one round trip (INFO memory, ZCARD of the queue), so enqueues share a reading
for up to `FRESH_FOR_S`: a request sees its limits at most that late, and the hot path pays
nothing for it the rest of the time.
"""

import time
from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis
from redis.exceptions import ResponseError

from jobqueue.settings import Settings
from jobqueue.store import malformed
from jobqueue.store.outages import FULL_ERRORS, OUTAGE_ERRORS

FRESH_FOR_S = 1.0


@dataclass(frozen=True)
class Fill:
    used_memory: int
    maxmemory: int  # 0: no limit
    queued: int  # entries in the queue's sorted set (waiting and running jobs)

    @property
    def memory_fraction(self) -> float | None:
        return self.used_memory / self.maxmemory if self.maxmemory else None

    @property
    def full(self) -> bool:
        """Redis refuses writes (used memory at `maxmemory`, under `noeviction`)."""
        return bool(self.maxmemory) and self.used_memory >= self.maxmemory


async def read_fill(redis: ArqRedis, queue: str) -> Fill:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.info("memory")
        pipe.zcard(queue)
        memory, queued = await pipe.execute(raise_on_error=False)
    if isinstance(queued, ResponseError) and malformed.is_wrong_type(queued):
        malformed.warn(queue, "a key of the wrong type")  # (the enqueue script refuses jobs)
        queued = 0
    elif isinstance(queued, Exception):
        raise queued
    if isinstance(memory, ResponseError):  # INFO disabled (some managed Redis, fakeredis)
        memory = {}
    elif isinstance(memory, Exception):
        raise memory
    return Fill(int(memory.get("used_memory", 0)), int(memory.get("maxmemory", 0)), int(queued))


class Capacity:
    """Why the API should refuse new work now (`refusal`), from a recent reading."""

    def __init__(self, redis: ArqRedis, settings: Settings) -> None:
        self._redis = redis
        self._queue = settings.queue_name
        self._high_water = settings.redis_memory_high_water
        self._max_queued = settings.max_queued
        self._fill: Fill | None = None
        self._read_at = -FRESH_FOR_S

    async def fill(self, *, fresh: bool = False) -> Fill:
        if self._fill is None or fresh or time.monotonic() - self._read_at >= FRESH_FOR_S:
            self._fill = await read_fill(self._redis, self._queue)
            self._read_at = time.monotonic()
        return self._fill

    async def refusal(self) -> str | None:
        return self._judge(await self.fill())

    async def refusal_now(self) -> str | None:
        """From a reading taken now, kept for no one else (the recent one stays as it was)."""
        return self._judge(await read_fill(self._redis, self._queue))

    def _judge(self, fill: Fill) -> str | None:
        fraction = fill.memory_fraction
        if fill.full:
            return "Redis is out of memory (maxmemory reached)"
        if fraction is not None and fraction >= self._high_water:
            return (
                f"Redis memory is {fraction:.0%} of maxmemory, past the high-water mark "
                f"(JOBQUEUE_REDIS_MEMORY_HIGH_WATER={self._high_water:g})"
            )
        if fill.queued >= self._max_queued:
            return f"the queue holds {fill.queued} jobs, as many as JOBQUEUE_MAX_QUEUED allows"
        return None


async def config_risks(redis: ArqRedis) -> list[str]:
    """What in Redis's configuration can lose or refuse jobs silently (said at start-up)."""
    risks = []
    try:
        memory = await redis.info("memory")
    except ResponseError:  # INFO disabled: nothing to say
        return []
    policy = memory.get("maxmemory_policy", "noeviction")
    if policy != "noeviction":
        risks.append(f"maxmemory-policy is {policy}: Redis may evict jobs; use noeviction")
    persistence = await redis.info("persistence")
    try:
        save = (await redis.config_get("save")).get("save", "")
    except ResponseError:  # CONFIG is often disabled on managed Redis: nothing to say then
        save = "unknown"
    if not int(persistence.get("aof_enabled", 0)) and not save:
        risks.append("persistence is off (no AOF, no RDB saves): a Redis restart loses jobs")
    return risks


async def warn_of_config_risks(redis: ArqRedis, log: Any) -> None:
    """Log a warning for each of `config_risks` (start-up of either process); a Redis that
    cannot be reached yet is said elsewhere."""
    try:
        risks = await config_risks(redis)
    except (*OUTAGE_ERRORS, *FULL_ERRORS):
        return
    for risk in risks:
        log.warning("redis.config_risky", risk=risk)
