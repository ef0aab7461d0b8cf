"""Server-Sent Events: one job's transitions and progress, and the live feed of all jobs."""

import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header
from pydantic import AfterValidator
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from jobqueue.api.dependencies import QueueDep
from jobqueue.api.errors import NOT_FOUND, Responses
from jobqueue.api.schemas import ErrorBody
from jobqueue.history.fanout import Following
from jobqueue.history.streams import Event, resume_point

router = APIRouter(tags=["events"])

PING_SECONDS = 15
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


async def _as_sse(events: AsyncIterable[Event]) -> AsyncIterator[ServerSentEvent]:
    async for event in events:
        yield ServerSentEvent(data=json.dumps(event.data), event=event.type, id=event.id)


def _streamed(following: Following) -> EventSourceResponse:
    # Closed after the response too: a HEAD never reads the events, and must free its place.
    return EventSourceResponse(
        _as_sse(following), ping=PING_SECONDS, background=BackgroundTask(following.aclose)
    )


@router.get(
    "/v1/jobs/{job_id}/events",
    response_class=EventSourceResponse,
    responses={**SSE_RESPONSE, **NOT_FOUND, **STREAM_UNAVAILABLE},
)
async def job_events(
    job_id: str, queue: QueueDep, last_event_id: LastEventId = None
) -> EventSourceResponse:
    """The job's past transitions, then live ones and progress; ends after it finishes."""
    await queue.get(job_id)  # 404 or 503 before the stream starts
    return _streamed(queue.job_events(job_id, last_event_id))


@router.get(
    "/v1/events",
    response_class=EventSourceResponse,
    responses={**SSE_RESPONSE, **STREAM_UNAVAILABLE},
)
async def all_events(queue: QueueDep, last_event_id: LastEventId = None) -> EventSourceResponse:
    """Every job's transitions as they happen; send `Last-Event-ID` to resume after a gap."""
    await queue.check_ready()
    return _streamed(queue.all_events(last_event_id))
