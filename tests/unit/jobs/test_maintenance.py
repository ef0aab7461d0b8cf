"""The sweep's history housekeeping, with a fabricated job context over fakeredis."""

import httpx

from jobqueue.clock import now_ms
from jobqueue.history.tracker import JobTracker
from jobqueue.jobs.context import JobContext
from jobqueue.jobs.maintenance import NoArgs, sweep
from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis


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
    await redis.zadd(keys.index(), {old_member: 0})
    result = await sweep.func(context(redis, settings), NoArgs())
    assert result is not None
    assert result.model_dump()["index_entries_pruned"] == 1
    members = [m.decode() for m in await redis.zrange(keys.index(), 0, -1)]
    assert [keys.member_job_id(m) for m in members] == ["recent"]
