"""Leases: a running job's claim is short, held by its worker, and renewed while it runs."""

from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from jobqueue.worker.leases import Leases


async def test_renewal_extends_only_the_leases_this_worker_still_holds(
    redis: TrackedRedis,
) -> None:
    mine, theirs = Leases("w1", lease_s=30), "w2"
    await redis.set(keys.in_progress("a"), "w1", px=1_000)
    await redis.set(keys.in_progress("b"), theirs, px=1_000)  # taken over meanwhile
    for job_id in ("a", "b", "ended"):
        mine.hold(job_id)
    await mine.renew_now(redis)
    assert 20_000 < await redis.pttl(keys.in_progress("a")) <= 30_000
    assert await redis.pttl(keys.in_progress("b")) <= 1_000  # not ours: untouched
    assert await redis.exists(keys.in_progress("ended")) == 0  # a job that ended: not revived


async def test_a_released_job_is_not_renewed(redis: TrackedRedis) -> None:
    leases = Leases("w1", lease_s=30)
    await redis.set(keys.in_progress("done"), "w1", px=1_000)
    leases.hold("done")
    leases.release("done")
    await leases.renew_now(redis)
    assert await redis.pttl(keys.in_progress("done")) <= 1_000
    assert leases.held == frozenset()
