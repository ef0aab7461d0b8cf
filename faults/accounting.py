"""Every acknowledged job accounted for: its final view after a bounded drain, against what
the ledger saw delivered.

- lost: acknowledged, then unknown to the service (404), or shown `succeeded` with no answered
  delivery in the ledger;
- stuck: not finished when the drain ends;
- duplicated: a delivery that arrived while an earlier one of the same job was still held (two
  runs at once), or after an earlier one had been answered (the job had done its work, yet ran
  again); one after an answer whose deliverer was then killed, before the job ran again, is
  told apart when the kill came within `KILL_WINDOW_S` of the answer or the deliverer's log
  shows it never reached the run's end (it died before it could record the end: at-least-once,
  as the README warns; on a starved machine a worker can take over a second to get there);
- redelivered: a delivery after a cut one (its worker died or dropped it): expected;
- tries burnt: tries beyond the first, summed over the jobs.
"""

import asyncio
import itertools
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from faults.ledger import ANSWERED, CUT, Delivery

TERMINAL = {"succeeded", "failed", "aborted"}
KILL_WINDOW_S = 1.0  # (a live worker records a job's end within milliseconds of its answer)


async def drain(
    api: httpx.AsyncClient, job_ids: list[str], within_s: float = 30.0
) -> tuple[dict[str, dict[str, Any] | None], float]:
    """The jobs' views once all are finished or `within_s` has passed (None: 404), and how
    long that took."""
    started = time.monotonic()
    views: dict[str, dict[str, Any] | None] = {}
    waiting = list(job_ids)
    limit = asyncio.Semaphore(32)

    async def read(job_id: str) -> None:
        async with limit:
            try:
                response = await api.get(f"/v1/jobs/{job_id}")
            except httpx.HTTPError:
                return  # read again on the next pass
        if response.status_code == 404:
            views[job_id] = None
        elif response.status_code == 200:
            views[job_id] = response.json()

    while True:
        await asyncio.gather(*(read(job_id) for job_id in waiting))
        waiting = [j for j in waiting if j not in views or not _finished(views[j])]
        if not waiting or time.monotonic() - started >= within_s:
            return views, time.monotonic() - started
        await asyncio.sleep(1.0)


def _finished(view: dict[str, Any] | None) -> bool:
    return view is None or view["status"] in TERMINAL


@dataclass
class Accounts:
    acknowledged: int
    succeeded: int
    failed: dict[str, int]  # error type: jobs
    lost: list[str]
    stuck: list[str]
    deliveries: int
    redelivered_after_cut: int
    duplicated: list[str]  # job ids, one entry per duplicate delivery
    duplicated_after_kill: list[str]
    tries_burnt: int
    stalls: int
    max_stalls: int
    drain_s: float

    def figures(self) -> dict[str, Any]:
        return {
            "acknowledged": self.acknowledged,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "lost": len(self.lost),
            "stuck_after_drain": len(self.stuck),
            "deliveries": self.deliveries,
            "redelivered_after_cut": self.redelivered_after_cut,
            "duplicated_deliveries": len(self.duplicated),
            "duplicated_after_deliverer_killed": len(self.duplicated_after_kill),
            "tries_burnt": self.tries_burnt,
            "stalls": self.stalls,
            "max_stalls_of_a_job": self.max_stalls,
            "drain_s": round(self.drain_s, 1),
            "evidence": {
                "lost": self.lost[:20],
                "stuck": self.stuck[:20],
                "duplicated": self.duplicated[:20],
            },
        }


def account(
    acknowledged: list[str],
    views: dict[str, dict[str, Any] | None],
    deliveries: list[Delivery],
    kills: list[tuple[int, float]],
    drain_s: float,
    logged_end: Callable[[int, str], bool] = lambda pid, job_id: True,
) -> Accounts:
    """`kills`: (pid, when) of every worker killed or stopped during the scenario;
    `logged_end(pid, job_id)`: whether that worker's log shows it reached the end of the job's
    run (by default: it did, so only the time window excuses)."""
    by_job: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in sorted(deliveries, key=lambda d: d.arrived):
        by_job[delivery.job_id].append(delivery)
    killed_at = dict(kills)
    lost: list[str] = []
    stuck: list[str] = []
    duplicated: list[str] = []
    after_kill: list[str] = []
    failed: Counter[str] = Counter()
    redelivered = succeeded = tries_burnt = stalls = max_stalls = 0
    for job_id in acknowledged:
        view, runs = views.get(job_id, {}), by_job.get(job_id, [])
        answered = [d for d in runs if d.outcome == ANSWERED]
        if view is None or (view.get("status") == "succeeded" and not answered):
            lost.append(job_id)
        elif view.get("status") not in TERMINAL:
            stuck.append(job_id)
        elif view["status"] == "succeeded":
            succeeded += 1
        else:
            failed[(view.get("error") or {}).get("type", view["status"])] += 1
        if view:
            tries_burnt += max(0, int(view.get("tries", 0)) - 1)
            stalls += int(view.get("stalls", 0))
            max_stalls = max(max_stalls, int(view.get("stalls", 0)))
        for earlier, later in itertools.pairwise(runs):  # each delivery after another
            if later.arrived < (earlier.ended if earlier.ended is not None else math.inf):
                duplicated.append(job_id)  # two runs at once, however the first one ended
            elif earlier.outcome == CUT:
                redelivered += 1
            elif earlier.outcome == ANSWERED:
                excused = _died_before_recording(earlier, later, killed_at, logged_end)
                (after_kill if excused else duplicated).append(job_id)
    return Accounts(
        acknowledged=len(acknowledged),
        succeeded=succeeded,
        failed=dict(failed),
        lost=lost,
        stuck=stuck,
        deliveries=sum(len(by_job.get(j, [])) for j in acknowledged),
        redelivered_after_cut=redelivered,
        duplicated=duplicated,
        duplicated_after_kill=after_kill,
        tries_burnt=tries_burnt,
        stalls=stalls,
        max_stalls=max_stalls,
        drain_s=drain_s,
    )


def _died_before_recording(
    answered: Delivery,
    again: Delivery,
    killed_at: dict[int, float],
    logged_end: Callable[[int, str], bool],
) -> bool:
    """The answered run's worker was killed after the answer and before the job's next
    delivery, and either soon after the answer or before its log reached the run's end."""
    if answered.pid is None or (death := killed_at.get(answered.pid)) is None:
        return False
    if not (answered.ended or 0) <= death <= again.arrived:
        return False
    soon = death - (answered.ended or 0) <= KILL_WINDOW_S
    return soon or not logged_end(answered.pid, answered.job_id)
