"""Slowloris against the real API process: 1,200 connections that never finish their headers
are all answered 408 and closed once `JOBQUEUE_HEADER_TIMEOUT` passes, and the API keeps
answering everyone else meanwhile."""

import asyncio
import contextlib
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


async def test_an_endless_header_is_refused_before_it_ends(guarded_api: str) -> None:
    """A 10 MiB header line (the probe's 100 MiB one grew the API by 150 MiB and stalled it) is
    refused with 431 once past 64 KiB and its connection closed: the client cannot send much
    more (the 431 itself may be lost to the reset that closing under its data causes)."""
    port = int(guarded_api.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ")
    sent, reply = 0, b""
    with contextlib.suppress(ConnectionError):
        while sent < 10 * 2**20:
            writer.write(b"a" * 65536)
            await asyncio.wait_for(writer.drain(), 5)
            sent += 65536
        reply = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert sent < 10 * 2**20  # the API closed the connection long before the header's end
    assert reply == b"" or reply.startswith(b"HTTP/1.1 431 ")
    async with httpx.AsyncClient(base_url=guarded_api, trust_env=False, timeout=5) as api:
        assert (await api.get("/healthz")).status_code == 200
