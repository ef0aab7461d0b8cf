"""What arq leaves behind and never cleans, found and removed by the `cron:sweep` job.

Each check-and-remove runs as a Lua script, so it cannot race a worker starting the same job.
"""

from arq.connections import ArqRedis
from arq.constants import abort_job_max_age

from jobqueue.store import keys
from jobqueue.store.scripts import LuaScript

SWEEP_ABORTS = LuaScript("sweep_aborts")
SWEEP_ORPHANS = LuaScript("sweep_orphans")
SWEEP_BATCH = 500


async def remove_stale_aborts(redis: ArqRedis, queue: str, *, now_ms: int) -> int:
    """Abort requests older than arq's own limit for jobs neither queued nor running."""
    cutoff_ms = now_ms - abort_job_max_age * 1000
    removed_total = 0
    while True:
        removed: int
        seen: int
        removed, seen = await SWEEP_ABORTS.run(
            redis, [keys.ABORTS, queue], [keys.in_progress(""), cutoff_ms, SWEEP_BATCH]
        )
        removed_total += removed
        if seen < SWEEP_BATCH or removed == 0:
            return removed_total


async def remove_expired_entries(redis: ArqRedis, queue: str) -> list[str]:
    """Queue entries whose job data has expired (and no worker holds); their ids."""
    removed: list[bytes] = []
    batch: list[bytes] = []
    async for job_id, _ in redis.zscan_iter(queue, count=SWEEP_BATCH):
        batch.append(job_id)
        if len(batch) >= SWEEP_BATCH:
            removed += await _remove_orphans(redis, queue, batch)
            batch = []
    if batch:
        removed += await _remove_orphans(redis, queue, batch)
    return [job_id.decode() for job_id in removed]


async def _remove_orphans(redis: ArqRedis, queue: str, batch: list[bytes]) -> list[bytes]:
    removed: list[bytes] = await SWEEP_ORPHANS.run(
        redis, [queue], [keys.job(""), keys.in_progress(""), *batch]
    )
    return removed
