"""One caller's bad input never fails another's, on a real redis-server (and through hiredis's
reply parser): each job of a shared script call succeeds or fails on its own, atomically."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobqueue.queue import EnqueueOptions, JobQueue
from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from jobqueue.store.enqueue import EnqueueSpec
from tests.helpers.services import RedisServer, connect


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    redis_server = RedisServer(tmp_path / "redis")
    redis_server.start()
    yield redis_server
    redis_server.stop()


@pytest.fixture
async def redis(server: RedisServer) -> AsyncIterator[TrackedRedis]:
    client = connect(server.url)
    yield client
    await client.aclose()


async def test_three_concurrent_enqueues_with_one_past_deferral_all_succeed(
    redis: TrackedRedis, server: RedisServer
) -> None:
    queue = JobQueue(redis, Settings(redis_url=server.url))
    past = datetime.now(UTC) - timedelta(days=2)
    results = await asyncio.gather(
        queue.enqueue("echo", {"message": "a"}, EnqueueOptions(job_id="a")),
        queue.enqueue("echo", {"message": "b"}, EnqueueOptions(job_id="b", defer_until=past)),
        queue.enqueue("echo", {"message": "c"}, EnqueueOptions(job_id="c")),
    )
    assert [(view.job_id, created) for view, created in results] == [
        ("a", True),
        ("b", True),
        ("c", True),
    ]
    assert results[1][0].status == "queued"  # a defer_until in the past means now
    assert sorted(await redis.zrange("arq:queue", 0, -1)) == [b"a", b"b", b"c"]


async def test_a_refused_job_fails_alone_and_leaves_nothing_behind(redis: TrackedRedis) -> None:
    calls = [redis.enqueuer._call(EnqueueSpec("echo", {"message": m}, job_id=m)) for m in "xyz"]
    calls[1].args[3] = "-5"  # the job data TTL that used to fail the whole call mid-script
    replies = await redis.enqueuer._send(calls)
    outcomes = [call.outcome(reply) for call, reply in zip(calls, replies, strict=True)]
    assert [o.created for o in outcomes] == [True, False, True]
    assert outcomes[1].rejected is not None
    assert await redis.exists(keys.job("y"), keys.record("y"), keys.job_events("y")) == 0
    assert await redis.zcard(keys.index(status="waiting")) == 2
