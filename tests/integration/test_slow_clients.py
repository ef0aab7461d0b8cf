"""Slowloris against the real API process: 1,200 connections that never finish their headers
are all answered 408 and closed once `JOBQUEUE_HEADER_TIMEOUT` passes, and the API keeps
answering everyone else meanwhile."""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.services import Stack, service_env, start_api

SLOW_CLIENTS = 1200
HEADER_TIMEOUT = 2.0


@pytest.fixture
def guarded_api(stack: Stack, tmp_path: Path) -> Iterator[str]:
    env = {**service_env(stack.redis.url), "JOBQUEUE_HEADER_TIMEOUT": str(HEADER_TIMEOUT)}
    process, url = start_api(env, tmp_path)
    yield url
    process.stop()


async def _slow_client(port: int) -> bytes:
    """Sends a request line and one header, never the end of the headers; returns what the
    server sends before it closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        return await asyncio.wait_for(reader.read(), HEADER_TIMEOUT + 10)
    finally:
        writer.close()


async def test_slowloris_connections_are_closed_at_the_header_timeout(guarded_api: str) -> None:
    port = int(guarded_api.rsplit(":", 1)[1])
    started = time.monotonic()
    clients = [asyncio.create_task(_slow_client(port)) for _ in range(SLOW_CLIENTS)]
    await asyncio.sleep(0.5)
    async with httpx.AsyncClient(base_url=guarded_api, trust_env=False, timeout=5) as api:
        answered = await api.get("/healthz")  # while all of them hang on
        assert answered.status_code == 200
        assert time.monotonic() - started < HEADER_TIMEOUT  # before any was closed
    replies = await asyncio.gather(*clients)
    elapsed = time.monotonic() - started
    assert all(reply.startswith(b"HTTP/1.1 408 ") for reply in replies)
    assert elapsed < HEADER_TIMEOUT + 5
