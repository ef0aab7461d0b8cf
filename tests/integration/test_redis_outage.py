"""Redis goes away and comes back: the API answers 503 meanwhile, then both processes heal
without a restart, and no acknowledged job is lost. Uses its own Redis, worker and API."""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import eventually
from tests.helpers.services import (
    RedisServer,
    Stack,
    service_env,
    start_api,
    start_worker,
)
from tests.helpers.sse import RawStream


@pytest.fixture
def fragile_stack(tmp_path: Path) -> Iterator[Stack]:
    server = RedisServer(tmp_path / "redis", persistent=True)
    server.start()
    env = service_env(server.url)
    worker = start_worker(env, tmp_path, name="outage-worker")
    api, url = start_api(env, tmp_path, name="outage-api")
    yield Stack(server, worker, api, url)
    api.stop()
    worker.stop()
    server.stop()


async def test_redis_outage_gives_503_then_the_service_recovers(fragile_stack: Stack) -> None:
    async with httpx.AsyncClient(
        base_url=fragile_stack.api_url, timeout=30, trust_env=False
    ) as api:
        await outage_and_recovery(fragile_stack, api)
    assert fragile_stack.worker.is_running()
    assert fragile_stack.api.is_running()
    assert "Traceback" not in fragile_stack.api.log_text()


async def outage_and_recovery(fragile_stack: Stack, api: httpx.AsyncClient) -> None:
    acknowledged = await api.post(
        "/v1/jobs", json={"function": "echo", "args": {"message": "survives"}, "defer_by": 2}
    )
    assert acknowledged.status_code == 202
    job_id = acknowledged.json()["job_id"]

    fragile_stack.redis.stop()
    for method, path, body in [
        ("POST", "/v1/jobs", {"function": "echo", "args": {"message": "x"}}),
        ("GET", f"/v1/jobs/{job_id}", None),
        ("GET", f"/v1/jobs/{job_id}/result?timeout=1", None),
        ("DELETE", "/v1/jobs/anything", None),
        ("GET", "/readyz", None),
    ]:
        started = time.monotonic()
        response = await api.request(method, path, json=body)
        assert time.monotonic() - started < 5, f"{method} {path} took too long"
        assert response.status_code == 503, (method, path, response.text)
        assert response.json()["detail"].startswith("Redis is unavailable")
        assert response.headers["retry-after"]
    assert (await api.get("/healthz")).status_code == 200  # alive, just not ready

    await eventually(  # the worker has met the outage too
        lambda: '"redis.retrying"' in fragile_stack.worker.log_text(), what="the worker to retry"
    )
    fragile_stack.redis.start()  # same port, same append-only file

    async def ready() -> bool:
        return (await api.get("/readyz")).status_code == 200

    await eventually(ready, what="the API to see Redis again")
    fresh = await api.post("/v1/jobs", json={"function": "echo", "args": {"message": "after"}})
    assert fresh.status_code == 202
    fresh_done = await api.get(f"/v1/jobs/{fresh.json()['job_id']}/result", params={"timeout": 20})
    assert (fresh_done.status_code, fresh_done.json()["status"]) == (200, "succeeded")
    survivor = await api.get(f"/v1/jobs/{job_id}/result", params={"timeout": 20})
    assert (survivor.status_code, survivor.json()["result"]) == (200, {"message": "survives"})


async def test_while_redis_is_down_64_concurrent_requests_all_get_503_within_2_s(
    fragile_stack: Stack,
) -> None:
    async with httpx.AsyncClient(
        base_url=fragile_stack.api_url, timeout=30, trust_env=False
    ) as api:
        assert (await api.get("/readyz")).status_code == 200
        fragile_stack.redis.stop()
        for wave in ("the first, which opens the circuit", "the next, while it is open"):
            started = time.monotonic()
            responses = await asyncio.gather(*(api.get(f"/v1/jobs/job-{n}") for n in range(64)))
            took = time.monotonic() - started
            assert [r.status_code for r in responses] == [503] * 64, wave
            assert all(r.headers["retry-after"] for r in responses)
            assert took <= 2, f"{wave} took {took:.1f} s"
        fragile_stack.redis.start()

        async def healed() -> bool:
            return (await api.get("/readyz")).status_code == 200

        await eventually(healed, timeout=10, what="the circuit to close")


async def test_followers_end_when_redis_goes_and_the_event_reader_heals_unrestarted(
    fragile_stack: Stack,
) -> None:
    url = fragile_stack.api_url
    async with httpx.AsyncClient(base_url=url, timeout=30, trust_env=False) as api:
        deferred = await api.post(
            "/v1/jobs", json={"function": "echo", "args": {"message": "d"}, "defer_by": 60}
        )
        follower = await RawStream.open(url, "/v1/events")
        poll = await RawStream.send(url, f"/v1/jobs/{deferred.json()['job_id']}/result?timeout=30")
        fragile_stack.redis.stop()
        async with asyncio.timeout(10):  # not the 30 s it would wait
            assert await follower.ended()  # the follower ends; its client resumes later
            await poll.read_head()
        assert poll.status == 503
        refused = await RawStream.open(url, "/v1/events")  # (its reader is not reading)
        assert refused.status == 503
        refused.close()
        fragile_stack.redis.start()

        async def ready() -> bool:
            return (await api.get("/readyz")).status_code == 200

        await eventually(ready, what="the API to see Redis again")
        healed = await RawStream.open(url, "/v1/events")
        job = await api.post("/v1/jobs", json={"function": "echo", "args": {"message": "back"}})
        job_id = job.json()["job_id"]
        async with asyncio.timeout(10):
            await healed.read_until(f'"job_id": "{job_id}"'.encode())  # the reader is back
        done = await api.get(f"/v1/jobs/{job_id}/result", params={"timeout": 20})
        assert (done.status_code, done.json()["status"]) == (200, "succeeded")
    for stream in (follower, poll, healed):
        stream.close()
    assert fragile_stack.api.is_running()
    assert '"events.reader_healed"' in fragile_stack.api.log_text()
    assert "Traceback" not in fragile_stack.api.log_text()
