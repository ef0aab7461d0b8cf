"""A thousand SSE followers on one real API process: one Redis reader serves them all, so
they add almost no Redis connections and enqueues stay fast. Its own redis-server and API."""

import asyncio
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.services import RedisServer, ServiceProcess, service_env, start_api
from tests.helpers.sse import RawStream

FOLLOWERS = 1000
POSTS = 200


@pytest.fixture
def lone_api(tmp_path: Path) -> Iterator[tuple[RedisServer, ServiceProcess, str]]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    api, url = start_api(service_env(server.url), tmp_path, name="scale-api")
    yield server, api, url
    api.stop()
    server.stop()


def redis_clients(server: RedisServer) -> int:
    with server.client() as client:
        return int(client.info("clients")["connected_clients"])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def post_p50_ms(api: httpx.AsyncClient, posts: int) -> float:
    took = []
    for n in range(posts):
        started = time.perf_counter()
        response = await api.post(
            "/v1/jobs", json={"function": "echo", "args": {"message": str(n)}}
        )
        took.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 202, response.text
    return statistics.median(took)


async def open_followers(url: str, count: int) -> list[RawStream]:
    """`count` followers of every job's events, all connecting at once."""
    headers = {"Accept": "text/event-stream"}
    return await asyncio.gather(*(RawStream.open(url, "/v1/events", headers) for _ in range(count)))


@pytest.mark.timeout(120)
async def test_a_thousand_sse_followers_add_at_most_10_redis_clients_and_keep_post_p50(
    lone_api: tuple[RedisServer, ServiceProcess, str],
) -> None:
    server, process, url = lone_api
    followers: list[RawStream] = []
    async with httpx.AsyncClient(base_url=url, timeout=30, trust_env=False) as api:
        try:
            await post_p50_ms(api, 20)  # warm up
            idle_p50 = await post_p50_ms(api, POSTS)
            clients_idle, rss_idle = redis_clients(server), rss_mib(process.pid)

            opened = time.monotonic()
            followers = await open_followers(url, FOLLOWERS)
            opening_s = time.monotonic() - opened
            assert [f.status for f in followers] == [200] * FOLLOWERS
            clients_loaded, rss_open = redis_clients(server), rss_mib(process.pid)
            loaded_p50 = await post_p50_ms(api, POSTS)

            marker = f"marker-{uuid.uuid4().hex[:8]}"
            response = await api.post(
                "/v1/jobs", json={"function": "echo", "args": {"message": "m"}, "job_id": marker}
            )
            assert response.status_code == 202
            async with asyncio.timeout(20):
                await asyncio.gather(*(f.read_until(marker.encode()) for f in followers))
            rss_loaded = rss_mib(process.pid)
        finally:
            for follower in followers:
                follower.close()
    print(  # the figures, for the report (pytest -s)
        f"\nidle POST p50 {idle_p50:.2f} ms, with {FOLLOWERS} followers {loaded_p50:.2f} ms; "
        f"Redis clients {clients_idle} -> {clients_loaded}; "
        f"API RSS {rss_idle:.0f} -> {rss_open:.0f} MiB open, {rss_loaded:.0f} MiB after the "
        f"posts (their events unread by the test until the end); opened in {opening_s:.1f} s"
    )
    assert clients_loaded - clients_idle <= 10
    assert loaded_p50 <= 2 * idle_p50
