"""The sweep's history housekeeping, with a fabricated job context over fakeredis."""

import httpx
import pytest

from jobqueue.clock import now_ms
from jobqueue.history.tracker import JobTracker
from jobqueue.jobs.context import JobContext
from jobqueue.jobs.maintenance import NoArgs, sweep
from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from tests.helpers.redis_data import plant_result


def context(redis: TrackedRedis, settings: Settings) -> JobContext:
    return JobContext("sweep-1", 1, 1, settings, redis, httpx.AsyncClient(), JobTracker(settings))


async def test_sweep_trims_events_older_than_their_max_age(redis: TrackedRedis) -> None:
    settings = Settings(events_max_age=60)
    await redis.xadd(keys.EVENTS, {"type": "enqueued"}, id=f"{now_ms() - 120_000}-0")
    await redis.xadd(keys.EVENTS, {"type": "enqueued"}, id=f"{now_ms()}-0")
    result = await sweep.func(context(redis, settings), NoArgs())
    assert result is not None
    assert result.model_dump()["events_trimmed"] == 1
    assert await redis.xlen(keys.EVENTS) == 1


async def test_sweep_prunes_index_entries_past_the_history_retention(
    redis: TrackedRedis,
) -> None:
    settings = Settings(history_ttl=3600)
    await redis.enqueue_job("echo", _job_id="recent", message="x")
    old_member = keys.index_member(now_ms() - 7200_000, "ancient")
    await redis.zadd(keys.index(status="succeeded"), {old_member: 0})
    result = await sweep.func(context(redis, settings), NoArgs())
    assert result is not None
    assert result.model_dump()["index_entries_pruned"] == 1
    assert await redis.zcard(keys.index(status="succeeded")) == 0
    members = [m.decode() for m in await redis.zrange(keys.index(status="waiting"), 0, -1)]
    assert [keys.member_job_id(m) for m in members] == ["recent"]


@pytest.mark.parametrize("batch", [1000, 1])  # (with batches of 1: it goes on until done)
async def test_the_sweep_forgets_the_oldest_finished_jobs_beyond_the_maximum(
    redis: TrackedRedis, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    monkeypatch.setattr("jobqueue.jobs.maintenance.FORGET_BATCH", batch)
    clock = iter(range(now_ms() - 60_000, now_ms()))  # a millisecond apart: oldest is done-0
    monkeypatch.setattr("jobqueue.store.enqueue.timestamp_ms", lambda: next(clock))
    for n in range(5):
        await redis.enqueue_job("echo", _job_id=f"done-{n}", message="x")
        await plant_result(redis, f"done-{n}", success=True, result={"message": "x"})
    await redis.enqueue_job("echo", _job_id="waiting", message="x")  # not finished: kept
    result = await sweep.func(context(redis, Settings(history_max_jobs=2)), NoArgs())
    assert result is not None
    assert result.model_dump()["finished_jobs_forgotten"] == 3
    assert [await redis.exists(keys.record(f"done-{n}")) for n in range(5)] == [0, 0, 0, 1, 1]
    assert await redis.exists(keys.record("waiting")) == 1
    assert await redis.zcard(keys.index(status="succeeded")) == 2
    assert await redis.zcard(keys.index(status="succeeded", function="echo")) == 2


async def test_the_sweep_drops_the_indexes_earlier_versions_kept(redis: TrackedRedis) -> None:
    await redis.enqueue_job("echo", _job_id="kept", message="x")
    member = keys.index_member(now_ms(), "kept")
    await redis.zadd(keys.INDEX_PREFIX + "all", {member: 0})
    await redis.zadd(keys.INDEX_PREFIX + "function:echo", {member: 0})
    result = await sweep.func(context(redis, Settings()), NoArgs())
    assert result is not None
    assert result.model_dump()["superseded_indexes_dropped"] == 2
    assert await redis.exists(keys.INDEX_PREFIX + "all", keys.INDEX_PREFIX + "function:echo") == 0
    assert await redis.zcard(keys.index(status="waiting", function="echo")) == 1
