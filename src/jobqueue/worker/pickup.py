"""Claiming jobs in one round trip: a drop-in for arq's `Worker.start_jobs`.

arq claims each job with its own optimistic transaction: WATCH, EXISTS, ZSCORE, then
MULTI/PSETEX/EXEC and UNWATCH, four to five round trips per job, one job after another. On a
busy worker that is most of arq's own per-job cost. `claim.lua` applies the same rule (still
queued, due, not in progress elsewhere; then set the in-progress key) to every job a poll found,
atomically, in one script call. The jobs then run exactly as arq runs them (`Worker.run_job`).

arq 0.28 calls `self.start_jobs(job_ids)` from `_poll_iteration` and counts running jobs with
`job_counter` and `sem`; a test pins both, so an arq upgrade that changes them fails loudly.
"""

from importlib.resources import files
from typing import Any

from arq.constants import in_progress_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker

_CLAIM = (files("jobqueue") / "lua" / "claim.lua").read_text()


async def start_jobs(self: Worker, job_ids: list[bytes]) -> None:
    """Claim as many of `job_ids` as there are free slots, and run them."""
    free = self.max_jobs - self.job_counter
    ids = [job_id.decode() for job_id in job_ids[:free]]
    if not ids:
        return
    script = _claim_script(self)
    claimed: list[bytes] = await script(
        keys=[self.queue_name, *(in_progress_key_prefix + job_id for job_id in ids)],
        args=[timestamp_ms(), int(self.in_progress_timeout_s * 1000), *ids],
    )
    for i in range(0, len(claimed), 2):
        job_id, score = claimed[i].decode(), int(float(claimed[i + 1]))
        await self.sem.acquire()  # never waits: only this method takes slots, and they were free
        self.job_counter += 1
        task = self.loop.create_task(self.run_job(job_id, score))
        task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
        self.tasks[job_id] = task


def _claim_script(worker: Worker) -> Any:
    script = getattr(worker, "_jobqueue_claim", None)
    if script is None:
        script = worker.pool.register_script(_CLAIM)
        setattr(worker, "_jobqueue_claim", script)  # noqa: B010
    return script


def install() -> None:
    """Make arq's workers in this process claim jobs with `start_jobs` (see module doc)."""
    setattr(Worker, "start_jobs", start_jobs)  # noqa: B010
