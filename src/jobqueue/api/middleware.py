"""Pure ASGI middleware (no per-request task or body buffering, unlike BaseHTTPMiddleware)."""

import json
import os
import re
import time

import structlog
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobqueue.access.principal import Principal
from jobqueue.ops.metrics import ApiMetrics

log = structlog.get_logger("jobqueue.http")

REQUEST_ID_HEADER = "X-Request-ID"
_WELL_FORMED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Gives every request an id (a well-formed `X-Request-ID` is honoured), binds it to the
    log context, echoes it back, and logs one `http.request` line per request."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and _WELL_FORMED_REQUEST_ID.match(given) else _new_id()
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")  # the template keeps labels few
            self.metrics.http_requests.labels(scope["method"], template, status).inc()
            self.metrics.http_latency.labels(scope["method"], template).observe(elapsed)
            log.info(
                "http.request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            if (action := scope["state"].get("audit")) is not None:
                _audit(action, scope, template, status)


def _audit(action: str, scope: Scope, route: str, status: int) -> None:
    """One `audit.<action>` line per write: who (key name and tenant, never the token), where,
    and how it ended (the request id is bound already)."""
    principal: Principal | None = scope["state"].get("principal")
    if status < 400:
        outcome = "done"
    elif status in (401, 403):
        outcome = "denied"
    else:
        outcome = "refused" if status < 500 else "failed"
    log.info(
        f"audit.{action}",
        **scope["state"].get("audit_detail", {}),
        key=principal.name if principal else None,
        tenant=(principal.tenancy.tenant or "system") if principal else None,
        route=f"{scope['method']} {route}",
        path=scope["path"],
        status=status,
        outcome=outcome,
    )


def _header(scope: Scope, name: bytes) -> str | None:
    """A request header's value (`name` in lower case, as ASGI servers give them)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _new_id() -> str:
    return os.urandom(16).hex()  # 128 random bits, as uuid4 has, without building a UUID


class BodyTooLarge(HTTPException):
    """Raised from `receive`; an HTTPException so FastAPI's body parsing lets it through."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, _too_large_detail(max_bytes))


def _too_large_detail(max_bytes: int) -> str:
    return f"request body is larger than the {max_bytes}-byte limit"


class BodySizeLimitMiddleware:
    """Answers 413 for a body over `max_bytes`, by `Content-Length` or while streaming it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.max_bytes:
                await self._reject(send)
            else:  # the server reads no more than the declared length: nothing to count
                await self.app(scope, receive, send)
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if response_started:
                raise
            await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps({"detail": _too_large_detail(self.max_bytes)}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
