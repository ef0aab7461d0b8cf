"""Cron-scheduled maintenance jobs, declared with `@job` like any other.

- `cron:queue_stats` snapshots the queue (queued, deferred, in progress, oldest waiting age) into
  a bounded history list in Redis.
- `cron:sweep` removes what arq leaves behind and never cleans: entries in `arq:abort` for jobs
  that are gone (arq's own clean-up of that set removes only future-dated entries), and queue
  entries whose job data has expired (arq reaches those only when they fall due, if ever).
Each check-and-remove runs as a Lua script, so it cannot race a worker starting the same job.
"""

import time

import structlog
from arq.constants import abort_job_max_age, abort_jobs_ss, in_progress_key_prefix, job_key_prefix
from pydantic import BaseModel, ConfigDict

from jobqueue import keys
from jobqueue.records import now_ms
from jobqueue.registry import JobContext, JobDefinition, job
from jobqueue.settings import Settings
from jobqueue.stats import QueueSnapshot, record_snapshot, snapshot_queue

log = structlog.get_logger("jobqueue.maintenance")

SWEEP_BATCH = 500

# KEYS: abort set, queue. ARGV: in-progress key prefix, cutoff (ms), batch size.
_SWEEP_ABORTS = """
local removed = 0
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do
  if not redis.call('ZSCORE', KEYS[2], id) and redis.call('EXISTS', ARGV[1] .. id) == 0 then
    removed = removed + redis.call('ZREM', KEYS[1], id)
  end
end
return {removed, #ids}
"""

# KEYS: queue. ARGV: job key prefix, in-progress key prefix, job ids... Returns removed ids.
_SWEEP_ORPHANS = """
local removed = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('EXISTS', ARGV[1] .. id) == 0 and redis.call('EXISTS', ARGV[2] .. id) == 0 then
    if redis.call('ZREM', KEYS[1], id) == 1 then table.insert(removed, id) end
  end
end
return removed
"""


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SweepResult(BaseModel):
    stale_aborts_removed: int
    expired_entries_removed: int
    index_entries_pruned: int
    events_trimmed: int


@job(name="cron:queue_stats", timeout=30)
async def queue_stats(ctx: JobContext, args: NoArgs) -> QueueSnapshot:
    """Snapshot the queue's depth and oldest waiting age into its bounded history."""
    snapshot = await snapshot_queue(ctx.redis, ctx.settings.queue_name)
    await record_snapshot(ctx.redis, snapshot, keep=ctx.settings.stats_history_length)
    log.info("maintenance.queue_stats", **snapshot.model_dump(mode="json"))
    return snapshot


@job(name="cron:sweep", timeout=120)
async def sweep(ctx: JobContext, args: NoArgs) -> SweepResult:
    """Remove stale abort requests and queue entries whose job data has expired."""
    redis, queue = ctx.redis, ctx.settings.queue_name
    cutoff_ms = int(time.time() * 1000) - abort_job_max_age * 1000
    stale_aborts = 0
    sweep_aborts = redis.register_script(_SWEEP_ABORTS)
    while True:
        removed, seen = await sweep_aborts(
            keys=[abort_jobs_ss, queue], args=[in_progress_key_prefix, cutoff_ms, SWEEP_BATCH]
        )
        stale_aborts += removed
        if seen < SWEEP_BATCH or removed == 0:
            break
    expired = await _sweep_expired_entries(ctx)
    result = SweepResult(
        stale_aborts_removed=stale_aborts,
        expired_entries_removed=expired,
        index_entries_pruned=await _prune_index(ctx),
        events_trimmed=await redis.xtrim(
            keys.EVENTS, minid=f"{now_ms() - ctx.settings.events_max_age * 1000}-0",
            approximate=False,
        ),
    )  # fmt: skip
    log.info("maintenance.sweep", **result.model_dump())
    return result


async def _sweep_expired_entries(ctx: JobContext) -> int:
    """Remove queue entries whose job data expired, recording each job as `expired`."""
    redis, queue = ctx.redis, ctx.settings.queue_name
    sweep_orphans = redis.register_script(_SWEEP_ORPHANS)
    removed: list[bytes] = []
    batch: list[bytes] = []
    async for job_id, _ in redis.zscan_iter(queue, count=SWEEP_BATCH):
        batch.append(job_id)
        if len(batch) >= SWEEP_BATCH:
            removed += await sweep_orphans(
                keys=[queue], args=[job_key_prefix, in_progress_key_prefix, *batch]
            )
            batch.clear()
    if batch:
        removed += await sweep_orphans(
            keys=[queue], args=[job_key_prefix, in_progress_key_prefix, *batch]
        )
    for job_id in removed:
        await redis.tracker.expired(redis, job_id.decode())
    return len(removed)


async def _prune_index(ctx: JobContext) -> int:
    """Drop index entries older than the history retention (their records have expired)."""
    redis = ctx.redis
    oldest_kept = keys.index_member(now_ms() - ctx.settings.history_ttl * 1000, "")
    functions: set[bytes] = await redis.smembers(keys.INDEX_PREFIX + "functions")  # type: ignore[misc]
    index_keys = keys.all_indexes(sorted(f.decode() for f in functions))
    async with redis.pipeline(transaction=False) as pipe:
        for key in index_keys:
            pipe.zremrangebylex(key, f"({oldest_kept}", "+")
        pruned: list[int] = await pipe.execute()
    return sum(pruned)


def scheduled_jobs(settings: Settings) -> list[tuple[JobDefinition, str]]:
    """The maintenance jobs with their cron schedules from settings."""
    return [(queue_stats, settings.stats_schedule), (sweep, settings.sweep_schedule)]
