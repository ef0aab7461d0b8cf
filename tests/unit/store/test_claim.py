"""The claim script (`claim.lua`, against fakeredis): a claimed job's start is recorded, a run
that never ended is a stall (not a try); leases renewed, and released once their worker is gone.
"""

import time

from jobqueue.store import keys
from jobqueue.store.claim import claim, release_gone
from jobqueue.store.client import TrackedRedis
from jobqueue.store.records import decode_hash
from jobqueue.store.statistics import read_job_counters
from jobqueue.worker.leases import Leases
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


async def test_renewal_forgets_what_the_worker_no_longer_holds(redis: TrackedRedis) -> None:
    leases = Leases("w1", lease_s=30)
    for job_id in ("running", "ended"):
        await redis.enqueue_job("echo", _job_id=job_id, message="hi")
        await start_job(redis, job_id, owner="w1")
        leases.hold(job_id)
    await redis.delete(keys.in_progress("ended"))  # as arq does at a job's end
    leases.release("ended")
    await leases.renew_now(redis)
    assert await redis.smembers(keys.leases("w1")) == {  # type: ignore[misc]
        keys.in_progress("running").encode()
    }
    assert 0 < await redis.pttl(keys.leases("w1")) <= 60_000  # two leases


async def test_the_leases_of_a_gone_worker_are_released_and_only_those(
    redis: TrackedRedis,
) -> None:
    now = time.time()
    await redis.zadd(keys.WORKERS, {"gone": now - 30, "alive": now})
    for job_id, owner in (("lost", "gone"), ("kept", "alive"), ("moved", "gone")):
        await redis.enqueue_job("echo", _job_id=job_id, message="hi")
        await start_job(redis, job_id, owner=owner)
    await redis.set(keys.in_progress("moved"), "alive")  # taken over since: not released
    released = await release_gone(redis, last_beat_before=now - 10)
    assert [(r.worker_id, r.job_id) for r in released] == [("gone", "lost")]
    assert await redis.exists(keys.in_progress("lost"), keys.leases("gone")) == 0
    assert await redis.get(keys.in_progress("kept")) == b"alive"
    assert await redis.get(keys.in_progress("moved")) == b"alive"
    assert await release_gone(redis, last_beat_before=now - 10) == []


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
