"""Cron-scheduled maintenance jobs, declared with `@job` like any other.

- `cron:queue_stats` snapshots the queue (queued, deferred, in progress, oldest waiting age) into
  a bounded history list in Redis; and each tenant's share of it into the tenant's.
- `cron:sweep` removes what arq leaves behind and never cleans (see `jobqueue.store.sweeps`),
  records jobs whose data expired before they started, trims the history's index and feed,
  mends the tenants' shares of the queue and forgets tenants idle for the history retention.
"""

import time

import structlog
from pydantic import BaseModel, ConfigDict

from jobqueue.clock import now_ms
from jobqueue.history.vocabulary import TERMINAL_STORED, StoredStatus
from jobqueue.jobs.context import JobContext
from jobqueue.jobs.declaration import JobDefinition, job
from jobqueue.ops.stats import QueueSnapshot, record_snapshot, snapshot_queue
from jobqueue.settings import Settings
from jobqueue.store import index, statistics, streams, sweeps

log = structlog.get_logger("jobqueue.maintenance")


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SweepResult(BaseModel):
    stale_aborts_removed: int
    expired_entries_removed: int
    index_entries_pruned: int
    events_trimmed: int
    finished_jobs_forgotten: int = 0  # beyond JOBQUEUE_HISTORY_MAX_JOBS
    superseded_indexes_dropped: int = 0
    tenant_entries_mended: int = 0  # in a tenant's share of the queue, not in the queue
    tenants_forgotten: int = 0


@job(name="cron:queue_stats", timeout=30)
async def queue_stats(ctx: JobContext, args: NoArgs) -> QueueSnapshot:
    """Snapshot the queue's depth and oldest waiting age into its bounded history, and each
    tenant's share of it into the tenant's (kept for the history retention)."""
    redis, settings = ctx.redis, ctx.settings
    snapshot = await snapshot_queue(redis, settings.queue_name)
    await record_snapshot(redis, snapshot, keep=settings.stats_history_length)
    for tenant in await statistics.known_tenants(redis):
        share = await snapshot_queue(redis, settings.queue_name, tenant)
        await record_snapshot(
            redis,
            share,
            keep=settings.stats_history_length,
            tenant=tenant,
            ttl_ms=settings.history_ttl * 1000,
        )
    log.info("maintenance.queue_stats", **snapshot.model_dump(mode="json"))
    return snapshot


@job(name="cron:sweep", timeout=120)
async def sweep(ctx: JobContext, args: NoArgs) -> SweepResult:
    """Remove stale abort requests and queue entries whose job data has expired."""
    redis, settings, now = ctx.redis, ctx.settings, now_ms()
    stale_aborts = await sweeps.remove_stale_aborts(redis, settings.queue_name, now_ms=now)
    expired = await sweeps.remove_expired_entries(redis, settings.queue_name)
    for job_id in expired:
        await ctx.tracker.expired(redis, job_id)
    result = SweepResult(
        stale_aborts_removed=stale_aborts,
        expired_entries_removed=len(expired),
        index_entries_pruned=await index.prune_older_than(
            redis, now - settings.history_ttl * 1000, [s.value for s in StoredStatus]
        ),
        events_trimmed=await streams.trim_before(redis, now - settings.events_max_age * 1000),
        finished_jobs_forgotten=await _forget_beyond_max(ctx),
        superseded_indexes_dropped=await index.drop_superseded(redis),
        tenant_entries_mended=await _mend_tenant_shares(ctx),
        tenants_forgotten=len(
            await sweeps.forget_idle_tenants(
                redis, settings.queue_name, before_ms=now - settings.history_ttl * 1000
            )
        ),
    )
    log.info("maintenance.sweep", **result.model_dump())
    return result


async def _mend_tenant_shares(ctx: JobContext) -> int:
    queue, mended = ctx.settings.queue_name, 0
    for tenant in await statistics.known_tenants(ctx.redis):
        mended += await sweeps.mend_tenant_share(ctx.redis, queue, tenant)
    return mended


FORGET_BATCH = 1000  # per call: a sweep's share of Redis's time stays small
# The sweep's own timeout is 120 s: it gives the trim half of that per run. (A cap on jobs per
# sweep instead bounded the rate it could keep up with: 20,000 per 5 minutes is 67 jobs/s.)
FORGET_BUDGET_S = 60.0


async def _forget_beyond_max(ctx: JobContext) -> int:
    """The history is bounded by count as well as time: the oldest finished jobs beyond
    JOBQUEUE_HISTORY_MAX_JOBS are forgotten, a batch at a time, until none is left beyond it or
    the time budget is spent (the next sweep goes on)."""
    finished = sorted(TERMINAL_STORED)
    forgotten, deadline = 0, time.monotonic() + FORGET_BUDGET_S
    while time.monotonic() < deadline:
        batch = await index.trim_to_count(
            ctx.redis, finished, keep=ctx.settings.history_max_jobs, batch=FORGET_BATCH
        )
        forgotten += batch
        if batch < FORGET_BATCH:
            break
    return forgotten


def scheduled_jobs(settings: Settings) -> list[tuple[JobDefinition, str]]:
    """The maintenance jobs with their cron schedules from settings."""
    return [(queue_stats, settings.stats_schedule), (sweep, settings.sweep_schedule)]
