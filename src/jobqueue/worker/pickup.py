"""Claiming jobs in one round trip: a drop-in for arq's `Worker.start_jobs`.

arq claims each job with its own optimistic transaction: WATCH, EXISTS, ZSCORE, then
MULTI/PSETEX/EXEC and UNWATCH, four to five round trips per job, one job after another; then
`run_job` opens with one more (GET the job, INCR/EXPIRE its try counter, ZREM it from the abort
set). On a busy worker that is most of arq's own per-job cost. `claim.lua` applies the same
rule (still queued, due, not in progress elsewhere; then set the in-progress key) and runs that
opening for every job a poll found, atomically, in one script call. The opening's replies are
handed to `run_job` as prepared replies of the service's Redis client (see
`TrackedRedis.prepare`), so the jobs then run exactly as arq runs them.

arq 0.28 calls `self.start_jobs(job_ids)` from `_poll_iteration`, counts running jobs with
`job_counter` and `sem`, and opens `run_job` with those commands; tests pin all three, so an
arq upgrade that changes them fails loudly.
"""

import asyncio
from functools import partial
from importlib.resources import files
from typing import Any

from arq.constants import abort_jobs_ss, in_progress_key_prefix, job_key_prefix, retry_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker

from jobqueue.client import TrackedRedis
from jobqueue.worker.wakeup import WakeUp

_CLAIM = (files("jobqueue") / "lua" / "claim.lua").read_text()
RETRY_KEY_TTL_S = 88400  # arq's, in run_job
CLAIM_MARGIN = 10


def run_job_opening(job_id: str, *, aborts: bool) -> tuple[tuple[Any, ...], ...]:
    """The commands arq's `run_job` starts with, as its pipeline queues them."""
    commands: tuple[tuple[Any, ...], ...] = (
        ("GET", job_key_prefix + job_id),
        ("INCRBY", retry_key_prefix + job_id, 1),
        ("EXPIRE", retry_key_prefix + job_id, RETRY_KEY_TTL_S),
    )
    return (*commands, ("ZREM", abort_jobs_ss, job_id)) if aborts else commands


async def start_jobs(self: Worker, job_ids: list[bytes]) -> None:
    """Claim as many of `job_ids` as there are free slots (skipping jobs that run, here or
    elsewhere), and run them."""
    running = self.tasks
    candidates = [
        job_id for job_id in (b.decode() for b in job_ids)
        if job_id not in running or running[job_id].done()
    ]  # fmt: skip
    # Offer the script a few more jobs than there are free slots (others may hold some), and
    # the next few if that was not enough: packing every key of a 500-job poll into each call
    # cost a busy worker a tenth of its CPU.
    offered = 0
    while (free := self.max_jobs - self.job_counter) > 0 and offered < len(candidates):
        ids = candidates[offered : offered + 2 * free + CLAIM_MARGIN]
        offered += len(ids)
        await _claim_and_run(self, ids, free)


async def _claim_and_run(worker: Worker, ids: list[str], free: int) -> None:
    redis: TrackedRedis = worker.pool  # type: ignore[assignment]
    aborts = worker.allow_abort_jobs
    claim = redis.register_script(_CLAIM)  # (a hash, no I/O: EVALSHA, loaded on NOSCRIPT)
    claimed: list[Any] = await claim(
        keys=[
            worker.queue_name, abort_jobs_ss,
            *(key for job_id in ids for key in (
                in_progress_key_prefix + job_id, job_key_prefix + job_id,
                retry_key_prefix + job_id)),
        ],
        args=[timestamp_ms(), int(worker.in_progress_timeout_s * 1000), int(aborts), free,
              RETRY_KEY_TTL_S, *ids],
    )  # fmt: skip
    for i in range(0, len(claimed), 5):
        job_id_b, score, data, job_try, aborted = claimed[i : i + 5]
        job_id = job_id_b.decode()
        replies = [data or None, job_try, True, aborted][: 4 if aborts else 3]
        opening = run_job_opening(job_id, aborts=aborts)
        redis.prepare(opening, replies)
        await worker.sem.acquire()  # never waits: only start_jobs takes slots, they were free
        worker.job_counter += 1
        task = worker.loop.create_task(worker.run_job(job_id, int(float(score))))
        task.add_done_callback(partial(_job_done, worker, redis, opening))
        worker.tasks[job_id] = task


def _job_done(
    worker: Worker, redis: TrackedRedis, opening: tuple[tuple[Any, ...], ...], _: asyncio.Task[None]
) -> None:
    redis.forget(opening)  # if the job was cancelled before run_job began
    worker._release_sem_dec_counter_on_complete()
    wakeup: WakeUp | None = worker.ctx.get("wakeup")
    if wakeup is not None:
        wakeup.slot_freed()  # jobs may be waiting for this slot


def install() -> None:
    """Make arq's workers in this process claim jobs with `start_jobs` (see module doc)."""
    setattr(Worker, "start_jobs", start_jobs)  # noqa: B010
