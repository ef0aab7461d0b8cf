"""The claim script (`claim.lua`, against fakeredis): a claimed job's start is recorded, a run
that never ended is a stall (not a try)."""

import time

from jobqueue.store import keys
from jobqueue.store.claim import claim
from jobqueue.store.client import TrackedRedis
from jobqueue.store.records import decode_hash
from jobqueue.store.statistics import read_job_counters
from tests.helpers.redis_data import QUEUE, start_job, stream_events


async def record(redis: TrackedRedis, job_id: str) -> dict[str, str]:
    return decode_hash(await redis.hgetall(keys.record(job_id)))  # type: ignore[misc]


async def test_a_claim_records_the_start_with_its_try(redis: TrackedRedis) -> None:
    await redis.enqueue_job("echo", _job_id="j", message="hi")
    before_ms = int(time.time() * 1000)
    claimed = await start_job(redis, "j", owner="w1")
    assert (claimed.job_id, claimed.stalls) == ("j", 0)
    started = await record(redis, "j")
    assert (started["status"], started["tries"]) == ("in_progress", "1")
    assert int(started["start_ms"]) >= before_ms
    assert await redis.zcard(keys.index(status="waiting")) == 0
    assert await redis.zcard(keys.index(status="in_progress", function="echo")) == 1
    [_, event] = await stream_events(redis, keys.job_events("j"))
    assert (event["type"], event["try"]) == ("started", 1)
    assert await redis.get(keys.in_progress("j")) == b"w1"
    assert await redis.smembers(keys.leases("w1")) == {keys.in_progress("j").encode()}  # type: ignore[misc]


async def test_a_run_that_never_ended_is_a_stall_and_gives_its_try_back(
    redis: TrackedRedis,
) -> None:
    await redis.enqueue_job("echo", _job_id="j", message="hi")
    await start_job(redis, "j", owner="w1")
    await redis.delete(keys.in_progress("j"))  # w1 died; its lease ran out
    again = await start_job(redis, "j", owner="w2")
    assert again.stalls == 1
    assert await redis.get(keys.retry("j")) == b"1"  # the same try again
    assert (await record(redis, "j"))["stalls"] == "1"
    assert (await read_job_counters(redis)).stalled == {"echo": 1}
    tries = [e["try"] for e in (await stream_events(redis, keys.job_events("j")))[1:]]
    assert tries == [1, 1]


async def test_no_start_is_recorded_for_a_job_arq_ends_without_running(
    redis: TrackedRedis,
) -> None:
    await redis.enqueue_job("echo", _job_id="used-up", message="hi")
    await redis.set(keys.retry("used-up"), 3)  # its tries used up (runs cancelled outside)
    [claimed] = await claim(
        redis,
        QUEUE,
        ["used-up"],
        now_ms=int(time.time() * 1000),
        lease_ms=15_000,
        owner="w1",
        aborts=False,
        limit=1,
        events_max_length=1000,
        max_tries={"echo": 3},
    )
    redis.forget(claimed.opening)
    assert (await record(redis, "used-up"))["status"] == "waiting"  # arq fails it at once
    assert [e["type"] for e in await stream_events(redis, keys.job_events("used-up"))] == [
        "enqueued"
    ]
