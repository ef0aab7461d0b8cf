"""Redis out of memory (`maxmemory` under `noeviction`) under load: enqueues must be refused
with 503 and `Retry-After` (never acknowledged while Redis is past its limit), no worker may
exit, and once there is room again everything acknowledged completes.

Phases: the limit set just above what Redis holds (enqueues meet the API's high-water mark),
then Redis pushed past it (junk written, the limit set below what it holds, as after a write
that took it over), then room made (the junk deleted, the limit lifted with CONFIG SET).
"""

import asyncio
import contextlib
import time
from typing import Any

import redis.asyncio
import redis.exceptions

from faults.figures import at_least, target
from faults.harness import Harness, common_targets
from faults.load import Answer, Enqueuer

WORKERS = 4
JUNK = "faults:junk:"
MiB = 1024 * 1024
FULL_S = 8.0
HIGH_WATER = 0.95  # JOBQUEUE_REDIS_MEMORY_HIGH_WATER's default


async def run(harness: Harness) -> dict[str, Any]:
    pool = harness.pool("redis-oom")
    pool.start("redis-oom", WORKERS)
    workers = list(pool.running)
    enqueuer = Enqueuer(harness.api, harness.ledger.url(), "oom", hold=(0.1, 0.5))
    log_offset, started = harness.api_log_size(), time.monotonic()
    admin = redis.asyncio.Redis(port=harness.redis.port, socket_timeout=10)
    samples: list[tuple[float, int, int]] = []  # (when, used_memory, maxmemory)
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample(admin, samples, stop))
    load = asyncio.create_task(enqueuer.run(rate=20, stop=stop))
    try:
        await asyncio.sleep(3)
        await admin.config_set("maxmemory", int(await _used(admin) / 0.975))
        # approaching the limit: past the API's high-water mark, not yet past maxmemory
        readyz_past_high_water = await _readyz_past_high_water(harness, admin, 6.0)
        full_from = time.monotonic()
        await _push_past_the_limit(admin)
        readyz_while_full = await _keep_past_the_limit(harness, admin, FULL_S)
        full_until = time.monotonic()
        await _make_room(admin)
        await asyncio.sleep(2)
    finally:
        stop.set()
        await asyncio.gather(load, sampler)
        await _make_room(admin)
        await admin.aclose()
    accounts, http = await harness.settle(enqueuer, [])
    exited = [w.name for w in workers if not w.is_running()]
    await asyncio.to_thread(pool.stop_all, 30)
    answers = enqueuer.tally.answers
    past = _answered_past_the_limit(answers, samples)
    during = [a for a in answers if full_from <= a.sent and a.received <= full_until]
    http_500s = http["http_500s_to_the_harness"] + harness.api_500s_since(log_offset)
    figures = {
        **accounts.figures(),
        **http,
        "http_500s": http_500s,
        "202s_answered_past_maxmemory": len(past),
        "202s_past_maxmemory_job_ids": [a.job_id for a in past][:20],
        "enqueues_while_full": len(during),
        "enqueue_503s_while_full": sum(1 for a in during if a.status == 503),
        "memory_samples_while_full": sum(1 for s in samples if full_from <= s[0] <= full_until),
        "of_which_past_maxmemory": sum(
            1 for when, used, cap in samples if full_from <= when <= full_until and used > cap > 0
        ),
        "readyz_past_high_water_below_maxmemory": _counted(readyz_past_high_water),
        "readyz_while_full": _counted(readyz_while_full),
        "workers_exited": exited,
    }
    ready = figures["readyz_past_high_water_below_maxmemory"].get("200", 0)
    observations = (
        [
            f"`/readyz` answered 200 (ready) {ready} time(s) while Redis was past the high-water "
            "mark but under maxmemory, where every enqueue is refused with 503: readiness and "
            "admission disagree there (past maxmemory it answers 503)."
        ]
        if ready
        else []
    )
    return {
        "key": "redis_oom",
        "observations": observations,
        "title": "Redis out of memory",
        "settings": {},
        "took_s": round(time.monotonic() - started, 1),
        "figures": figures,
        "targets": [
            *common_targets(accounts, http_500s),
            target("202s answered while past maxmemory", len(past), 0),
            target("worker exits on OOM", len(exited), 0),
            at_least("enqueues sent while Redis was full", len(during), 1),
            at_least("of them answered 503", figures["enqueue_503s_while_full"], len(during)),
            target("enqueue 503s without Retry-After", http["enqueue_503s_without_retry_after"], 0),
        ],
        "notes": [
            f"{WORKERS} workers under ~20 webhook jobs/s (held 0.1-0.5 s). `maxmemory` set so "
            "that what Redis held is 97.5% of it (past the API's 95% high-water mark) for 6 s, "
            "then Redis pushed past it (1 MiB of junk, the "
            "limit set 256 KiB below what it held, and lowered again whenever Redis freed "
            f"memory below it) for {FULL_S:g} s, then the junk deleted and the "
            "limit lifted (`CONFIG SET maxmemory 0`).",
            '`/readyz` is sampled every 0.25 s in both phases; "past high water" counts the '
            "samples taken while used_memory was between 95% of maxmemory (the default "
            "JOBQUEUE_REDIS_MEMORY_HIGH_WATER, where enqueues get 503) and maxmemory.",
            "A 202 counts as answered past maxmemory when every memory sample (INFO, every "
            "0.1 s) from just before it was sent to just after it was answered shows "
            "used_memory above maxmemory.",
        ],
    }


