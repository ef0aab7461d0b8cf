"""Redis stalls and cut connections under load: `CLIENT PAUSE <ms> ALL` (every client's
commands wait), then `CLIENT KILL` of every other normal and pub/sub connection (the API's
and the workers'). Nothing acknowledged may be lost, no request may answer 500, and live
workers must not release each other's jobs (that would show as duplicated deliveries).
"""

import asyncio
import time
from typing import Any

from faults.figures import target
from faults.harness import Harness, common_targets
from faults.load import Enqueuer

WORKERS = 4
PAUSE_MS = 5000


async def run(harness: Harness) -> dict[str, Any]:
    rounds = 1 if harness.quick else 4
    pool = harness.pool("redis-stall")
    pool.start("redis-stall", WORKERS)
    workers = list(pool.running)
    enqueuer = Enqueuer(harness.api, harness.ledger.url(), "stall", hold=(0.2, 1.5))
    log_offset, started = harness.api_log_size(), time.monotonic()
    stop = asyncio.Event()
    load = asyncio.create_task(enqueuer.run(rate=12, stop=stop))
    killed = 0
    with harness.admin() as admin:
        for _ in range(rounds):
            await asyncio.sleep(3)
            admin.execute_command("CLIENT", "PAUSE", PAUSE_MS, "ALL")
            await asyncio.sleep(PAUSE_MS / 1000 + 2)
            for kind in ("normal", "pubsub"):  # SKIPME yes: not this connection
                killed += int(admin.execute_command("CLIENT", "KILL", "TYPE", kind))
    await asyncio.sleep(4)
    stop.set()
    await load
    accounts, http = await harness.settle(enqueuer, [])
    exited = [w.name for w in workers if not w.is_running()]
    await asyncio.to_thread(pool.stop_all, 30)
    http_500s = http["http_500s_to_the_harness"] + harness.api_500s_since(log_offset)
    figures = {
        **accounts.figures(),
        **http,
        "http_500s": http_500s,
        "pauses": rounds,
        "pause_ms": PAUSE_MS,
        "connections_killed": killed,
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
            target("workers exited", len(exited), 0),
        ],
        "notes": [
            f"{WORKERS} workers under ~12 webhook jobs/s (held 0.2-1.5 s); {rounds} round(s) "
            f"of `CLIENT PAUSE {PAUSE_MS} ALL`, then, 2 s after it ends, `CLIENT KILL TYPE "
            "normal` and `TYPE pubsub` (every connection but the harness's own).",
            "Default leases (15 s) and liveness window (10 s): a 5 s pause is longer than the "
            "API's and the workers' 2 s Redis timeout, so both see it as an outage.",
        ],
    }
