"""uvicorn's HTTP protocol with deadlines and bounds for slow or hostile clients.

uvicorn (0.54) has a keep-alive timeout but nothing else of the kind: a client sending one header
byte every few seconds holds its connection (and file descriptor) forever (slowloris), one
sending a 100 MiB header line has httptools buffer all of it, and one that never reads its
response holds the connection while the response waits to be written. This subclass of its
httptools protocol

- gives each request `header_timeout` seconds from its first byte (or from the connection's
  start) to finish its request line and headers, and `body_timeout` seconds from then to finish
  its body; past either it answers 408 (if nothing was answered yet) and closes the connection;
- answers 431 once a request's line and headers pass `max_header_bytes` still unfinished;
- drops a connection whose client has accepted none of its response for `send_timeout` seconds
  (the transport's write buffer stayed full);
- answers 503 with `Retry-After` to a request arriving while more than `max_connections`
  connections are open, and closes its connection;
- answers the parser's own refusals (malformed requests) in JSON, as every other error.

It relies on uvicorn's `HttpToolsProtocol`: the httptools parser callbacks (`on_message_begin`,
`on_headers_complete`, `on_message_complete`), `connection_made`/`connection_lost`,
`data_received` feeding the parser, `pause_writing`/`resume_writing`, `send_400_response`, its
`app`, `connections`, `transport`, `loop`, `client` and `cycle` (`response_started`,
`response_complete`) attributes, and `on_headers_complete` starting the request with `self.app`
(pinned in `tests/unit/test_seams.py`). It can go when uvicorn has these limits itself
(`--timeout-request-start`, `--timeout-request-complete`, planned in encode/uvicorn#157 since 2018).
"""

import asyncio
from dataclasses import asdict, dataclass
from typing import Any, Literal

import orjson
import structlog
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = structlog.get_logger("jobqueue.serving")

RETRY_AFTER_SECONDS = 1
Part = Literal["headers", "body"]
_SETTING = {"headers": "JOBQUEUE_HEADER_TIMEOUT", "body": "JOBQUEUE_BODY_TIMEOUT"}


@dataclass(frozen=True)
class ClientLimits:
    header_timeout: float
    body_timeout: float
    send_timeout: float
    max_header_bytes: int
    max_connections: int


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
    """The limits are class attributes, set by `guarded_protocol` per server."""

    header_timeout: float
    body_timeout: float
    send_timeout: float
    max_header_bytes: int
    max_connections: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._reading: Part | None = None  # what the current request's deadline is for
        self._header_bytes = 0
        self._unread: asyncio.TimerHandle | None = None  # the client reads none of our response

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm("headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._cancel_unread()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading == "headers":
            self._header_bytes += len(data)
        super().data_received(data)
        if self._reading == "headers" and self._header_bytes > self.max_header_bytes:
            log.warning("http.headers_too_large", limit=self.max_header_bytes, client=self.client)
            detail = (
                f"the request line and headers are over {self.max_header_bytes} bytes "
                "(JOBQUEUE_MAX_HEADER_BYTES)"
            )
            self._refuse(b"431 Request Header Fields Too Large", detail)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._reading is None:  # a kept-alive connection's next request: its first byte
            self._arm("headers")

    def on_headers_complete(self) -> None:
        self._arm("body")
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

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._unread is None:
            self._unread = self.loop.call_later(self.send_timeout, self._client_not_reading)

    def resume_writing(self) -> None:
        self._cancel_unread()
        super().resume_writing()

    def send_400_response(self, msg: str) -> None:
        self._refuse(b"400 Bad Request", msg)

    def _arm(self, part: Part) -> None:
        self._disarm()
        self._reading, self._header_bytes = part, 0
        seconds = self.header_timeout if part == "headers" else self.body_timeout
        self._deadline = self.loop.call_later(seconds, self._deadline_passed, seconds, part)

    def _disarm(self) -> None:
        self._reading = None
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self, seconds: float, part: Part) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        log.warning("http.request_timeout", part=part, seconds=seconds, client=self.client)
        detail = f"the request's {part} did not arrive within {seconds:g}s ({_SETTING[part]})"
        self._refuse(b"408 Request Timeout", detail)

    def _refuse(self, status: bytes, detail: str) -> None:
        """Answer `status` unless a response has begun, and close the connection."""
        self._disarm()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            self.transport.write(_raw_response(status, detail))
        self.transport.close()

    def _client_not_reading(self) -> None:
        self._unread = None
        log.warning("http.client_not_reading", seconds=self.send_timeout, client=self.client)
        self.transport.abort()  # its unsent response goes; the request sees a disconnect

    def _cancel_unread(self) -> None:
        if self._unread is not None:
            self._unread.cancel()
            self._unread = None

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


def guarded_protocol(limits: ClientLimits) -> type[GuardedHttpProtocol]:
    """The protocol class for one server, with its limits."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), asdict(limits))
