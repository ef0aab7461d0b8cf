"""Server-Sent Events: one job's transitions and progress, and the live feed of all jobs."""

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header
from sse_starlette import EventSourceResponse, ServerSentEvent

from jobqueue.api.dependencies import QueueDep
from jobqueue.api.errors import NOT_FOUND, UNAVAILABLE
from jobqueue.history.streams import Event

router = APIRouter(tags=["events"])

PING_SECONDS = 15
STREAM_ID = r"^\d+-\d+$"
LastEventId = Annotated[str | None, Header(pattern=STREAM_ID, description="resume after this id")]
SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "A stream of SSE events"}
}


async def _as_sse(events: AsyncIterator[Event]) -> AsyncIterator[ServerSentEvent]:
    async for event in events:
        yield ServerSentEvent(data=json.dumps(event.data), event=event.type, id=event.id)


@router.get(
    "/v1/jobs/{job_id}/events",
    response_class=EventSourceResponse,
    responses={**SSE_RESPONSE, **NOT_FOUND, **UNAVAILABLE},
)
async def job_events(
    job_id: str, queue: QueueDep, last_event_id: LastEventId = None
) -> EventSourceResponse:
    """The job's past transitions, then live ones and progress; ends after it finishes."""
    await queue.get(job_id)  # 404 or 503 before the stream starts
    return EventSourceResponse(_as_sse(queue.job_events(job_id, last_event_id)), ping=PING_SECONDS)


@router.get(
    "/v1/events", response_class=EventSourceResponse, responses={**SSE_RESPONSE, **UNAVAILABLE}
)
async def all_events(queue: QueueDep, last_event_id: LastEventId = None) -> EventSourceResponse:
    """Every job's transitions as they happen; send `Last-Event-ID` to resume after a gap."""
    await queue.check_ready()
    return EventSourceResponse(_as_sse(queue.all_events(last_event_id)), ping=PING_SECONDS)
