"""Listing costs the same with 100 or 100,000 jobs in history: counted in Redis commands (exact),
not timed (timing belongs to benchmarks); and a page's size is bounded, whatever its jobs hold."""

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from jobqueue.history.pages import PAGE_BUDGET_BYTES, read_page
from jobqueue.history.view import LISTED_VALUE_MAX_BYTES
from jobqueue.history.vocabulary import JobStatus
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from tests.helpers.api import enqueue, new_id
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


# Each listing's filters, and how many indexes a page of it reads.
LISTINGS: list[tuple[dict[str, JobStatus | str | None], int]] = [
    ({"status": None, "function": None}, 5),  # one per stored status, merged
    ({"status": None, "function": "echo"}, 5),
    ({"status": JobStatus.failed, "function": None}, 1),
    ({"status": JobStatus.failed, "function": "echo"}, 1),
]


async def test_a_page_costs_the_same_at_100_and_100k_jobs(
    quiet_redis: RedisServer, tracked: TrackedRedis
) -> None:
    # (one history for every listing: writing 100,000 jobs is what takes the time)
    with quiet_redis.client() as client:
        add_history(client, 0, 200)
        small = [await page_cost(client, tracked, **filters) for filters, _ in LISTINGS]
        add_history(client, 200, 100_000)
        large = [await page_cost(client, tracked, **filters) for filters, _ in LISTINGS]
    for (filters, indexes_read), (few, few_ms, _), (many, many_ms, _) in zip(
        LISTINGS, small, large, strict=True
    ):
        assert many == few, filters  # the same commands, the same number of times
        assert few["cmdstat_zrangebylex"] == 2 * indexes_read, filters  # two pages
        assert few["cmdstat_hgetall"] == 100, filters
        print(f"{filters}: two pages of 50, {few_ms:.1f} ms at 200 jobs, {many_ms:.1f} at 100,200")


async def enqueue_deferred(api: httpx.AsyncClient, prefix: str, count: int, size: int) -> list[str]:
    """`count` echo jobs with `size`-character messages, deferred an hour (never run here)."""
    ids = []
    for n in range(count):
        job = await enqueue(
            api,
            "echo",
            job_id=f"{prefix}-{n:03d}",
            args={"message": "m" * size},
            defer_by=3600,
        )
        ids.append(job["job_id"])
    return ids


async def abort_all(api: httpx.AsyncClient, ids: list[str]) -> None:
    for job_id in ids:
        assert (await api.delete(f"/v1/jobs/{job_id}")).status_code == 202


async def test_a_listing_of_jobs_with_1mb_args_stays_small(api: httpx.AsyncClient) -> None:
    ids = await enqueue_deferred(api, new_id("huge"), 30, 1_000_000)
    try:
        response = await api.get(
            "/v1/jobs", params={"status": "deferred", "function": "echo", "limit": 500}
        )
        assert response.status_code == 200
        listed = {job["job_id"]: job for job in response.json()["jobs"]}
        assert set(ids) <= set(listed)
        for job_id in ids:
            assert listed[job_id]["elided"] == ["args"]
            assert listed[job_id]["args"]["href"] == f"/v1/jobs/{job_id}"
        whole = (await api.get(f"/v1/jobs/{ids[0]}")).json()
        assert whole["args"] == {"message": "m" * 1_000_000}
        print(f"30 jobs of 1 MB args: a list page of {len(response.content):,} bytes")
        assert len(response.content) < PAGE_BUDGET_BYTES  # it was 30 MB
    finally:
        await abort_all(api, ids)


async def test_a_page_cut_by_its_budget_continues_exactly(api: httpx.AsyncClient) -> None:
    prefix = new_id("budget")
    ids = await enqueue_deferred(api, prefix, 100, LISTED_VALUE_MAX_BYTES - 1000)
    try:
        seen: list[str] = []
        sizes: list[int] = []
        params: dict[str, str | int] = {"status": "deferred", "function": "echo", "limit": 500}
        while True:
            response = await api.get("/v1/jobs", params=params)
            assert response.status_code == 200
            page = response.json()
            sizes.append(len(response.content))
            seen += [job["job_id"] for job in page["jobs"] if job["job_id"].startswith(prefix)]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        assert seen == ids[::-1]  # newest first, each once
        assert len(sizes) >= 2
        assert max(sizes) < PAGE_BUDGET_BYTES + 2 * LISTED_VALUE_MAX_BYTES
        print(f"100 jobs of ~15 KB args, limit=500: pages of {sizes} bytes")
    finally:
        await abort_all(api, ids)
