"""Claiming jobs in one round trip: a replacement for arq's `Worker.start_jobs`.

Matches arq 0.28.0. arq claims each job with its own optimistic transaction, one job after
another, then opens `run_job` with one more round trip; on a busy worker that is most of arq's
own per-job cost. This claims every job a poll found with one script call
(`jobqueue.store.claim`), whose replies answer `run_job`'s opening, so the jobs then run exactly
as arq runs them (`Worker.run_job` is arq's, unchanged).

It relies on arq's `Worker` internals: `_poll_iteration` calls `self.start_jobs(job_ids)`; slots
are counted with `sem` and `job_counter` and released by `_release_sem_dec_counter_on_complete`;
`tasks` maps job ids to their tasks. A claim is a short lease, renewed while the job runs
(`jobqueue.worker.leases`), in place of arq's `in_progress_timeout_s`. Each tenant's jobs take
at most its share of the slots (`jobqueue.worker.tenant_slots`). The canary
tests in tests/unit/test_seams.py fail when any of these change. Remove when arq claims
several jobs per round trip itself (or when arq's worker is vendored).
"""

import asyncio
from collections.abc import Callable
from functools import partial

from arq.utils import timestamp_ms
from arq.worker import Worker

from jobqueue.settings import Settings
from jobqueue.store.claim import Claimed, claim, due_jobs
from jobqueue.store.client import TrackedRedis
from jobqueue.worker.heartbeat import WorkerStats
from jobqueue.worker.leases import Leases
from jobqueue.worker.swaps.poll_guard import throttled
from jobqueue.worker.swaps.wakeup import WakeUp
from jobqueue.worker.tenant_slots import Offer, TenantSlots

CLAIM_MARGIN = 10
EXTRA_PAGES = 2  # pages read past arq's in a poll whose page capped tenants' jobs fill


async def start_jobs(self: Worker, job_ids: list[bytes]) -> None:
    """Claim as many of `job_ids` as there are free slots (skipping jobs that run, here or
    elsewhere, and those of tenants at their cap), and run them."""
    tenants = tenant_slots(self)
    try:
        await _start(self, tenants, [job_id.decode() for job_id in job_ids])
        if tenants.holding and len(job_ids) >= self.queue_read_limit:
            await _read_past_the_page(self, tenants)
    except BaseException:  # (a failed call ends the poll, logged by poll_guard: count afresh)
        tenants.abandon_poll()
        raise
    tenants.end_poll()
    stats: WorkerStats | None = self.ctx.get("stats")
    if stats is not None:  # (for its heartbeat, and so /metrics)
        stats.held = tenants.held


async def _start(worker: Worker, tenants: TenantSlots, job_ids: list[str]) -> None:
    running = worker.tasks
    remaining = [j for j in job_ids if j not in running or running[j].done()]
    # Offer the script a few more jobs than there are free slots (others may hold some), and
    # the next few if that was not enough: packing every key of a 500-job poll into each call
    # cost a busy worker a tenth of its CPU.
    while (free := worker.max_jobs - worker.job_counter) > 0 and remaining:
        offer, remaining = tenants.offer(remaining, 2 * free + CLAIM_MARGIN)
        if not offer.job_ids:
            break  # (the rest are all of tenants at their cap)
        await _claim_and_run(worker, offer, free)
    tenants.hold_unoffered(remaining)


async def _read_past_the_page(worker: Worker, tenants: TenantSlots) -> None:
    """arq's poll reads the first `queue_read_limit` due jobs: when a capped tenant's backlog
    fills them, other tenants' jobs wait behind it. Read on from where the last such poll
    stopped, `EXTRA_PAGES` pages a poll at most, back to the start past the end: every due job
    is seen within due jobs / (EXTRA_PAGES * page) such polls, at a bounded cost each."""
    redis: TrackedRedis = worker.pool  # type: ignore[assignment]
    page = worker.queue_read_limit
    for _ in range(EXTRA_PAGES):
        if worker.job_counter >= worker.max_jobs:
            return
        start = page + tenants.scan_from
        job_ids, more = await due_jobs(redis, worker.queue_name, start, page, timestamp_ms())
        tenants.scan_from = tenants.scan_from + page if more else 0
        await _start(worker, tenants, job_ids)
        if not more:
            return


def tenant_slots(worker: Worker) -> TenantSlots:
    """The worker's count of each tenant's running jobs (made at its first poll)."""
    slots: TenantSlots | None = worker.ctx.get("tenant_slots")
    if slots is None:
        settings: Settings = worker.ctx["settings"]
        slots = worker.ctx["tenant_slots"] = TenantSlots(settings.worker_tenant_cap)
    return slots


async def _claim_and_run(worker: Worker, offer: Offer, free: int) -> None:
    redis: TrackedRedis = worker.pool  # type: ignore[assignment]
    leases: Leases = worker.ctx["leases"]
    settings: Settings = worker.ctx["settings"]
    claimed = await claim(
        redis,
        worker.queue_name,
        offer.job_ids,
        now_ms=timestamp_ms(),
        lease_ms=leases.lease_ms,
        owner=leases.owner,
        aborts=worker.allow_abort_jobs,
        limit=free,
        events_max_length=settings.events_max_length,
        max_tries=_max_tries(worker),
        history_ttl_ms=settings.history_ttl * 1000,
        tenants=offer.tenants,
        tenant_slots=offer.slots,
    )
    tenants = tenant_slots(worker)
    for job in claimed:
        for key in job.wrong_type:  # (left alone by the claim; see claim.lua)
            throttled.error("worker.key_of_wrong_type", about=key, key=key, job_id=job.job_id)
        leases.hold(job.job_id, job.stalls)
        await worker.sem.acquire()  # never waits: only start_jobs takes slots, they were free
        worker.job_counter += 1
        tenants.started(job.job_id)
        task = worker.loop.create_task(worker.run_job(job.job_id, job.score))
        task.add_done_callback(partial(_job_done, worker, redis, job))
        worker.tasks[job.job_id] = task
    tenants.not_claimed(offer, {job.job_id for job in claimed})


def _max_tries(worker: Worker) -> dict[str, int]:
    """Each function's max tries, as arq's `run_job` applies them."""
    return {
        name: worker.max_tries if f.max_tries is None else f.max_tries
        for name, f in worker.functions.items()
    }


def _job_done(worker: Worker, redis: TrackedRedis, job: Claimed, _: asyncio.Task[None]) -> None:
    redis.forget(job.opening)  # if the job was cancelled before run_job began
    worker.ctx["leases"].release(job.job_id)
    tenant_slots(worker).ended(job.job_id)
    worker._release_sem_dec_counter_on_complete()
    wakeup: WakeUp | None = worker.ctx.get("wakeup")
    if wakeup is not None:
        wakeup.slot_freed()  # jobs may be waiting for this slot


def install() -> Callable[[], None]:
    """Make arq's workers in this process claim jobs with `start_jobs`; returns the undo."""
    original = Worker.start_jobs
    setattr(Worker, "start_jobs", start_jobs)  # noqa: B010
    return lambda: setattr(Worker, "start_jobs", original)
