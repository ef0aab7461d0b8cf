"""Listing costs the same with 100 or 100,000 jobs in history: counted in Redis commands (exact),
not timed (timing belongs to benchmarks)."""

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from jobqueue.history.pages import read_page
from jobqueue.history.vocabulary import JobStatus
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from tests.helpers.services import RedisServer, connect


@pytest.fixture
def quiet_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis with no worker attached, so command counts are only ours."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def tracked(quiet_redis: RedisServer) -> AsyncIterator[TrackedRedis]:
    client = connect(quiet_redis.url)
    yield client
    await client.aclose()


def add_history(client: redis.Redis, start: int, count: int) -> None:
    """`count` finished echo jobs, written as the service writes them (record + indexes)."""
    base_ms = 1_790_000_000_000
    pipe = client.pipeline(transaction=False)
    for n in range(start, start + count):
        job_id = f"job-{n:06d}"
        member = keys.index_member(base_ms + n, job_id)
        status = "succeeded" if n % 2 else "failed"
        pipe.hset(
            keys.record(job_id),
            mapping={
                "function": "echo",
                "args": json.dumps({"message": "x"}),
                "status": status,
                "enqueue_ms": base_ms + n,
                "tries": 1,
            },
        )
        for index in (keys.index(status=status), keys.index(function="echo", status=status)):
            pipe.zadd(index, {member: 0})
        if len(pipe) >= 20_000:
            pipe.execute()
    pipe.execute()


def commands_used(client: redis.Redis) -> dict[str, int]:
    stats: dict[str, dict[str, int]] = client.info("commandstats")  # type: ignore[assignment]
    return {name: int(v["calls"]) for name, v in stats.items() if name != "cmdstat_info"}


async def page_cost(
    client: redis.Redis, tracked: TrackedRedis, **filters: JobStatus | str | None
) -> tuple[dict[str, int], float, int]:
    client.config_resetstat()
    started = time.perf_counter()
    page = await read_page(tracked, limit=50, cursor=None, **filters)  # type: ignore[arg-type]
    second = await read_page(tracked, limit=50, cursor=page.next_cursor, **filters)  # type: ignore[arg-type]
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert len(page.jobs) == len(second.jobs) == 50
    return commands_used(client), elapsed_ms, len(page.jobs)


@pytest.mark.parametrize(
    ("filters", "indexes_read"),
    [
        ({"status": None, "function": None}, 5),  # one per stored status, merged
        ({"status": None, "function": "echo"}, 5),
        ({"status": JobStatus.failed, "function": None}, 1),
        ({"status": JobStatus.failed, "function": "echo"}, 1),
    ],
)
async def test_a_page_costs_the_same_at_100_and_100k_jobs(
    quiet_redis: RedisServer,
    tracked: TrackedRedis,
    filters: dict[str, JobStatus | str | None],
    indexes_read: int,
) -> None:
    with quiet_redis.client() as client:
        add_history(client, 0, 200)
        small, small_ms, _ = await page_cost(client, tracked, **filters)
        add_history(client, 200, 100_000)
        large, large_ms, _ = await page_cost(client, tracked, **filters)
    assert large == small  # the same commands, the same number of times
    assert small["cmdstat_zrangebylex"] == 2 * indexes_read  # two pages
    assert small["cmdstat_hgetall"] == 100
    print(f"two pages of 50: {small_ms:.1f} ms at 200 jobs, {large_ms:.1f} ms at 100,200 jobs")
