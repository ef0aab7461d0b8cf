"""The process's one event reader and its followers, against fakeredis (its XREAD blocks)."""

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest
from redis.exceptions import ConnectionError

from jobqueue.errors import TooManyStreams
from jobqueue.history import fanout as fanout_module
from jobqueue.history import streams
from jobqueue.history.fanout import Fanout
from jobqueue.history.streams import Event
from jobqueue.history.tracker import JobTracker
from jobqueue.store import keys
from jobqueue.store import streams as stored
from jobqueue.store.client import TrackedRedis
from tests.helpers.redis_data import plant_result, start_job


@pytest.fixture
async def fanout(redis: TrackedRedis) -> AsyncIterator[Fanout]:
    fanout = Fanout(redis, redis.circuit, max_streams=5, block_ms=50)
    yield fanout
    await fanout.aclose()


async def enqueue(redis: TrackedRedis, job_id: str) -> str:
    """Enqueues a job; returns the id of its entry in the all-jobs stream."""
    await redis.enqueue_job("echo", _job_id=job_id, message="hi")
    return (await stored.read_range(redis, stored.ALL_JOBS, None))[-1].id


async def take(events: AsyncGenerator[list[Event], None], count: int) -> list[Event]:
    """The next `count` events (batches as they come), within a few seconds."""
    taken: list[Event] = []
    async with asyncio.timeout(5):
        while len(taken) < count:
            taken += await anext(events)
    return taken


async def test_one_reader_hands_every_event_to_every_feed(
    redis: TrackedRedis, fanout: Fanout, monkeypatch: pytest.MonkeyPatch
) -> None:
    reading, most_at_once = 0, 0
    read_new = stored.read_new

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal reading, most_at_once
        reading += 1
        most_at_once = max(most_at_once, reading)
        try:
            return await read_new(*args, **kwargs)
        finally:
            reading -= 1

    monkeypatch.setattr(stored, "read_new", counted)
    feeds = [fanout.feed() for _ in range(3)]
    followers = [streams.all_events(redis, feed, None) for feed in feeds]
    for feed in feeds:
        await feed.start()
    ids = [await enqueue(redis, f"job-{n}") for n in range(3)]
    for follower in followers:
        assert [e.id for e in await take(follower, 3)] == ids
    assert most_at_once == 1  # one XREAD at a time, however many follow


async def test_a_job_watch_wakes_for_its_own_job_only(redis: TrackedRedis, fanout: Fanout) -> None:
    mine, other = fanout.watch("mine"), fanout.watch("other")
    await mine.start()
    await enqueue(redis, "mine")
    assert await mine.news(timeout=5)
    assert not await other.news(timeout=0.2)


