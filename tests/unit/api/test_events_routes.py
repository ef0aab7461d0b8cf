"""The stream routes' edges: `Last-Event-ID` checked, the `max_streams` cap, places freed."""

import asyncio
import time
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from jobqueue import queue as queue_module
from jobqueue.api.app import create_app
from jobqueue.api.dependencies import Services
from jobqueue.api.routes import events
from jobqueue.history.fanout import Fanout
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis
from tests.helpers import eventually
from tests.helpers.redis_data import plant_result

TOO_LARGE = str(2**64)  # one past what Redis takes for either part of a stream id


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_streams": 2})


@pytest.fixture
async def app(settings: Settings, redis: TrackedRedis) -> AsyncIterator[FastAPI]:
    app = create_app(settings, connect=lambda _: redis)
    async with LifespanManager(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def fanout_of(app: FastAPI) -> Fanout:
    services: Services = app.state.services
    return services.queue.fanout


async def finished_job(client: httpx.AsyncClient, redis: TrackedRedis) -> str:
    response = await client.post("/v1/jobs", json={"function": "echo", "args": {"message": "x"}})
    job_id: str = response.json()["job_id"]
    await plant_result(redis, job_id, success=True, result={"message": "x"})
    return job_id


@pytest.mark.parametrize(
    "last_event_id",
    [
        f"{TOO_LARGE}-0",
        f"0-{TOO_LARGE}",
        f"1-{'9' * 30}",
        "1-2-3",
        f"{2**64 - 1}-{2**64 - 1}",
        f"{int(time.time() * 1000) + 3_600_000}-0",
    ],
    ids=[
        "ms-past-64-bits",
        "seq-past-64-bits",
        "30-digit-seq",
        "three-parts",
        "largest-id",
        "an-hour-ahead",
    ],
)
@pytest.mark.parametrize("route", ["/v1/events", "/v1/jobs/{job}/events"])
async def test_last_event_id_out_of_range_is_422(
    client: httpx.AsyncClient, redis: TrackedRedis, route: str, last_event_id: str
) -> None:
    path = route.format(job=await finished_job(client, redis))
    response = await client.get(path, headers={"Last-Event-ID": last_event_id})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["header", "last-event-id"]


async def test_a_future_last_event_id_is_422_not_a_stream_that_never_ends(
    client: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    """No event can have it: following would skip every one (and a job's stream its end)."""
    job_id = await finished_job(client, redis)
    ahead = f"{int(time.time() * 1000) + 3_600_000}-0"
    response = await client.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": ahead})
    assert response.status_code == 422
    assert "in the future" in response.json()["detail"][0]["msg"]


async def test_last_event_id_with_leading_zeros_resumes_as_redis_reads_it(
    client: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    job_id = await finished_job(client, redis)
    everything = await client.get(f"/v1/jobs/{job_id}/events")
    first_id = everything.text.split("id: ")[1].split("\r\n")[0]
    padded = "000" + first_id
    rest = await client.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": padded})
    assert rest.status_code == 200
    assert f"id: {first_id}\r\n" not in rest.text
    assert rest.text.count("id: ") == everything.text.count("id: ") - 1


async def test_max_streams_is_503_with_retry_after(app: FastAPI, client: httpx.AsyncClient) -> None:
    deferred = await client.post(
        "/v1/jobs", json={"function": "echo", "args": {"message": "x"}, "defer_by": 60}
    )
    job_id = deferred.json()["job_id"]
    waits = [
        asyncio.create_task(client.get(f"/v1/jobs/{job_id}/result", params={"timeout": 30}))
        for _ in range(2)
    ]
    await eventually(lambda: fanout_of(app).subscribers == 2, what="both long-polls to wait")
    for path in ["/v1/events", f"/v1/jobs/{job_id}/events", f"/v1/jobs/{job_id}/result?timeout=5"]:
        response = await client.get(path)
        assert response.status_code == 503, path
        assert response.headers["retry-after"]
        assert "max_streams" in response.json()["detail"]
    for wait in waits:
        wait.cancel()
    await eventually(lambda: fanout_of(app).subscribers == 0, what="the places to be freed")
    declared = app.openapi()["paths"]
    for path in ["/v1/events", "/v1/jobs/{job_id}/events", "/v1/jobs/{job_id}/result"]:
        assert "503" in declared[path]["get"]["responses"], path


async def test_a_long_poll_whose_client_hangs_up_frees_its_waiter(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    deferred = await client.post(
        "/v1/jobs", json={"function": "echo", "args": {"message": "x"}, "defer_by": 60}
    )
    job_id = deferred.json()["job_id"]
    hung_up = asyncio.Event()
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if not hung_up.is_set():
            hung_up.set()
            return {"type": "http.request", "body": b"", "more_body": False}
        await eventually(lambda: fanout_of(app).subscribers == 1, what="the long-poll to wait")
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = http_get(f"/v1/jobs/{job_id}/result", b"timeout=30")
    async with asyncio.timeout(5):  # not the 30 s it asked to wait
        await app(scope, receive, send)
    assert fanout_of(app).subscribers == 0
    assert sent[0]["status"] == 499


async def test_an_sse_client_that_stops_reading_is_dropped_and_frees_its_place(
    app: FastAPI, client: httpx.AsyncClient, redis: TrackedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "SEND_TIMEOUT_SECONDS", 0.2)
    job_id = await finished_job(client, redis)
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # never hangs up
        raise AssertionError("unreachable")

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            await asyncio.Event().wait()  # takes no bytes, ever

    async with asyncio.timeout(5):
        await app(http_get(f"/v1/jobs/{job_id}/events"), receive, send)
    assert fanout_of(app).subscribers == 0


def http_get(path: str, query: bytes = b"") -> dict[str, Any]:
    """An ASGI scope for a GET (for tests that play the client's side of ASGI themselves)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "state": {},
    }


async def test_an_sse_follower_whose_client_hangs_up_frees_its_place(app: FastAPI) -> None:
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await eventually(lambda: fanout_of(app).subscribers == 1, what="the follower to follow")
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        pass

    async with asyncio.timeout(5):
        await app(http_get("/v1/events"), receive, send)
    assert fanout_of(app).subscribers == 0


async def test_a_feed_opens_without_a_redis_round_trip_while_the_reader_reads(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[object] = []

    async def ping(redis: object) -> None:
        pings.append(redis)

    monkeypatch.setattr(queue_module, "ping", ping)
    services: Services = app.state.services
    assert services.queue.fanout.reading  # started with the app
    await services.queue.check_followable()
    assert pings == []
    services.queue.fanout.reading = False  # as after a failed read: Redis is asked
    await services.queue.check_followable()
    assert len(pings) == 1
