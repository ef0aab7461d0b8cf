"""uvicorn's HTTP protocol with deadlines for slow clients and a cap on open connections.

uvicorn (0.54) has a keep-alive timeout but no deadline for a request's headers or body: a client
sending one header byte every few seconds holds its connection (and file descriptor) forever, so
a few thousand of them (slowloris) exhaust the server. This subclass of its httptools protocol

- gives each request `header_timeout` seconds from its first byte (or from the connection's
  start) to finish its request line and headers, and `body_timeout` seconds from then to finish
  its body; past either it answers 408 (if nothing was answered yet) and closes the connection;
- answers 503 with `Retry-After` (JSON, as every other error) to a request arriving while more
  than `max_connections` connections are open, and closes its connection.

It relies on uvicorn's `HttpToolsProtocol`: the httptools parser callbacks (`on_message_begin`,
`on_headers_complete`, `on_message_complete`), `connection_made`/`connection_lost`, its `app`,
`connections`, `transport`, `loop` and `cycle` (`response_started`) attributes, and on
`on_headers_complete` starting the request with `self.app` (pinned in `tests/unit/test_seams.py`).
It can go when uvicorn has these timeouts itself (`--timeout-request-start` and
`--timeout-request-complete`, planned in encode/uvicorn#157 since 2018, not yet built).
"""

import asyncio
from typing import Any

import orjson
import structlog
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = structlog.get_logger("jobqueue.serving")

RETRY_AFTER_SECONDS = 1


def _raw_response(status: bytes, detail: str) -> bytes:
    body = orjson.dumps({"detail": detail})
    head = [
        b"HTTP/1.1 " + status,
        b"content-type: application/json",
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class GuardedHttpProtocol(HttpToolsProtocol):
    """Set by `guarded_protocol`, per server."""

    header_timeout: float
    body_timeout: float
    max_connections: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # a kept-alive connection's next request: its first byte
            self._arm(self.header_timeout, "headers")

    def on_headers_complete(self) -> None:
        self._arm(self.body_timeout, "body")
        if len(self.connections) <= self.max_connections:
            super().on_headers_complete()
            return
        app, self.app = self.app, self._too_many_connections  # this request only
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self, seconds: float, part: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._deadline_passed, seconds, part)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self, seconds: float, part: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        log.warning("http.request_timeout", part=part, seconds=seconds, client=self.client)
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            setting = "JOBQUEUE_HEADER_TIMEOUT" if part == "headers" else "JOBQUEUE_BODY_TIMEOUT"
            detail = f"the request's {part} did not arrive within {seconds:g}s ({setting})"
            self.transport.write(_raw_response(b"408 Request Timeout", detail))
        self.transport.close()

    async def _too_many_connections(self, scope: Scope, receive: Receive, send: Send) -> None:
        log.warning("http.too_many_connections", limit=self.max_connections)
        detail = (
            f"the server has more than {self.max_connections} open connections "
            "(JOBQUEUE_MAX_CONNECTIONS); retry after `Retry-After`"
        )
        body = orjson.dumps({"detail": detail})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


def guarded_protocol(
    *, header_timeout: float, body_timeout: float, max_connections: int
) -> type[GuardedHttpProtocol]:
    """The protocol class for one server, with its limits."""
    limits = {
        "header_timeout": header_timeout,
        "body_timeout": body_timeout,
        "max_connections": max_connections,
    }
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), limits)
