"""The `max_streams` cap on a real API process, and clients that hang up giving their places
back at once (SSE followers and long-polls). Its own redis-server and API, no worker: jobs
stay queued, so long-polls wait."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobqueue.store import streams
from tests.helpers import eventually
from tests.helpers.services import RedisServer, connect, service_env, start_api
from tests.helpers.sse import RawStream

MAX_STREAMS = 3


@pytest.fixture(scope="module")
def capped_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("capped") / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def capped_api(capped_redis: RedisServer, tmp_path: Path) -> Iterator[str]:
    """A fresh API per test: no place is still held by a stream of the test before."""
    env = {**service_env(capped_redis.url), "JOBQUEUE_MAX_STREAMS": str(MAX_STREAMS)}
    api, url = start_api(env, tmp_path, name="capped-api")
    yield url
    api.stop()


async def queued_job(url: str) -> str:
    async with httpx.AsyncClient(base_url=url, trust_env=False) as api:
        response = await api.post("/v1/jobs", json={"function": "echo", "args": {"message": "q"}})
    job_id: str = response.json()["job_id"]
    return job_id


async def refused(url: str) -> bool:
    """Whether a new stream is refused now (a 503 with `Retry-After`)."""
    probe = await RawStream.open(url, "/v1/events")
    probe.close()
    if probe.status == 503:
        assert b"retry-after:" in probe.head.lower()
        return True
    assert probe.status == 200
    return False


async def test_max_streams_is_503_with_retry_after(capped_api: str) -> None:
    streams = [await RawStream.open(capped_api, "/v1/events") for _ in range(MAX_STREAMS)]
    assert [s.status for s in streams] == [200] * MAX_STREAMS
    async with httpx.AsyncClient(base_url=capped_api, trust_env=False) as api:
        job_id = await queued_job(capped_api)
        response = await api.get(f"/v1/jobs/{job_id}/result", params={"timeout": 5})
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert "max_streams" in response.json()["detail"]
    for stream in streams:
        stream.close()
    await eventually(lambda: _accepted(capped_api), timeout=2, what="the places to be freed")


async def open_streams(url: str) -> float:
    """What the API's `/metrics` says it serves now."""
    async with httpx.AsyncClient(base_url=url, trust_env=False) as api:
        text = (await api.get("/metrics")).text
    line = next(line for line in text.splitlines() if line.startswith("jobqueue_api_open_streams "))
    return float(line.split()[1])


async def _accepted(url: str) -> bool:
    return not await refused(url)


async def test_sse_followers_that_hang_up_free_their_places_at_once(capped_api: str) -> None:
    job_id = await queued_job(capped_api)
    streams = [
        await RawStream.open(capped_api, "/v1/events"),
        await RawStream.open(capped_api, f"/v1/jobs/{job_id}/events"),
        await RawStream.open(capped_api, f"/v1/jobs/{job_id}/events", {"Last-Event-ID": "0-0"}),
    ]
    assert [s.status for s in streams] == [200] * MAX_STREAMS
    assert await refused(capped_api)
    for stream in streams:
        stream.close()
    await eventually(lambda: _accepted(capped_api), timeout=2, what="the places to be freed")


async def test_long_polls_whose_clients_hang_up_free_their_places_at_once(
    capped_api: str,
) -> None:
    job_id = await queued_job(capped_api)
    path = f"/v1/jobs/{job_id}/result?timeout=60"
    polls = [await RawStream.send(capped_api, path) for _ in range(MAX_STREAMS)]

    # (a probe before they all wait would take a place itself and leave one of them a 503)
    async def all_waiting() -> bool:
        return await open_streams(capped_api) == MAX_STREAMS

    await eventually(all_waiting, what="the long-polls to take every place")
    assert await refused(capped_api)
    for poll in polls:  # (still waiting for their answer: hang up on them)
        poll.close()
    await eventually(lambda: _accepted(capped_api), timeout=2, what="the places to be freed")


async def test_last_event_id_of_the_largest_id_reads_nothing_after_it_from_redis(
    capped_api: str, capped_redis: RedisServer
) -> None:
    await queued_job(capped_api)  # (the all-jobs stream has an entry)
    redis = connect(capped_redis.url)
    try:  # Redis itself refuses an exclusive range from there ("invalid start ID")
        assert await streams.read_range(redis, streams.ALL_JOBS, streams.MAX_ID) == []
    finally:
        await redis.aclose()
