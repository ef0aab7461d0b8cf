"""The worker's leases: each job it runs is claimed for `worker_lease` seconds (its in-progress
key, with the worker's id as its value) and renewed, all together in one call, every tick while
the job runs. A worker that dies renews nothing: its jobs are free again, for any other worker
to run, at most a lease later (arq's own claim lasted the longest job timeout of all, plus 10 s:
an hour with the built-in `sleep`). A job's timeout still bounds its run.

Sooner still: the same call keeps the worker's alive key (a TTL of `worker_liveness_window`, on
Redis's clock), and releases the leases of workers whose alive key has run out. The script does
that only for a worker whose calls Redis has seen at most one and a half ticks apart for a whole
liveness window: after an outage, a stall of Redis or a jump of its clock, every worker's key
may have run out, and the others need that long to refresh theirs. A stopping worker deletes
its key: it is gone at once.

A job whose lease this worker no longer holds (an outage longer than a lease, with Redis's
clock running) may be run again by another worker meanwhile: that is logged
(`worker.lease_lost`), and this worker's later writes for it (a retry, a put-back) are dropped
by `transition.lua`, whose records say who holds the job.

A claim also says how often the job's runs have stalled (never ended: their worker died or
lost the lease); past `worker_stall_limit`, the job wrapper fails it instead of running it.
"""

import asyncio

import structlog
from arq.connections import ArqRedis

from jobqueue.settings import Settings
from jobqueue.store.leases import renew, retire
from jobqueue.worker.throttle import ThrottledLog

log = structlog.get_logger("jobqueue.worker")


class Leases:
    def __init__(self, owner: str, settings: Settings) -> None:
        self.owner = owner  # the worker's id
        self.lease_ms = int(settings.worker_lease * 1000)
        self.alive_ms = int(settings.worker_liveness_window * 1000)
        # every tick: a lease is renewed three times, the alive key at least three times, a
        # period; a call within one and a half ticks of the last is prompt
        self.tick_s = min(settings.worker_lease / 3, settings.worker_heartbeat_interval)
        self.prompt_gap_ms = int(self.tick_s * 1500)
        self._held: dict[str, int] = {}  # job id -> its stalls so far
        self._lost: set[str] = set()  # held jobs whose loss was logged

    def hold(self, job_id: str, stalls: int = 0) -> None:
        self._held[job_id] = stalls

    def release(self, job_id: str) -> None:
        self._held.pop(job_id, None)
        self._lost.discard(job_id)

    def stalls(self, job_id: str) -> int:
        return self._held.get(job_id, 0)

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self._held)

    async def renew_now(self, redis: ArqRedis) -> None:
        renewal = await renew(
            redis,
            self.owner,
            sorted(self._held),
            lease_ms=self.lease_ms,
            alive_ms=self.alive_ms,
            prompt_gap_ms=self.prompt_gap_ms,
        )
        for job_id in set(renewal.lost) & set(self._held) - self._lost:
            log.warning("worker.lease_lost", lost_job_id=job_id)
            self._lost.add(job_id)
        for lease in renewal.released:
            log.warning("worker.lease_released", gone_worker=lease.worker_id, job_id=lease.job_id)

    async def keep_renewing(self, redis: ArqRedis) -> None:
        """Run until cancelled; a failed renewal (Redis down, a key of the wrong type) is logged
        (once a minute at most) and tried again."""
        failures = ThrottledLog()  # (a key of the wrong type fails every tick until fixed)
        while True:
            try:
                await self.renew_now(redis)
            except Exception as exc:  # never let the renewals stop
                failures.error("worker.lease_renewal_failed", about=repr(exc), error=repr(exc))
            else:
                failures.recovered("worker.lease_renewal_failed", "worker.lease_renewal_recovered")
            await asyncio.sleep(self.tick_s)

    async def retire(self, redis: ArqRedis) -> None:
        """This worker is stopping: gone at once, for the others to release what it holds."""
        await retire(redis, self.owner)
