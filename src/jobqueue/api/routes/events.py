"""Server-Sent Events: one job's transitions and progress, and the live feed of all jobs."""

import functools
import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Annotated

import structlog
from fastapi import APIRouter, Header
from pydantic import AfterValidator
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.types import Receive, Send
from starlette.types import Scope as AsgiScope

from jobqueue.access.scopes import Scope
from jobqueue.api.auth import GuardedRoute, guarded
from jobqueue.api.dependencies import TenantQueueDep
from jobqueue.api.errors import NOT_FOUND, Responses
from jobqueue.api.schemas import ErrorBody
from jobqueue.history.followers import Following
from jobqueue.history.streams import Event, resume_point

log = structlog.get_logger("jobqueue.events")
router = APIRouter(tags=["events"], route_class=GuardedRoute)

PING_SECONDS = 15
# A client that takes no bytes for this long is dropped: its feed has ended (too far behind) or
# will, and the connection would keep its place among `max_streams` for as long as it lingers.
SEND_TIMEOUT_SECONDS = 30
STREAM_ID = r"^[0-9]{1,20}-[0-9]{1,20}$"


def _resume_point(value: str | None) -> str | None:
    return None if value is None else resume_point(value)


LastEventId = Annotated[
    str | None,
    Header(pattern=STREAM_ID, description="resume after this id (`ms-seq`, each below 2^64)"),
    AfterValidator(_resume_point),
]
SSE_RESPONSE: Responses = {
    200: {"content": {"text/event-stream": {}}, "description": "A stream of SSE events"}
}
STREAM_UNAVAILABLE: Responses = {
    503: {
        "model": ErrorBody,
        "description": "Redis is unreachable, or the server already serves `max_streams` "
        "streams and long-polls; retry after `Retry-After`",
    }
}


def _encode(event: Event) -> bytes:
    return ServerSentEvent(data=json.dumps(event.data), event=event.type, id=event.id).encode()


@functools.lru_cache(maxsize=4096)
def _encoded(event: Event) -> bytes:
    """An event as SSE, encoded once for every follower it goes to (the fan-out shares it)."""
    return _encode(event)


async def _as_sse(batches: AsyncIterable[list[Event]], *, shared: bool) -> AsyncIterator[bytes]:
    """`shared`: the events are the fan-out's own, encoded once for all their followers; a
    tenant's copies (its ids) are its alone, and are not cached among them."""
    encode = _encoded if shared else _encode
    async for events in batches:
        yield b"".join(encode(event) for event in events)  # one write for the batch


class Streamed(EventSourceResponse):
    """An SSE response that frees its follower's place however it ends: a client that hangs
    up before the first event was read leaves a generator that never started (and so never
    runs its own cleanup); one that stops reading is dropped after `SEND_TIMEOUT_SECONDS`."""

    def __init__(self, following: Following, *, shared: bool) -> None:
        super().__init__(
            _as_sse(following, shared=shared), ping=PING_SECONDS, send_timeout=SEND_TIMEOUT_SECONDS
        )
        self._following = following

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            log.warning("events.client_not_reading", after_s=SEND_TIMEOUT_SECONDS)
        finally:
            await self._following.aclose()


@router.get(
    "/v1/jobs/{job_id}/events",
    response_class=EventSourceResponse,
    **guarded(Scope.jobs_read, responses={**SSE_RESPONSE, **NOT_FOUND, **STREAM_UNAVAILABLE}),
)
async def job_events(
    job_id: str, queue: TenantQueueDep, last_event_id: LastEventId = None
) -> EventSourceResponse:
    """The job's past transitions, then live ones and progress; ends after it finishes."""
    await queue.get(job_id)  # 404 or 503 before the stream starts
    return Streamed(queue.job_events(job_id, last_event_id), shared=queue.tenancy.sees_all)


@router.get(
    "/v1/events",
    response_class=EventSourceResponse,
    **guarded(Scope.jobs_read, responses={**SSE_RESPONSE, **STREAM_UNAVAILABLE}),
)
async def all_events(
    queue: TenantQueueDep, last_event_id: LastEventId = None
) -> EventSourceResponse:
    """Every job's transitions as they happen; send `Last-Event-ID` to resume after a gap."""
    await queue.check_followable()  # 503 before the stream starts
    return Streamed(queue.all_events(last_event_id), shared=queue.tenancy.sees_all)
