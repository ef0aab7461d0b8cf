"""The worker's start-up hook."""

from typing import Any

import pytest
from redis.asyncio import ConnectionPool

from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis
from jobqueue.worker import lifecycle
from jobqueue.worker.swaps.wakeup import WakeUp


class NotATracker:
    def enqueue_record(self, job: Any) -> Any: ...

    def finished(self, result: Any) -> Any: ...


async def test_the_job_wrapper_uses_the_tracker_the_pool_records_with(
    redis: TrackedRedis, settings: Settings, process_state_restored: None
) -> None:
    ctx: dict[str, Any] = {"settings": settings, "redis": redis, "wakeup": WakeUp()}
    await lifecycle.startup(ctx)
    try:
        assert ctx["tracker"] is redis.recorder  # one object: starts noted, ends popped
    finally:
        await lifecycle.shutdown(ctx)


async def test_a_pool_recording_with_anything_else_is_refused(
    settings: Settings, process_state_restored: None
) -> None:
    redis = TrackedRedis(ConnectionPool(), settings, NotATracker())
    with pytest.raises(TypeError, match="JobTracker"):
        await lifecycle.startup({"settings": settings, "redis": redis, "wakeup": WakeUp()})
