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

from jobqueue.registry import JobContext, job
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

# KEYS: queue. ARGV: job key prefix, in-progress key prefix, job ids...
_SWEEP_ORPHANS = """
local removed = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('EXISTS', ARGV[1] .. id) == 0 and redis.call('EXISTS', ARGV[2] .. id) == 0 then
    removed = removed + redis.call('ZREM', KEYS[1], id)
  end
end
return removed
"""


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SweepResult(BaseModel):
    stale_aborts_removed: int
    expired_entries_removed: int


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
    expired = 0
    sweep_orphans = redis.register_script(_SWEEP_ORPHANS)
    batch: list[bytes] = []
    async for job_id, _ in redis.zscan_iter(queue, count=SWEEP_BATCH):
        batch.append(job_id)
        if len(batch) >= SWEEP_BATCH:
            expired += await sweep_orphans(
                keys=[queue], args=[job_key_prefix, in_progress_key_prefix, *batch]
            )
            batch.clear()
    if batch:
        expired += await sweep_orphans(
            keys=[queue], args=[job_key_prefix, in_progress_key_prefix, *batch]
        )
    result = SweepResult(stale_aborts_removed=stale_aborts, expired_entries_removed=expired)
    log.info("maintenance.sweep", **result.model_dump())
    return result


MAINTENANCE_JOBS = (queue_stats, sweep)
