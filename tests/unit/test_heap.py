"""Start-up objects are frozen out of the cyclic GC, in the API and in the worker."""

import gc
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from jobqueue.heap import freeze_startup_objects
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis
from jobqueue.worker import lifecycle
from jobqueue.worker.swaps.wakeup import WakeUp


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_freezing_moves_every_live_object_out_of_the_collectors_reach(unfrozen: None) -> None:
    assert gc.get_freeze_count() == 0
    freeze_startup_objects()
    assert gc.get_freeze_count() > 1000


def test_the_api_composition_root_freezes_its_start_up_objects() -> None:
    code = "import gc, jobqueue.main; print(gc.get_freeze_count())"
    # (never connects; auth off: no keys file needed)
    env = {"JOBQUEUE_REDIS_URL": "redis://127.0.0.1:1/0", "PATH": "", "JOBQUEUE_AUTH": "off"}
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert int(output) > 10_000  # the app, pydantic, FastAPI, arq, redis-py...


async def test_the_worker_freezes_its_start_up_objects(
    unfrozen: None, redis: TrackedRedis, settings: Settings, process_state_restored: None
) -> None:
    ctx: dict[str, Any] = {"settings": settings, "redis": redis}
    ctx["wakeup"] = WakeUp()
    await lifecycle.startup(ctx)
    try:
        assert gc.get_freeze_count() > 10_000
    finally:
        await lifecycle.shutdown(ctx)
