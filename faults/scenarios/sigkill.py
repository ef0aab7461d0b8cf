"""SIGKILL chaos: workers killed at random under load, each replaced at once.

Recovery is measured per job whose delivery a kill cut: from the kill to the job's next
delivery, which must come from another worker. The stall limit is raised so that a job hit by
several kills is still run (the stalls are counted, not hidden).
"""

import asyncio
import random
import time
from typing import Any

from faults.figures import at_least, spread, target
from faults.harness import Harness, common_targets
from faults.load import Enqueuer
from faults.recovery import busy_workers, recoveries

STALL_LIMIT = "1000"
QUICK_LEASES = {  # (the full run keeps the defaults: 15 s lease, 10 s liveness window)
    "JOBQUEUE_WORKER_LEASE": "3",
    "JOBQUEUE_WORKER_HEARTBEAT_INTERVAL": "0.5",
    "JOBQUEUE_WORKER_LIVENESS_WINDOW": "2",
}
WORKERS = 4


async def run(harness: Harness) -> dict[str, Any]:
    quick = harness.quick
    settings = {"JOBQUEUE_WORKER_STALL_LIMIT": STALL_LIMIT, **(QUICK_LEASES if quick else {})}
    kills_wanted, gap = (3, (2.0, 3.0)) if quick else (16, (6.0, 10.0))
    pool = harness.pool("sigkill", **settings)
    pool.start("sigkill", WORKERS)
    enqueuer = Enqueuer(harness.api, harness.ledger.url(), "kill", hold=(0.5, 3.0))
    log_offset, started = harness.api_log_size(), time.monotonic()
    stop = asyncio.Event()
    load = asyncio.create_task(enqueuer.run(rate=12, stop=stop))
    chooser = random.Random(7)
    kills: list[tuple[int, float]] = []
    await asyncio.sleep(3)
    while len(kills) < kills_wanted:
        await asyncio.sleep(chooser.uniform(*gap))
        busy = busy_workers(harness.ledger.deliveries("kill-"), {w.pid for w in pool.running})
        victims = [w for w in pool.running if w.pid in busy] or pool.running
        victim = chooser.choice(victims)
        pool.sigkill(victim)
        kills.append((victim.pid, time.monotonic()))
        pool.spawn("sigkill")  # the replacement, not waited for
    await asyncio.sleep(3)  # load goes on past the last kill
    stop.set()
    await load
    accounts, http = await harness.settle(enqueuer, kills)
    recovery, unrecovered, same_worker = recoveries(harness.ledger.deliveries("kill-"), kills)
    exits = await asyncio.to_thread(pool.stop_all, 30)
    http_500s = http["http_500s_to_the_harness"] + harness.api_500s_since(log_offset)
    figures = {
        **accounts.figures(),
        **http,
        "http_500s": http_500s,
        "workers": WORKERS,
        "sigkills": len(kills),
        "cut_deliveries": len(recovery) + len(unrecovered),
        "recovery_s": spread(recovery),
        "cut_jobs_never_run_again": unrecovered[:20],
        "rerun_on_the_killed_worker": same_worker,
        "leases_released_by_live_workers": pool.log_events("worker.lease_released"),
        "final_stop_exit_codes": sorted({str(e.code) for e in exits}),
    }
    after_kill = figures["duplicated_after_deliverer_killed"]
    observations = (
        [
            f"{after_kill} job(s) ran again after an answered delivery because its worker was "
            "SIGKILLed before it recorded the end (within 1 s of the answer, or before its log "
            "reached the run's end): at-least-once, as the README says (jobs must be "
            "idempotent); not counted as duplicated."
        ]
        if after_kill
        else []
    )
    return {
        "key": "sigkill",
        "observations": observations,
        "title": "SIGKILL chaos",
        "settings": settings,
        "took_s": round(time.monotonic() - started, 1),
        "figures": figures,
        "targets": [
            *common_targets(accounts, http_500s),
            target("SIGKILL recovery p99 (s)", figures["recovery_s"]["p99"], 20),
            target("cut jobs never run again", len(unrecovered), 0),
            at_least("runs cut by the kills", figures["cut_deliveries"], 1),
            target("jobs run again on the worker that was killed", same_worker, 0),
        ],
        "notes": [
            f"{WORKERS} workers under ~12 webhook jobs/s (each held 0.5-3 s by the ledger); "
            f"a worker with a job in hand SIGKILLed every {gap[0]:g}-{gap[1]:g} s and replaced "
            "at once.",
            "Leases: the defaults (15 s lease, 10 s liveness window)."
            if not quick
            else "Leases shortened for --quick (3 s lease, 2 s liveness window): the recovery "
            "target is stated for the defaults and is only checked by the full run.",
            f"JOBQUEUE_WORKER_STALL_LIMIT={STALL_LIMIT} so that jobs hit by several kills "
            "still run; their stalls are counted above.",
        ],
    }
