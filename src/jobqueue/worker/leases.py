"""The worker's leases: each job it runs is claimed for `worker_lease` seconds (its in-progress
key, with the worker's id as its value) and renewed, all together in one call, every third of
that while the job runs. A worker that dies renews nothing: its jobs are free again, for any
other worker to run, at most a lease later (arq's own claim lasted the longest job timeout of
all, plus 10 s: an hour with the built-in `sleep`). A job's timeout still bounds its run.
"""

import asyncio

import structlog
from arq.connections import ArqRedis

from jobqueue.store.claim import renew

log = structlog.get_logger("jobqueue.worker")


class Leases:
    def __init__(self, owner: str, lease_s: float) -> None:
        self.owner = owner  # the worker's id
        self.lease_ms = int(lease_s * 1000)
        self._held: set[str] = set()

    def hold(self, job_id: str) -> None:
        self._held.add(job_id)

    def release(self, job_id: str) -> None:
        self._held.discard(job_id)

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self._held)

    async def renew_now(self, redis: ArqRedis) -> None:
        if self._held:
            await renew(redis, self.owner, sorted(self._held), self.lease_ms)

    async def keep_renewing(self, redis: ArqRedis) -> None:
        """Run until cancelled; a failed renewal (Redis down) is logged and tried again."""
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                await self.renew_now(redis)
            except Exception as exc:  # never let the renewals stop
                log.warning("worker.lease_renewal_failed", error=repr(exc))
