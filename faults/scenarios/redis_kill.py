"""Redis `kill -9` and a restart on its append-only file (fsync on every write), under load:
no acknowledged job may be lost, and the API and the workers must carry on without a restart.
"""

import asyncio
import time
from typing import Any

import httpx

from faults.figures import spread, target
from faults.harness import Harness, common_targets
from faults.ledger import ANSWERED
from faults.load import Enqueuer
from faults.stack import kill_redis

WORKERS = 4


async def run(harness: Harness) -> dict[str, Any]:
    kills_wanted, down_s = (1, 2.0) if harness.quick else (3, 4.0)
    pool = harness.pool("redis-kill")
    pool.start("redis-kill", WORKERS)
    workers = list(pool.running)
    enqueuer = Enqueuer(harness.api, harness.ledger.url(), "rkill", hold=(0.2, 1.5))
    log_offset, started = harness.api_log_size(), time.monotonic()
    stop = asyncio.Event()
    load = asyncio.create_task(enqueuer.run(rate=12, stop=stop))
    heal_s: list[float] = []
    restarted_at = 0.0
    for _ in range(kills_wanted):
        await asyncio.sleep(4)
        kill_redis(harness.redis)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(harness.redis.start)  # same port, same append-only file
        restarted_at = time.monotonic()
        heal_s.append(await _ready_again(harness.api, restarted_at) - restarted_at)
    await asyncio.sleep(4)
    stop.set()
    await load
    accounts, http = await harness.settle(enqueuer, [])
    answered_after = {
        d.pid
        for d in harness.ledger.deliveries("rkill-")
        if d.outcome == ANSWERED and d.arrived > restarted_at
    }
    exited = [w.name for w in workers if not w.is_running()]
    unhealed = [w.name for w in workers if w.pid not in answered_after]
    await asyncio.to_thread(pool.stop_all, 30)
    http_500s = http["http_500s_to_the_harness"] + harness.api_500s_since(log_offset)
    figures = {
        **accounts.figures(),
        **http,
        "http_500s": http_500s,
        "redis_kills": kills_wanted,
        "redis_down_s_each": down_s,
        "api_ready_again_s": spread(heal_s),
        "api_restarted": not harness.api_process.is_running(),
        "workers_exited": exited,
        "workers_without_a_delivery_after_the_last_restart": unhealed,
    }
    return {
        "key": "redis_kill",
        "title": "Redis kill -9 + restart (AOF)",
        "settings": {},
        "took_s": round(time.monotonic() - started, 1),
        "figures": figures,
        "targets": [
            *common_targets(accounts, http_500s),
            target("workers that did not heal without a restart", len(set(exited + unhealed)), 0),
            target("API ready again after the restart (s)", max(heal_s, default=None), 10),
        ],
        "notes": [
            f"{WORKERS} workers under ~12 webhook jobs/s (held 0.2-1.5 s); Redis SIGKILLed "
            f"{kills_wanted} time(s), {down_s:g} s down each, restarted on the same port from "
            "its append-only file (`appendfsync always`).",
            "Enqueues answered 503 while Redis was down are sent again with the same job id "
            "(README: a 503 means maybe enqueued); only acknowledged jobs are owed.",
            "Healed: every worker started before the kills (none restarted) delivered a job "
            "after the last restart, and the API answered `/readyz` 200 again. The 10 s bound "
            "on the API is this harness's, not the issue's.",
        ],
    }


async def _ready_again(api: httpx.AsyncClient, since: float, within_s: float = 60.0) -> float:
    while time.monotonic() - since < within_s:
        try:
            if (await api.get("/readyz")).status_code == 200:
                return time.monotonic()
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    return float("inf")
