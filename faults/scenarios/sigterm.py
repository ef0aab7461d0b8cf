"""Rolling SIGTERM deploy: the oldest worker told to stop, a replacement started at once, over
and over under load. Jobs held longer than the grace are cut by their worker and must go back
without their try counted (an `interrupted` event); the worker must exit 0 within the grace
plus the README's 8 s backstop.
"""

import asyncio
import time
from collections import Counter
from typing import Any

from faults.events import count_events
from faults.figures import at_least, target
from faults.harness import Harness, common_targets
from faults.ledger import ANSWERED, CUT, Delivery
from faults.load import Enqueuer
from faults.stack import Exit

WORKERS = 4
BACKSTOP_S = 8.0  # README: "it exits 0 at most 8 s after the grace (worker.hard_exit)"
SLACK_S = 2.0


async def run(harness: Harness) -> dict[str, Any]:
    quick = harness.quick
    grace = 1.0 if quick else 2.0
    sigterms_wanted, every_s = (5, 2.0) if quick else (52, 2.5)
    settings = {"JOBQUEUE_WORKER_SHUTDOWN_GRACE": str(grace)}
    pool = harness.pool("sigterm", **settings)
    pool.start("sigterm", WORKERS)
    enqueuer = Enqueuer(harness.api, harness.ledger.url(), "term", hold=(0.2, 2 * grace + 1))
    log_offset, started = harness.api_log_size(), time.monotonic()
    stop = asyncio.Event()
    load = asyncio.create_task(enqueuer.run(rate=12, stop=stop))
    reaping: list[asyncio.Task[Exit]] = []
    await asyncio.sleep(2)
    for _ in range(sigterms_wanted):
        leaving = pool.running[0]  # the oldest
        sent_at = time.monotonic()
        pool.sigterm(leaving)
        pool.spawn("sigterm")
        within = grace + BACKSTOP_S + SLACK_S
        reaping.append(asyncio.create_task(asyncio.to_thread(pool.reap, leaving, sent_at, within)))
        await asyncio.sleep(every_s)
    exits = list(await asyncio.gather(*reaping))
    await asyncio.sleep(2)
    stop.set()
    await load
    ignored = [e for e in exits if e.code is None]
    kills = [(e.pid, e.ended) for e in ignored]  # (one SIGKILLed may run a job twice)
    accounts, http = await harness.settle(enqueuer, kills)
    cut_jobs = sorted({d.job_id for d in harness.ledger.deliveries("term-") if d.outcome == CUT})
    events = await count_events(harness.api, sorted({*cut_jobs, *accounts.duplicated}))
    interrupted = sum(events[job_id]["interrupted"] for job_id in cut_jobs)
    final = await asyncio.to_thread(pool.stop_all, 30)
    http_500s = http["http_500s_to_the_harness"] + harness.api_500s_since(log_offset)
    nonzero = [e for e in exits if e.code not in (0, None)]
    figures = {
        **accounts.figures(),
        **http,
        "http_500s": http_500s,
        "sigterms": len(exits),
        "sigterms_ignored": len(ignored),
        "worker_exits_not_0": len(nonzero),
        "exit_codes": {str(k): v for k, v in Counter(str(e.code) for e in exits).items()},
        "stop_s_max": round(max((e.took_s for e in exits), default=0.0), 2),
        "deliveries_cut_by_the_deploy": sum(
            1 for d in harness.ledger.deliveries("term-") if d.outcome == CUT
        ),
        "interrupted_events": interrupted,
        "cut_jobs_without_interrupted_event": [
            job_id for job_id in cut_jobs if not events[job_id]["interrupted"]
        ][:20],
        "final_stop_exit_codes": sorted({str(e.code) for e in final}),
    }
    deadlines = {e.pid: e.ended - e.took_s + grace for e in exits}
    observations = [
        _duplicate(job_id, harness.ledger.deliveries(job_id), deadlines, events[job_id])
        for job_id in accounts.duplicated
    ]
    return {
        "key": "sigterm",
        "observations": observations,
        "title": "Rolling SIGTERM deploy",
        "settings": settings,
        "took_s": round(time.monotonic() - started, 1),
        "figures": figures,
        "targets": [
            # (no duplicated-delivery target: a job whose work ends right at its worker's grace
            # deadline can be cut after its effect, and runs again; it is explained below)
            *common_targets(accounts, http_500s, duplicates=False),
            target("SIGTERMs ignored", len(ignored), 0),
            target("worker exits ≠ 0 after SIGTERM", len(nonzero), 0),
            target("tries burnt by the deploy", accounts.tries_burnt, 0),
            at_least("runs cut by the deploy", figures["deliveries_cut_by_the_deploy"], 1),
        ],
        "notes": [
            f"{WORKERS} workers under ~12 webhook jobs/s, each held 0.2-{2 * grace + 1:g} s; "
            f"every {every_s:g} s the oldest worker gets SIGTERM and a replacement starts at "
            "once.",
            f"Grace shortened to {grace:g} s (default 20 s) so that deploys cut jobs longer "
            "than it: those must come back as the same try.",
            f"A SIGTERM counts as ignored when the worker still runs {grace:g} s + "
            f"{BACKSTOP_S:g} s backstop + {SLACK_S:g} s slack after it (then it is SIGKILLed).",
        ],
    }


def _duplicate(
    job_id: str, deliveries: list[Delivery], deadlines: dict[int, float], events: Counter[str]
) -> str:
    """Why a job ran again after its delivery was answered: how close the answer came to its
    worker's grace deadline, and whether the run was then put back as interrupted."""
    answered = next(d for d in deliveries if d.outcome == ANSWERED)
    deadline = deadlines.get(answered.pid or -1)
    when = (
        f"{(deadline - (answered.ended or 0)) * 1000:.0f} ms before its worker's grace ran out"
        if deadline is not None
        else "by a worker not stopped by the deploy"
    )
    return (
        f"`{job_id}` was delivered again after its delivery was answered {when}; its events: "
        f"{dict(events)} (a cancel at the grace deadline that lands after the job's effect but "
        "before its end is recorded puts it back as interrupted: it runs twice)."
    )
