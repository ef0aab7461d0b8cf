"""The API's uvicorn protocol: deadlines for a request's headers and body, a connection cap.

A real uvicorn server (in this test's event loop, on a loopback port) with the guarded protocol
and a small ASGI app; clients are raw sockets, so they can be as slow as an attacker."""

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from typing import Protocol

import orjson
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from jobqueue.serving.slow_clients import ClientLimits, guarded_protocol


class Limits(Protocol):
    """Starts a server with these limits; returns its port."""

    async def __call__(
        self,
        *,
        header_timeout: float = 5,
        body_timeout: float = 5,
        send_timeout: float = 5,
        max_header_bytes: int = 65536,
        max_connections: int = 100,
    ) -> int: ...


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body, waits `?wait=S` seconds, answers with the body's length (or with
    `?size=N` bytes)."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    query = scope["query_string"].decode()
    if query.startswith("wait="):
        await asyncio.sleep(float(query.removeprefix("wait=")))
    body = b"x" * int(query.removeprefix("size=")) if query.startswith("size=") else b"%d" % size
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def server() -> AsyncIterator[Limits]:
    running: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(
        *,
        header_timeout: float = 5,
        body_timeout: float = 5,
        send_timeout: float = 5,
        max_header_bytes: int = 65536,
        max_connections: int = 100,
    ) -> int:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        limits = ClientLimits(
            header_timeout, body_timeout, send_timeout, max_header_bytes, max_connections
        )
        protocol = guarded_protocol(limits)
        config = uvicorn.Config(_app, http=protocol, log_config=None, lifespan="off")
        instance = uvicorn.Server(config)
        task = asyncio.create_task(instance.serve(sockets=[sock]))
        running.append((instance, task))
        while not instance.started:  # noqa: ASYNC110 (uvicorn sets a flag, not an event)
            await asyncio.sleep(0.01)
        port: int = sock.getsockname()[1]
        return port

    yield start
    for instance, task in running:
        instance.should_exit = True
        await task


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _read_all(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the server sends until it closes the connection (fails after `within` s)."""
    return await asyncio.wait_for(reader.read(), within)


def _status_and_detail(reply: bytes) -> tuple[int, str]:
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    detail: str = orjson.loads(body)["detail"]
    return status, detail


async def test_headers_sent_too_slowly_get_408_and_the_connection_closed(server: Limits) -> None:
    port = await server(header_timeout=0.5)
    reader, writer = await _open(port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never the blank line that ends the headers
    started = time.monotonic()
    reply = await _read_all(reader, within=3)
    assert 0.4 < time.monotonic() - started < 2
    status, detail = _status_and_detail(reply)
    assert status == 408
    assert "JOBQUEUE_HEADER_TIMEOUT" in detail
    writer.close()


async def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    server: Limits,
) -> None:
    port = await server(header_timeout=0.5)
    reader, writer = await _open(port)
    reply = await _read_all(reader, within=3)
    assert _status_and_detail(reply)[0] == 408
    writer.close()


async def test_trickled_headers_do_not_reset_the_deadline(server: Limits) -> None:
    """Slowloris: a byte every 0.2 s keeps arriving, yet the headers' deadline holds."""
    port = await server(header_timeout=1)
    reader, writer = await _open(port)
    started = time.monotonic()

    async def trickle() -> None:
        for byte in b"GET / HTTP/1.1\r\nX-Slow: " + b"a" * 100:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.2)

    trickling = asyncio.create_task(trickle())
    reply = await _read_all(reader, within=4)
    trickling.cancel()
    assert time.monotonic() - started < 2
    assert _status_and_detail(reply)[0] == 408
    writer.close()


async def test_the_next_request_on_a_kept_alive_connection_has_its_own_header_deadline(
    server: Limits,
) -> None:
    port = await server(header_timeout=0.5)
    reader, writer = await _open(port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
    assert first.startswith(b"HTTP/1.1 200")
    await asyncio.wait_for(reader.readexactly(1), 2)  # its body, "0"
    await asyncio.sleep(0.3)  # idle, then a slow second request
    writer.write(b"GET / HTTP/1.1\r\n")
    reply = await _read_all(reader, within=3)
    assert _status_and_detail(reply)[0] == 408
    writer.close()


async def test_a_body_sent_too_slowly_gets_408(server: Limits) -> None:
    port = await server(header_timeout=5, body_timeout=0.5)
    reader, writer = await _open(port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
    reply = await _read_all(reader, within=3)
    status, detail = _status_and_detail(reply)
    assert status == 408
    assert "JOBQUEUE_BODY_TIMEOUT" in detail
    writer.close()


async def test_a_slow_answer_after_the_body_is_not_cut(server: Limits) -> None:
    """The deadlines are the client's: a long-poll or a stream answering late is untouched."""
    port = await server(header_timeout=0.3, body_timeout=0.3)
    reader, writer = await _open(port)
    writer.write(b"POST /?wait=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
    assert head.startswith(b"HTTP/1.1 200")
    assert await asyncio.wait_for(reader.readexactly(1), 1) == b"2"
    writer.close()


async def test_past_max_connections_a_request_gets_503_with_retry_after(server: Limits) -> None:
    port = await server(max_connections=2)
    held = [await _open(port) for _ in range(2)]
    await asyncio.sleep(0.1)  # the server has accepted both
    reader, writer = await _open(port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = await _read_all(reader, within=3)
    status, detail = _status_and_detail(reply)
    assert status == 503
    assert b"\r\nretry-after: 1\r\n" in reply.lower()
    assert "JOBQUEUE_MAX_CONNECTIONS" in detail
    writer.close()
    for _, held_writer in held:
        held_writer.close()


async def test_under_max_connections_requests_are_served(server: Limits) -> None:
    port = await server(max_connections=3)
    for _ in range(3):  # one after another: never more than one open
        reader, writer = await _open(port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert (await _read_all(reader, within=3)).startswith(b"HTTP/1.1 200")
        writer.close()


async def test_headers_over_max_header_bytes_get_431_before_they_end(server: Limits) -> None:
    """One endless header line: refused once past the limit, not buffered to its end."""
    port = await server(max_header_bytes=4096)
    reader, writer = await _open(port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8192)
    reply = await _read_all(reader, within=3)
    status, detail = _status_and_detail(reply)
    assert status == 431
    assert "JOBQUEUE_MAX_HEADER_BYTES" in detail
    writer.close()


async def test_headers_under_max_header_bytes_and_a_large_body_are_served(server: Limits) -> None:
    port = await server(max_header_bytes=4096)
    reader, writer = await _open(port)
    body = b"b" * 200_000  # in one write with its headers: only the headers count
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" + body)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
    assert head.startswith(b"HTTP/1.1 200")
    assert await asyncio.wait_for(reader.readexactly(6), 2) == b"200000"
    writer.close()


async def test_a_client_that_reads_none_of_its_response_is_dropped(server: Limits) -> None:
    port = await server(send_timeout=0.5)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, never read
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /?size=20000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await asyncio.sleep(1.5)  # (reading nothing is the point: the server must give up)
        received = 0
        with contextlib.suppress(ConnectionResetError):
            while chunk := await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), 3):
                received += len(chunk)
        assert received < 20_000_000  # the rest of the response was dropped with the connection
        assert time.monotonic() - started < 5


async def test_a_malformed_request_is_refused_in_json(server: Limits) -> None:
    port = await server()
    reader, writer = await _open(port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
    status, detail = _status_and_detail(await _read_all(reader, within=3))
    assert status == 400
    assert detail == "Invalid HTTP request received."
    writer.close()
