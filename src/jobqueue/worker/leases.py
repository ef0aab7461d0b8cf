"""The worker's leases: each job it runs is claimed for `worker_lease` seconds (its in-progress
key, with the worker's id as its value) and renewed, all together in one call, every third of
that while the job runs. A worker that dies renews nothing: its jobs are free again, for any
other worker to run, at most a lease later (arq's own claim lasted the longest job timeout of
all, plus 10 s: an hour with the built-in `sleep`). A job's timeout still bounds its run.
Sooner still: a worker whose heartbeat has stopped is `gone`, and any live worker releases its
leases at once (`release_gone`).

A claim also says how often the job's runs have stalled (never ended: their worker died or
lost the lease); past `worker_stall_limit`, the job wrapper fails it instead of running it.
"""

import asyncio
import time

import structlog
from arq.connections import ArqRedis

from jobqueue.store.claim import release_gone, renew
from jobqueue.store.connection import ping

log = structlog.get_logger("jobqueue.worker")


class Leases:
    def __init__(self, owner: str, lease_s: float) -> None:
        self.owner = owner  # the worker's id
        self.lease_ms = int(lease_s * 1000)
        self._held: dict[str, int] = {}  # job id -> its stalls so far

    def hold(self, job_id: str, stalls: int = 0) -> None:
        self._held[job_id] = stalls

    def release(self, job_id: str) -> None:
        self._held.pop(job_id, None)

    def stalls(self, job_id: str) -> int:
        return self._held.get(job_id, 0)

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


async def keep_releasing_gone(redis: ArqRedis, *, every_s: float, gone_after_s: float) -> None:
    """Run until cancelled: every `every_s`, release the leases of the workers whose heartbeat
    stopped `gone_after_s` ago. Only once this worker has reached Redis for that long itself:
    after an outage every worker's last beat is old, and none of them is gone."""
    reachable_since: float | None = None
    while True:
        await asyncio.sleep(every_s)
        now = time.time()
        try:
            if reachable_since is None or now - reachable_since < gone_after_s:
                await ping(redis)
                reachable_since = reachable_since or now
                continue
            for lease in await release_gone(redis, last_beat_before=now - gone_after_s):
                log.warning(
                    "worker.lease_released", gone_worker=lease.worker_id, job_id=lease.job_id
                )
        except Exception as exc:  # never let the releases stop
            reachable_since = None
            log.warning("worker.lease_release_failed", error=repr(exc))