async def test_no_event_is_lost_or_repeated_between_the_past_and_live(
    redis: TrackedRedis, fanout: Fanout, monkeypatch: pytest.MonkeyPatch
) -> None:
    resume_after = await enqueue(redis, "a")
    await enqueue(redis, "b")
    read_range = stored.read_range

    async def with_one_more_first(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(stored, "read_range", read_range)
        await enqueue(redis, "c")  # written after subscribing, before the past is read:
        return await read_range(*args, **kwargs)  # both the past and the live part bring it

    monkeypatch.setattr(stored, "read_range", with_one_more_first)
    follower = streams.all_events(redis, fanout.feed(), resume_after)
    seen = await take(follower, 2)
    await enqueue(redis, "d")
    seen += await take(follower, 1)
    expected = await read_range(redis, stored.ALL_JOBS, resume_after)
    assert [e.id for e in seen] == [e.id for e in expected]
    assert [e.data["job_id"] for e in seen] == ["b", "c", "d"]
    assert not await anext_within(follower, 0.4)  # nothing repeated after it


async def anext_within(events: AsyncGenerator[list[Event], None], seconds: float) -> list[Event]:
    try:
        async with asyncio.timeout(seconds):
            return await anext(events)
    except TimeoutError:
        return []


async def test_a_job_follower_gets_its_past_then_its_live_events_each_once(
    redis: TrackedRedis, tracker: JobTracker, fanout: Fanout, monkeypatch: pytest.MonkeyPatch
) -> None:
    await enqueue(redis, "j")
    await start_job(redis, "j")
    history = stored.read_job_history

    async def with_progress_first(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(stored, "read_job_history", history)
        await tracker.progress(redis, "j", 1, 2, "half")  # between subscribing and the past
        return await history(*args, **kwargs)

    monkeypatch.setattr(stored, "read_job_history", with_progress_first)
    follower = streams.job_events(redis, "arq:queue", fanout.watch("j"), "j", None)
    seen = await take(follower, 3)
    await plant_result(redis, "j", success=True, result={"message": "hi"})
    async with asyncio.timeout(5):
        seen += [event async for batch in follower for event in batch]  # until its end
    stored_ids = [e.id for e in await stored.read_range(redis, keys.job_events("j"), None)]
    assert [e.id for e in seen] == stored_ids
    assert [e.type for e in seen] == ["enqueued", "started", "progress", "succeeded"]


async def test_resuming_the_all_jobs_feed_with_last_event_id_is_exact(
    redis: TrackedRedis, fanout: Fanout
) -> None:
    ids = [await enqueue(redis, f"r{n}") for n in range(5)]
    follower = streams.all_events(redis, fanout.feed(), ids[1])
    assert [e.id for e in await take(follower, 3)] == ids[2:]
    live = await enqueue(redis, "r5")
    assert [e.id for e in await take(follower, 1)] == [live]


async def test_resuming_a_job_follower_with_last_event_id_is_exact(
    redis: TrackedRedis, fanout: Fanout
) -> None:
    await enqueue(redis, "k")
    await start_job(redis, "k")
    await plant_result(redis, "k", success=True, result={"message": "hi"})
    everything = await stored.read_range(redis, keys.job_events("k"), None)
    follower = streams.job_events(redis, "arq:queue", fanout.watch("k"), "k", everything[0].id)
    async with asyncio.timeout(5):
        rest = [event async for batch in follower for event in batch]
    assert [e.id for e in rest] == [e.id for e in everything[1:]]


async def test_a_feed_that_falls_too_far_behind_is_ended(
    redis: TrackedRedis, fanout: Fanout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fanout_module, "FEED_BUFFER", 3)
    slow, keeping_up = fanout.feed(), fanout.feed()
    await slow.start()
    follower = streams.all_events(redis, keeping_up, None)
    for n in range(4):
        await enqueue(redis, f"s{n}")
        assert len(await take(follower, 1)) == 1  # (this one reads each as it comes)
    assert await slow.next_events() is None  # ended: its client resumes with Last-Event-ID


async def test_closing_a_subscription_frees_its_place(fanout: Fanout) -> None:
    subscriptions = [fanout.feed() for _ in range(3)] + [fanout.watch("w") for _ in range(2)]
    with pytest.raises(TooManyStreams):
        fanout.watch("one too many")
    subscriptions[0].close()
    subscriptions[0].close()  # (twice: still one place)
    assert fanout.subscribers == 4
    with fanout.watch("again"):
        assert fanout.subscribers == 5
    assert fanout.subscribers == 4


async def test_an_outage_ends_every_follower_and_the_reader_heals(
    redis: TrackedRedis, fanout: Fanout, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed, watch = fanout.feed(), fanout.watch("later")
    await feed.start()
    read_new = stored.read_new

    async def down_once(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(stored, "read_new", read_new)
        raise ConnectionError("Connection refused")

    monkeypatch.setattr(stored, "read_new", down_once)
    with pytest.raises(ConnectionError):
        async with asyncio.timeout(5):
            await feed.next_events()
    with pytest.raises(ConnectionError):
        await watch.news(timeout=5)
    feed.close()
    watch.close()
    fresh = streams.all_events(redis, fanout.feed(), None)  # (subscribed: nothing missed)
    healed_id = await enqueue(redis, "later")
    assert [e.id for e in await take(fresh, 1)] == [healed_id]


async def test_an_event_that_cannot_be_shown_is_skipped_and_the_reader_goes_on(
    redis: TrackedRedis, fanout: Fanout
) -> None:
    follower = streams.all_events(redis, fanout.feed(), None)
    await fanout.start()
    planted = {
        "type": "started",
        "job_id": "odd",
        "function": "echo",
        "data": '{"at": 9223372036854775807}',
    }
    await redis.xadd(keys.EVENTS, planted)  # type: ignore[arg-type]
    good = await enqueue(redis, "after-odd")
    assert [e.id for e in await take(follower, 1)] == [good]
