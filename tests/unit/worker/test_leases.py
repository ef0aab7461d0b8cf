"""The worker's leases: held jobs renewed; others judged gone only after this worker has reached
Redis promptly for a whole liveness window (after an outage, everyone's alive key is old)."""

import pytest

from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from jobqueue.worker.leases import Leases
from tests.helpers.redis_data import start_job

SETTINGS = Settings(worker_lease=15, worker_liveness_window=10, worker_heartbeat_interval=2)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("jobqueue.worker.leases.time.monotonic", clock)
    return clock


async def gone_worker_holding(redis: TrackedRedis, job_id: str) -> None:
    await redis.enqueue_job("echo", _job_id=job_id, message="hi")
    await start_job(redis, job_id, owner="dead")
    await redis.sadd(keys.LEASE_HOLDERS, "dead")  # type: ignore[misc]


async def test_a_released_job_is_not_renewed(redis: TrackedRedis, clock: Clock) -> None:
    leases = Leases("w1", SETTINGS)
    await redis.set(keys.in_progress("done"), "w1", px=1_000)
    leases.hold("done")
    leases.release("done")
    await leases.renew_now(redis)
    assert await redis.pttl(keys.in_progress("done")) <= 1_000
    assert leases.held == frozenset()


async def test_others_are_judged_gone_only_after_a_window_of_prompt_calls(
    redis: TrackedRedis, clock: Clock
) -> None:
    await gone_worker_holding(redis, "orphan")
    leases = Leases("w1", SETTINGS)
    await leases.renew_now(redis)  # just (re)connected: not yet
    clock.now += 9
    await leases.renew_now(redis)
    assert await redis.get(keys.in_progress("orphan")) == b"dead"
    clock.now += 1
    await leases.renew_now(redis)  # ten seconds of prompt calls: the dead worker is gone
    assert await redis.exists(keys.in_progress("orphan")) == 0


async def test_a_slow_call_starts_the_window_again(
    redis: TrackedRedis, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await gone_worker_holding(redis, "orphan")
    leases = Leases("w1", SETTINGS)
    await leases.renew_now(redis)
    clock.now += 9
    send = redis.evalsha

    async def waits_for_redis(*args: object) -> object:  # as the pool does through an outage
        clock.now += 5
        return await send(*args)  # type: ignore[arg-type,misc]

    monkeypatch.setattr(redis, "evalsha", waits_for_redis)
    await leases.renew_now(redis)
    monkeypatch.setattr(redis, "evalsha", send)
    clock.now += 1
    await leases.renew_now(redis)  # prompt again, but not for a whole window yet
    assert await redis.get(keys.in_progress("orphan")) == b"dead"
    clock.now += 10
    await leases.renew_now(redis)
    assert await redis.exists(keys.in_progress("orphan")) == 0


def test_a_liveness_window_shorter_than_two_ticks_is_refused() -> None:
    with pytest.raises(ValueError, match="worker_liveness_window"):
        Settings(worker_heartbeat_interval=2, worker_liveness_window=3)
