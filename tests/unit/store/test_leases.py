"""Keeping claims (`renew.lua`, against fakeredis): leases renewed while held, the lease set
pruned, jobs another worker took reported, and a gone worker's leases released, and only
those, by a worker Redis has seen promptly for a whole liveness window."""

import time

from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from jobqueue.store.leases import Renewal, renew, retire
from tests.helpers.redis_data import start_job

WINDOW_MS = 10_000


async def call(redis: TrackedRedis, owner: str, *job_ids: str) -> Renewal:
    return await renew(
        redis, owner, job_ids, lease_ms=30_000, alive_ms=WINDOW_MS, prompt_gap_ms=3_000
    )


async def released(redis: TrackedRedis, owner: str, *job_ids: str) -> list[tuple[str, str]]:
    return [(r.worker_id, r.job_id) for r in (await call(redis, owner, *job_ids)).released]


async def prompt_for_a_window(redis: TrackedRedis, owner: str) -> None:
    """As if Redis had seen `owner`'s calls a tick apart for a whole window, the last just now."""
    since = int(time.time() * 1000) - WINDOW_MS - 1
    await redis.set(keys.alive(owner), since, px=WINDOW_MS)


async def gone_worker_holding(redis: TrackedRedis, job_id: str) -> None:
    """`job_id` running on worker "dead", whose alive key has run out (as a window after its
    last call)."""
    await redis.enqueue_job("echo", _job_id=job_id, message="hi")
    await start_job(redis, job_id, owner="dead")
    await call(redis, "dead", job_id)
    await redis.delete(keys.alive("dead"))


async def test_renewal_extends_only_held_leases_and_reports_taken_ones(
    redis: TrackedRedis,
) -> None:
    for job_id in ("running", "ended", "taken"):
        await redis.enqueue_job("echo", _job_id=job_id, message="hi")
        await start_job(redis, job_id, owner="w1", lease_ms=1_000)
    await redis.delete(keys.in_progress("ended"))  # as arq does at a job's end
    await redis.set(keys.in_progress("taken"), "w2", px=1_000)  # taken over meanwhile
    renewal = await call(redis, "w1", "running", "ended", "taken")
    assert (renewal.renewed, renewal.lost) == (1, ["taken"])
    assert 20_000 < await redis.pttl(keys.in_progress("running")) <= 30_000
    assert await redis.pttl(keys.in_progress("taken")) <= 1_000  # not ours: untouched
    assert await redis.exists(keys.in_progress("ended")) == 0  # a job that ended: not revived
    members = await redis.smembers(keys.leases("w1"))  # type: ignore[misc]
    assert members == {keys.in_progress("running").encode()}
    assert 0 < await redis.pttl(keys.alive("w1")) <= WINDOW_MS


async def test_the_leases_of_a_gone_worker_are_released_and_only_those(
    redis: TrackedRedis,
) -> None:
    for job_id, owner in (("lost", "gone"), ("kept", "alive"), ("moved", "gone")):
        await redis.enqueue_job("echo", _job_id=job_id, message="hi")
        await start_job(redis, job_id, owner=owner)
    await call(redis, "gone", "lost", "moved")
    await prompt_for_a_window(redis, "alive")
    await redis.set(keys.in_progress("moved"), "alive")  # taken over since: not released
    assert await released(redis, "alive", "kept") == []  # everyone is alive
    await redis.delete(keys.alive("gone"))  # as its TTL does, a window after its last call
    assert await released(redis, "alive", "kept") == [("gone", "lost")]
    assert await redis.exists(keys.in_progress("lost"), keys.leases("gone")) == 0
    assert await redis.get(keys.in_progress("kept")) == b"alive"
    assert await redis.get(keys.in_progress("moved")) == b"alive"
    assert await released(redis, "alive", "kept") == []  # once


async def test_only_a_worker_redis_has_seen_promptly_for_a_window_judges(
    redis: TrackedRedis,
) -> None:
    await gone_worker_holding(redis, "orphan")
    assert await released(redis, "new") == []  # its first call: not seen for a window yet
    assert await released(redis, "new") == []  # prompt, but not for a window
    # prompt for a window once, but its last call a stall ago (9 s: Redis stalled, or its
    # clock jumped): it starts again, as every other worker must refresh its own key first
    await prompt_for_a_window(redis, "stalled")
    await redis.pexpire(keys.alive("stalled"), 1_000)
    assert await released(redis, "stalled") == []
    assert await released(redis, "stalled") == []
    await prompt_for_a_window(redis, "steady")
    assert await released(redis, "steady") == [("dead", "orphan")]


async def test_prompt_calls_keep_the_time_they_began(redis: TrackedRedis) -> None:
    await prompt_for_a_window(redis, "w1")
    since = await redis.get(keys.alive("w1"))
    await call(redis, "w1")
    await call(redis, "w1")
    assert await redis.get(keys.alive("w1")) == since


async def test_a_retired_worker_is_gone_at_once(redis: TrackedRedis) -> None:
    await redis.enqueue_job("echo", _job_id="left", message="hi")
    await start_job(redis, "left", owner="stopping")
    await call(redis, "stopping", "left")
    await retire(redis, "stopping")
    await prompt_for_a_window(redis, "other")
    assert await released(redis, "other") == [("stopping", "left")]


async def test_a_worker_never_releases_its_own_leases(redis: TrackedRedis) -> None:
    await redis.enqueue_job("echo", _job_id="mine", message="hi")
    await start_job(redis, "mine", owner="w1")
    await prompt_for_a_window(redis, "w1")
    await redis.sadd(keys.LEASE_HOLDERS, "w1")  # type: ignore[misc]
    await redis.sadd(keys.leases("w1"), keys.in_progress("mine"))  # type: ignore[misc]
    assert await released(redis, "w1", "mine") == []
    assert await redis.get(keys.in_progress("mine")) == b"w1"


async def test_planted_keys_of_other_types_do_not_stop_the_renewals(redis: TrackedRedis) -> None:
    await redis.enqueue_job("echo", _job_id="orphan", message="hi")
    await start_job(redis, "orphan", owner="dead")
    await redis.sadd(keys.LEASE_HOLDERS, "dead", "odd")  # type: ignore[misc]
    await redis.set(keys.leases("odd"), "not a set")
    await redis.sadd(keys.leases("dead"), "planted:hash")  # type: ignore[misc]
    await redis.hset("planted:hash", "a", "b")  # type: ignore[misc]
    await redis.sadd(keys.leases("w1"), "planted:hash")  # type: ignore[misc]
    await prompt_for_a_window(redis, "w1")
    assert await released(redis, "w1", "orphan") == [("dead", "orphan")]
    assert await released(redis, "w1") == []  # and again: nothing left to fail on


async def test_a_planted_alive_time_does_not_make_a_worker_judge_at_once(
    redis: TrackedRedis,
) -> None:
    await gone_worker_holding(redis, "orphan")
    for planted in ("inf", "-1e300", "1.5", "x"):
        await redis.set(keys.alive("w1"), planted, px=WINDOW_MS)
        assert await released(redis, "w1") == []
