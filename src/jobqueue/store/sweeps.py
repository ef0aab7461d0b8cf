"""What arq leaves behind and never cleans, found and removed by the `cron:sweep` job.

Each check-and-remove runs as a Lua script, so it cannot race a worker starting the same job.
An abort set or a queue of the wrong type is logged and skipped (the sweep's other steps run).
"""

from arq.connections import ArqRedis
from arq.constants import abort_job_max_age
from redis.exceptions import ResponseError

from jobqueue.store import keys, malformed
from jobqueue.store.scripts import LuaScript

SWEEP_ABORTS = LuaScript("sweep_aborts")
SWEEP_ORPHANS = LuaScript("sweep_orphans")
SWEEP_TENANT_SHARE = LuaScript("sweep_tenant_share")
FORGET_TENANTS = LuaScript("forget_tenants")
SWEEP_BATCH = 500


async def remove_stale_aborts(redis: ArqRedis, queue: str, *, now_ms: int) -> int:
    """Abort requests older than arq's own limit for jobs neither queued nor running."""
    cutoff_ms = now_ms - abort_job_max_age * 1000
    removed_total = 0
    while True:
        removed: int
        seen: int
        try:
            removed, seen = await SWEEP_ABORTS.run(
                redis, [keys.ABORTS, queue], [keys.in_progress(""), cutoff_ms, SWEEP_BATCH]
            )
        except ResponseError as error:  # (reads fail before the script's first write)
            malformed.wrong_type(f"{keys.ABORTS} or {queue}", error)
            return removed_total
        removed_total += removed
        if seen < SWEEP_BATCH or removed == 0:
            return removed_total


async def remove_expired_entries(redis: ArqRedis, queue: str) -> list[str]:
    """Queue entries whose job data has expired (and no worker holds); their ids."""
    removed: list[bytes] = []
    batch: list[bytes] = []
    try:
        async for job_id, _ in redis.zscan_iter(queue, count=SWEEP_BATCH):
            batch.append(job_id)
            if len(batch) >= SWEEP_BATCH:
                removed += await _remove_orphans(redis, queue, batch)
                await _warn_of_wrong_holds(redis, batch)
                batch = []
        if batch:
            removed += await _remove_orphans(redis, queue, batch)
            await _warn_of_wrong_holds(redis, batch)
    except ResponseError as error:
        malformed.wrong_type(queue, error)
    return [malformed.text(job_id) for job_id in removed]


async def _warn_of_wrong_holds(redis: ArqRedis, batch: list[bytes]) -> None:
    """An in-progress key of another type holds its job (arq's rule: the key exists) until it
    is deleted, and no worker would say so: the sweep does, once a sweep."""
    in_progress = [keys.in_progress(malformed.text(job_id)) for job_id in batch]
    async with redis.pipeline(transaction=False) as pipe:
        for key in in_progress:
            pipe.type(key)
        kinds: list[bytes] = await pipe.execute()
    for key, kind in zip(in_progress, kinds, strict=True):
        if kind not in (b"string", b"none"):
            malformed.warn(key, "a key of the wrong type holds its job")


async def _remove_orphans(redis: ArqRedis, queue: str, batch: list[bytes]) -> list[bytes]:
    removed: list[bytes] = await SWEEP_ORPHANS.run(
        redis, [queue], [keys.job(""), keys.in_progress(""), *batch]
    )
    return removed


async def mend_tenant_share(redis: ArqRedis, queue: str, tenant: str) -> int:
    """Drop the jobs of `tenant`'s share of the queue that the queue no longer holds; how many."""
    share = keys.tenant_queue(queue, tenant)
    dropped, batch = 0, []
    try:
        async for job_id, _ in redis.zscan_iter(share, count=SWEEP_BATCH):
            batch.append(job_id)
            if len(batch) >= SWEEP_BATCH:
                dropped += await SWEEP_TENANT_SHARE.run(redis, [queue, share], batch)
                batch = []
        if batch:
            dropped += await SWEEP_TENANT_SHARE.run(redis, [queue, share], batch)
    except ResponseError as error:
        malformed.wrong_type(f"{share} or {queue}", error)
    return dropped


async def forget_idle_tenants(redis: ArqRedis, queue: str, *, before_ms: int) -> list[str]:
    """Tenants whose latest job was due before `before_ms`, with none waiting or running."""
    before, after = keys.tenant_queue_affixes(queue)
    try:
        forgotten: list[bytes] = await FORGET_TENANTS.run(
            redis, [keys.TENANTS], [before_ms, before, after]
        )
    except ResponseError as error:
        malformed.wrong_type(keys.TENANTS, error)
        return []
    return [malformed.text(tenant) for tenant in forgotten]