async def _used(admin: redis.asyncio.Redis) -> int:
    memory = await admin.info("memory")
    return int(memory["used_memory"])


async def _sample(
    admin: redis.asyncio.Redis, samples: list[tuple[float, int, int]], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        memory = await admin.info("memory")
        samples.append((time.monotonic(), int(memory["used_memory"]), int(memory["maxmemory"])))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def _push_past_the_limit(admin: redis.asyncio.Redis) -> None:
    with contextlib.suppress(redis.exceptions.OutOfMemoryError):  # already full: fine
        await admin.mset({f"{JUNK}{n}": "x" * 16384 for n in range(64)})
    await admin.config_set("maxmemory", await _used(admin) - MiB // 4)


async def _readyz_past_high_water(
    harness: Harness, admin: redis.asyncio.Redis, seconds: float
) -> list[int]:
    """`/readyz`'s answers while Redis is between the high-water mark and maxmemory."""
    readyz: list[int] = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        memory = await admin.info("memory")
        used, cap = int(memory["used_memory"]), int(memory["maxmemory"])
        status = (await harness.api.get("/readyz")).status_code
        if cap and HIGH_WATER * cap < used <= cap:
            readyz.append(status)
        await asyncio.sleep(0.25)
    return readyz


async def _keep_past_the_limit(
    harness: Harness, admin: redis.asyncio.Redis, seconds: float
) -> list[int]:
    """Redis frees memory as jobs end (their keys go): the limit follows it down, so Redis
    stays past it throughout. `/readyz`'s answers meanwhile."""
    readyz: list[int] = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        memory = await admin.info("memory")
        if int(memory["used_memory"]) <= int(memory["maxmemory"]):
            await admin.config_set("maxmemory", int(memory["used_memory"]) - MiB // 4)
        readyz.append((await harness.api.get("/readyz")).status_code)
        await asyncio.sleep(0.25)
    return readyz


async def _make_room(admin: redis.asyncio.Redis) -> None:
    junk = [key async for key in admin.scan_iter(f"{JUNK}*", count=1000)]
    if junk:
        await admin.delete(*junk)
    await admin.config_set("maxmemory", 0)


def _counted(statuses: list[int]) -> dict[str, int]:
    return {str(code): statuses.count(code) for code in sorted(set(statuses))}


def _answered_past_the_limit(
    answers: list[Answer], samples: list[tuple[float, int, int]]
) -> list[Answer]:
    past = []
    for answer in answers:
        if answer.status != 202:
            continue
        before = [s for s in samples if s[0] <= answer.sent][-1:]
        after = [s for s in samples if s[0] >= answer.received][:1]
        around = before + [s for s in samples if answer.sent < s[0] < answer.received] + after
        if len(before) == len(after) == 1 and all(cap and used > cap for _, used, cap in around):
            past.append(answer)
    return past
