"""Redis stalls and cut connections under load: `CLIENT PAUSE <ms> ALL` (every client's
commands wait), then `CLIENT KILL` of every other normal and pub/sub connection (the API's
and the workers'). Nothing acknowledged may be lost, no request may answer 500, and live
workers must not release each other's jobs (that would show as duplicated deliveries).
"""

import asyncio
import time
from typing import Any

from faults.figures import spread, target
from faults.harness import Harness, common_targets
from faults.load import Enqueuer
from faults.recovery import busy_workers, recoveries
from faults.stack import WorkerPool

WORKERS = 4
PAUSE_MS = 5000
RECOVERY_ROOM_S = 18.5


def _kill_a_busy_worker(harness: Harness, pool: WorkerPool) -> tuple[int, float]:
    busy = busy_workers(harness.ledger.deliveries("stall-"), {w.pid for w in pool.running})
    victim = next((w for w in pool.running if w.pid in busy), pool.running[0])
    pool.sigkill(victim)
    pool.spawn("redis-stall")
    return victim.pid, time.monotonic()


async def run(harness: Harness) -> dict[str, Any]:
    rounds = 1 if harness.quick else 3
    pool = harness.pool("redis-stall")
    pool.start("redis-stall", WORKERS)
    workers = list(pool.running)
    enqueuer = Enqueuer(harness.api, harness.ledger.url(), "stall", hold=(0.2, 1.5))
    log_offset, started = harness.api_log_size(), time.monotonic()
    stop = asyncio.Event()
    load = asyncio.create_task(enqueuer.run(rate=12, stop=stop))
    killed, sigkills = 0, []
    with harness.admin() as admin:
        for round_ in range(rounds):
            # The next pause comes a lease + 5 s after the kill: a pause stops every recovery.
            await asyncio.sleep(3 if round_ == 0 else RECOVERY_ROOM_S)
            admin.execute_command("CLIENT", "PAUSE", PAUSE_MS, "ALL")
            await asyncio.sleep(PAUSE_MS / 1000 + 0.5)
            # Just after a stall no worker has reached Redis promptly for a whole liveness
            # window: a worker killed now must still have its jobs run again in time.
            sigkills.append(_kill_a_busy_worker(harness, pool))
            await asyncio.sleep(1.5)
            for kind in ("normal", "pubsub"):  # SKIPME yes: not this connection
                killed += int(admin.execute_command("CLIENT", "KILL", "TYPE", kind))
    await asyncio.sleep(RECOVERY_ROOM_S)
    stop.set()
    await load
    accounts, http = await harness.settle(enqueuer, sigkills)
    recovery, unrecovered, _ = recoveries(harness.ledger.deliveries("stall-"), sigkills)
    killed_pids = {pid for pid, _ in sigkills}
    exited = [w.name for w in workers if not w.is_running() and w.pid not in killed_pids]
    await asyncio.to_thread(pool.stop_all, 30)
    http_500s = http["http_500s_to_the_harness"] + harness.api_500s_since(log_offset)
    figures = {
        **accounts.figures(),
        **http,
        "http_500s": http_500s,
        "pauses": rounds,
        "pause_ms": PAUSE_MS,
        "connections_killed": killed,
        "sigkills_after_a_pause": len(sigkills),
        "recovery_s": spread(recovery),
        "cut_jobs_never_run_again": unrecovered[:20],
        "workers_exited": exited,
    }
    return {
        "key": "redis_stall",
        "title": "CLIENT PAUSE and CLIENT KILL",
        "settings": {},
        "took_s": round(time.monotonic() - started, 1),
        "figures": figures,
        "targets": [
            *common_targets(accounts, http_500s),
            target("workers exited (not killed by the harness)", len(exited), 0),
            target("SIGKILL recovery p99 after a stall (s)", figures["recovery_s"]["p99"], 20),
            target("cut jobs never run again", len(unrecovered), 0),
        ],
        "notes": [
            f"{WORKERS} workers under ~12 webhook jobs/s (held 0.2-1.5 s); {rounds} round(s) "
            f"of `CLIENT PAUSE {PAUSE_MS} ALL`; 0.5 s after it ends a worker with a job in hand is "
            "SIGKILLed (and replaced), 1.5 s later `CLIENT KILL TYPE normal` and `TYPE pubsub` "
            "(every connection but the harness's own).",
            "Default leases (15 s) and liveness window (10 s): a 5 s pause is longer than the "
            "API's and the workers' 2 s Redis timeout, so both see it as an outage.",
            f"Rounds are {RECOVERY_ROOM_S:g} s apart after the CLIENT KILL: with pauses every "
            "10 s (a first version of this scenario), the jobs of a worker killed after one "
            "pause ran again only once the next pauses had ended (recovery up to 20.3 s), "
            "since nothing runs while Redis is paused; that was the harness's doing.",
        ],
    }
