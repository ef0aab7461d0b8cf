"""Cron with several workers: every worker schedules `cron:queue_stats`, and each slot must
run exactly once across them (arq's unique cron job id, `cron:queue_stats:<slot ms>`, the
slot's second + arq's 123.456 ms).

The schedule is every second (`JOBQUEUE_STATS_SCHEDULE="* * * * * *"`, a 6th field is
seconds) so that a short run covers many slots; runs are read back from the API: the job of
each slot (`GET /v1/jobs?function=cron:queue_stats`) and its `started` events.
"""

import asyncio
import time
from typing import Any

import httpx

from faults.events import count_events
from faults.figures import at_least, target
from faults.harness import Harness
from faults.load import Enqueuer
from faults.stack import WorkerPool

WORKERS = 4
FUNCTION = "cron:queue_stats"
CHURN_EVERY_S = 10.0  # the full run replaces a worker this often (a rolling deploy)
EDGE_S = 3  # slots this close to the start or the end are not judged (workers come and go)


async def run(harness: Harness) -> dict[str, Any]:
    duration = 15 if harness.quick else 60
    settings = {"JOBQUEUE_STATS_SCHEDULE": "* * * * * *"}
    pool = harness.pool("cron", **settings)
    pool.start("cron", WORKERS)
    log_offset, started = harness.api_log_size(), time.monotonic()
    first_slot = int(time.time()) + EDGE_S
    enqueuer = Enqueuer(harness.api, harness.ledger.url(), "cron-load", hold=(0.1, 0.5))
    stop = asyncio.Event()
    load = asyncio.create_task(enqueuer.run(rate=5, stop=stop))
    replaced = await _churn(pool, duration, CHURN_EVERY_S if not harness.quick else None)
    last_slot = int(time.time()) - EDGE_S
    stop.set()
    await load
    await asyncio.sleep(2)  # the last judged slots finish
    await asyncio.to_thread(pool.stop_all, 30)
    listed = await _listed(harness.api)
    by_slot: dict[int, list[str]] = {second: [] for second in range(first_slot, last_slot + 1)}
    for job_id in listed:
        second = int(job_id.rsplit(":", 1)[1]) // 1000  # arq runs a slot 123.456 ms late
        if second in by_slot:
            by_slot[second].append(job_id)
    present = [job_id for ids in by_slot.values() for job_id in ids]
    events = await count_events(harness.api, present)
    runs = {
        f"{FUNCTION}:{second}s": sum(events[j]["started"] for j in ids)
        for second, ids in by_slot.items()
    }
    other_ids = sorted(set(listed) - set(present))
    not_once = {job_id: n for job_id, n in runs.items() if n != 1}
    not_succeeded = sum(1 for j in present if listed[j] != "succeeded")
    http_500s = harness.api_500s_since(log_offset)
    figures = {
        "workers": WORKERS,
        "workers_replaced_meanwhile": replaced,
        "slots_judged": len(by_slot),
        "slots_with_more_than_one_job": sum(1 for ids in by_slot.values() if len(ids) > 1),
        "slots_run_once": sum(1 for n in runs.values() if n == 1),
        "slots_missed": sum(1 for n in runs.values() if n == 0),
        "slots_run_more_than_once": sum(1 for n in runs.values() if n > 1),
        "slots_not_succeeded": not_succeeded,
        "cron_jobs_listed_outside_the_judged_slots": len(other_ids),
        "http_500s": http_500s,
        "evidence": {"slots_not_run_once": [f"{j} ({n} runs)" for j, n in not_once.items()][:20]},
    }
    return {
        "key": "cron",
        "title": f"Cron with {WORKERS} workers",
        "settings": settings,
        "took_s": round(time.monotonic() - started, 1),
        "figures": figures,
        "targets": [
            target("cron slots with ≠ 1 run", len(not_once), 0),
            target("cron runs that did not succeed", not_succeeded, 0),
            at_least("slots judged", len(by_slot), 10),
            target("HTTP 500s", http_500s, 0),
        ],
        "notes": [
            f"{WORKERS} workers, each scheduling `{FUNCTION}` every second, for {duration} s "
            "under ~5 webhook jobs/s; every whole second from 3 s after the start to 3 s "
            "before the end is a slot that must have exactly one job with one `started` event.",
            (
                f"Every {CHURN_EVERY_S:g} s the oldest worker gets SIGTERM and a replacement "
                "starts (crons across a rolling deploy)."
                if not harness.quick
                else "No worker is replaced in --quick."
            ),
            "The schedule is per second, not the default per minute, to judge many slots in a "
            "short run.",
        ],
    }


async def _churn(pool: WorkerPool, duration: float, every_s: float | None) -> int:
    """Wait `duration` seconds, replacing the oldest worker every `every_s` meanwhile."""
    if every_s is None:
        await asyncio.sleep(duration)
        return 0
    until, reaping = time.monotonic() + duration, []
    while time.monotonic() + every_s < until:
        await asyncio.sleep(every_s)
        leaving, sent_at = pool.running[0], time.monotonic()
        pool.sigterm(leaving)
        pool.spawn("cron")
        reaping.append(asyncio.to_thread(pool.reap, leaving, sent_at, 30.0))
    await asyncio.sleep(max(0.0, until - time.monotonic()))
    await asyncio.gather(*reaping)
    return len(reaping)


async def _listed(api: httpx.AsyncClient) -> dict[str, str]:
    """Every listed job of the cron function: id to status."""
    found: dict[str, str] = {}
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"function": FUNCTION, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/v1/jobs", params=params)).json()
        found.update({job["job_id"]: job["status"] for job in page["jobs"]})
        cursor = page["next_cursor"]
        if not cursor:
            return found
