"""Keeping claims (`renew.lua`, against fakeredis): leases renewed while held, the lease set
pruned, and a gone worker's leases released, and only those."""

from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from jobqueue.store.leases import renew, retire
from tests.helpers.redis_data import start_job


async def keep(redis: TrackedRedis, owner: str, *job_ids: str, release: bool = False) -> list:  # type: ignore[type-arg]
    renewal = await renew(
        redis, owner, job_ids, lease_ms=30_000, alive_ms=10_000, release_gone=release
    )
    return [(r.worker_id, r.job_id) for r in renewal.released]


async def test_renewal_extends_only_held_leases_and_forgets_the_rest(redis: TrackedRedis) -> None:
    for job_id in ("running", "ended", "taken"):
        await redis.enqueue_job("echo", _job_id=job_id, message="hi")
        await start_job(redis, job_id, owner="w1", lease_ms=1_000)
    await redis.delete(keys.in_progress("ended"))  # as arq does at a job's end
    await redis.set(keys.in_progress("taken"), "w2", px=1_000)  # taken over meanwhile
    renewal = await renew(
        redis, "w1", ["running", "ended", "taken"], lease_ms=30_000, alive_ms=10_000,
        release_gone=False,
    )  # fmt: skip
    assert renewal.renewed == 1
    assert 20_000 < await redis.pttl(keys.in_progress("running")) <= 30_000
    assert await redis.pttl(keys.in_progress("taken")) <= 1_000  # not ours: untouched
    assert await redis.exists(keys.in_progress("ended")) == 0  # a job that ended: not revived
    members = await redis.smembers(keys.leases("w1"))  # type: ignore[misc]
    assert members == {keys.in_progress("running").encode()}
    assert 0 < await redis.pttl(keys.alive("w1")) <= 10_000


async def test_the_leases_of_a_gone_worker_are_released_and_only_those(
    redis: TrackedRedis,
) -> None:
    for job_id, owner in (("lost", "gone"), ("kept", "alive"), ("moved", "gone")):
        await redis.enqueue_job("echo", _job_id=job_id, message="hi")
        await start_job(redis, job_id, owner=owner)
    await keep(redis, "gone", "lost", "moved")
    await keep(redis, "alive", "kept")
    await redis.set(keys.in_progress("moved"), "alive")  # taken over since: not released
    assert await keep(redis, "alive", "kept", release=True) == []  # everyone is alive
    await redis.delete(keys.alive("gone"))  # as its TTL does, ten seconds after its last call
    assert await keep(redis, "alive", "kept", release=True) == [("gone", "lost")]
    assert await redis.exists(keys.in_progress("lost"), keys.leases("gone")) == 0
    assert await redis.get(keys.in_progress("kept")) == b"alive"
    assert await redis.get(keys.in_progress("moved")) == b"alive"
    assert await keep(redis, "alive", "kept", release=True) == []  # once


async def test_a_retired_worker_is_gone_at_once(redis: TrackedRedis) -> None:
    await redis.enqueue_job("echo", _job_id="left", message="hi")
    await start_job(redis, "left", owner="stopping")
    await keep(redis, "stopping", "left")
    await retire(redis, "stopping")
    assert await keep(redis, "other", release=True) == [("stopping", "left")]


async def test_a_worker_never_releases_its_own_leases(redis: TrackedRedis) -> None:
    await redis.enqueue_job("echo", _job_id="mine", message="hi")
    await start_job(redis, "mine", owner="w1")
    await keep(redis, "w1", "mine")
    await redis.delete(keys.alive("w1"))
    assert await keep(redis, "w1", "mine", release=True) == []
    assert await redis.get(keys.in_progress("mine")) == b"w1"
