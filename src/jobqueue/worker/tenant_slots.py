"""Each tenant's share of one worker's slots (`JOBQUEUE_WORKER_TENANT_MAX_JOBS`): at most `cap`
of one tenant's jobs run in this worker at once, so that one tenant's backlog cannot take every
slot and leave the others' jobs queued behind it.

Counted per worker process, from the jobs it runs (no Redis state): with N workers a tenant runs
up to N * cap jobs at once, and every other tenant still finds `max_jobs - cap` slots in each.
Jobs of the system tenant (ids without `~`, `access.tenancy`: maintenance, crons, admin keys'
jobs, every job while auth is off) are not capped: maintenance must always run.

A job of a tenant at its cap is not offered to the claim at all: it stays queued, in its place,
untouched (not claimed, no try counted, no lease). When one of the tenant's jobs ends, its slot
wakes the worker's poll (`WakeUp.slot_freed`) and the queue's order puts the tenant's oldest
waiting job first. A tenant with slots left has at most `2 * slots + margin` jobs offered at
once (some may run in other workers); the claim script takes no more than its slots.
"""

from collections import Counter
from dataclasses import dataclass, field

import structlog

from jobqueue.access.tenancy import tenant_of

log = structlog.get_logger("jobqueue.worker")

MARGIN = 4  # a tenant's jobs offered past its free slots (others may be running elsewhere)


@dataclass(frozen=True)
class Offer:
    """Jobs to offer one claim, in queue order, with what it needs to keep each tenant's cap."""

    job_ids: list[str]
    tenants: list[str | None]  # each job's tenant (None: the system's); [] when none has one
    slots: dict[str, int]  # each offered tenant's slots left in this worker


@dataclass
class TenantSlots:
    cap: int
    held: int = 0  # jobs the last poll held back for their tenant's cap
    scan_from: int = 0  # where the next read past arq's page starts (`pickup`), past it
    _running: Counter[str] = field(default_factory=Counter)
    _at_cap: set[str] = field(default_factory=set)  # tenants that had jobs held back
    _held_now: Counter[str] = field(default_factory=Counter)  # this poll's, by tenant

    def started(self, job_id: str) -> None:
        tenant = tenant_of(job_id)
        if tenant is not None:
            self._running[tenant] += 1

    def ended(self, job_id: str) -> None:
        tenant = tenant_of(job_id)
        if tenant is not None and self._running[tenant] > 0:
            self._running[tenant] -= 1
            if not self._running[tenant]:
                del self._running[tenant]

    def running(self, tenant: str) -> int:
        return self._running[tenant]

    def offer(self, remaining: list[str], size: int) -> tuple[Offer, list[str]]:
        """Up to `size` of `remaining` to offer the next claim, and the rest. A job of a tenant
        at its cap is dropped (held); one past its tenant's share of this offer is kept for the
        next offer."""
        job_ids: list[str] = []
        tenants: list[str | None] = []
        slots: dict[str, int] = {}
        offered: Counter[str] = Counter()
        rest: list[str] = []
        for i, job_id in enumerate(remaining):
            if len(job_ids) == size:
                rest += remaining[i:]  # (a full offer: a busy poll reads no further)
                break
            tenant = tenant_of(job_id)
            if tenant is None:
                fits = True
            elif (left := self.cap - self._running[tenant]) <= 0:
                self._held_now[tenant] += 1
                continue
            else:
                slots[tenant] = left
                fits = offered[tenant] < 2 * left + MARGIN
            if fits:
                job_ids.append(job_id)
                tenants.append(tenant)
                if tenant is not None:
                    offered[tenant] += 1
            else:
                rest.append(job_id)
        return Offer(job_ids, tenants if slots else [], slots), rest

    def not_claimed(self, offer: Offer, claimed: set[str]) -> None:
        """Offered jobs the claim left: those of a tenant now at its cap count as held."""
        for job_id, tenant in zip(offer.job_ids, offer.tenants, strict=False):
            if tenant is not None and job_id not in claimed and self._running[tenant] >= self.cap:
                self._held_now[tenant] += 1

    def hold_unoffered(self, unoffered: list[str]) -> None:
        """Jobs a poll did not get to (no slot left): those of a tenant at its cap are held."""
        if all(running < self.cap for running in self._running.values()):
            return  # (none can be: the common case costs nothing per job)
        for job_id in unoffered:
            tenant = tenant_of(job_id)
            if tenant is not None and self._running[tenant] >= self.cap:
                self._held_now[tenant] += 1

    @property
    def holding(self) -> bool:
        """This poll has held jobs back."""
        return bool(self._held_now)

    def abandon_poll(self) -> None:
        """A poll that failed part-way: what it counted says nothing (no change is logged)."""
        self._held_now = Counter()

    def end_poll(self) -> None:
        """Log each tenant's change of state (at its cap with jobs waiting, or no longer)."""
        held = self._held_now
        for tenant in held.keys() - self._at_cap:
            log.info("worker.tenant_at_cap", tenant=tenant, cap=self.cap, held=held[tenant])
        for tenant in self._at_cap - held.keys():
            log.info("worker.tenant_below_cap", tenant=tenant, cap=self.cap)
        self._at_cap = set(held)
        self.held = held.total()
        self._held_now = Counter()
