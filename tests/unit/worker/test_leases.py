"""The worker's leases: held jobs renewed, a released job not; a job another worker took is
logged once; the liveness window must span three ticks. (Who may release whose leases is
renew.lua's, tested in tests/unit/store/test_leases.py and against a real Redis in
tests/integration/test_lease_liveness.py.)"""

import pytest
import structlog

from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from jobqueue.worker.leases import Leases

SETTINGS = Settings(worker_lease=15, worker_liveness_window=10, worker_heartbeat_interval=2)


async def test_held_jobs_are_renewed_and_a_released_one_is_not(redis: TrackedRedis) -> None:
    leases = Leases("w1", SETTINGS)
    await redis.set(keys.in_progress("running"), "w1", px=1_000)
    await redis.set(keys.in_progress("done"), "w1", px=1_000)
    leases.hold("running")
    leases.hold("done")
    leases.release("done")
    await leases.renew_now(redis)
    assert await redis.pttl(keys.in_progress("running")) > 14_000
    assert await redis.pttl(keys.in_progress("done")) <= 1_000
    assert leases.held == frozenset({"running"})


async def test_a_job_another_worker_took_is_logged_once(redis: TrackedRedis) -> None:
    leases = Leases("w1", SETTINGS)
    await redis.set(keys.in_progress("taken"), "w2", px=15_000)  # its lease ran out meanwhile
    leases.hold("taken")
    with structlog.testing.capture_logs() as logs:
        await leases.renew_now(redis)
        await leases.renew_now(redis)
    lost = [entry for entry in logs if entry["event"] == "worker.lease_lost"]
    assert [entry["lost_job_id"] for entry in lost] == ["taken"]


def test_a_liveness_window_shorter_than_three_ticks_is_refused() -> None:
    with pytest.raises(ValueError, match="worker_liveness_window"):
        Settings(worker_heartbeat_interval=2, worker_liveness_window=5)
    Settings(worker_heartbeat_interval=2, worker_liveness_window=6)
