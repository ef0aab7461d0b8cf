"""Concurrent idempotency: 1,000 enqueues in flight at once naming the same job ids (one id
a thousand times, then a hundred ids ten times each). Each id must end up as exactly one job,
acknowledged by exactly one 202 (the rest 200), delivered exactly once.
"""

import asyncio
import random
import time
from collections import Counter, defaultdict
from typing import Any

from faults.figures import target
from faults.harness import Harness
from faults.load import Enqueuer

WORKERS = 4
IN_FLIGHT = 1000


async def run(harness: Harness) -> dict[str, Any]:
    shapes = [(1, 1000), (100, 10)] if harness.quick else [(1, 1000), (100, 10)] * 2
    pool = harness.pool("idempotency")
    pool.start("idempotency", WORKERS)
    enqueuer = Enqueuer(harness.api, harness.ledger.url(), "idem", hold=(0.0, 0.0))
    log_offset, started = harness.api_log_size(), time.monotonic()
    shuffle = random.Random(11)
    rounds = []
    for ids, copies in shapes:
        job_ids = [enqueuer.next_job()[0] for _ in range(ids)]
        calls = [job_id for job_id in job_ids for _ in range(copies)]
        shuffle.shuffle(calls)
        took = time.monotonic()
        await asyncio.gather(*(enqueuer.submit(job_id, 0.0) for job_id in calls))
        rounds.append({"ids": ids, "copies": copies, "took_s": round(time.monotonic() - took, 2)})
    accounts, http = await harness.settle(enqueuer, [])
    await asyncio.to_thread(pool.stop_all, 30)
    created: Counter[str] = Counter(a.job_id for a in enqueuer.tally.answers if a.status == 202)
    by_status: dict[str, Counter[int]] = defaultdict(Counter)
    for answer in enqueuer.tally.answers:
        by_status[answer.job_id][answer.status] += 1
    deliveries = Counter(d.job_id for d in harness.ledger.deliveries("idem-"))
    anomalies = {
        job_id: dict(statuses)
        for job_id, statuses in by_status.items()
        if created[job_id] != 1 or set(statuses) - {200, 202, 503} or deliveries[job_id] != 1
    }
    http_500s = http["http_500s_to_the_harness"] + harness.api_500s_since(log_offset)
    figures = {
        **accounts.figures(),
        **http,
        "http_500s": http_500s,
        "rounds": rounds,
        "requests": len(enqueuer.tally.answers),
        "job_ids": len(by_status),
        "ids_with_not_exactly_one_202": sum(1 for j in by_status if created[j] != 1),
        "ids_not_delivered_exactly_once": sum(1 for j in by_status if deliveries[j] != 1),
        "anomalies": len(anomalies),
    }
    figures["evidence"]["anomalies"] = [f"{j} {s}" for j, s in anomalies.items()][:20]
    return {
        "key": "idempotency",
        "title": "Concurrent idempotency",
        "settings": {},
        "took_s": round(time.monotonic() - started, 1),
        "figures": figures,
        "targets": [
            target("idempotency anomalies", len(anomalies), 0),
            target("acknowledged jobs lost", len(accounts.lost), 0),
            target("HTTP 500s", http_500s, 0),
        ],
        "notes": [
            f"{IN_FLIGHT} concurrent `POST /v1/jobs` per round over loopback (one connection "
            "each), with the same body per id; rounds: "
            + ", ".join(f"{r['ids']} id(s) x {r['copies']}" for r in rounds)
            + ". A 503 is sent again (same id) until acknowledged.",
            "An anomaly: an id with other than exactly one 202, an answer other than 200, "
            "202 or 503, or other than exactly one delivery to the ledger.",
        ],
    }
