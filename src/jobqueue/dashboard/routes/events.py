"""The live feeds the dashboard's script follows: every job's events (the jobs list, the
overview) and one job's (its page); the API's streams, with the session in place of a bearer
token (an EventSource cannot send one) and the same tenancy."""

import re
import time
from collections.abc import AsyncGenerator, Callable

from fastapi import Request
from fastapi.responses import Response

from jobqueue.access.scopes import Scope
from jobqueue.api.routes.events import STREAM_ID, Streamed
from jobqueue.dashboard.pages import page_router, queue_for, refused, sessions_of
from jobqueue.dashboard.sessions import Viewer
from jobqueue.errors import JobQueueError
from jobqueue.history.followers import Following
from jobqueue.history.streams import Event, resume_point
from jobqueue.tenant_queue import TenantQueue

router = page_router()

RECHECK_SECONDS = 2.0


async def _reader(request: Request) -> Viewer | Response:
    viewer = await sessions_of(request).viewer(request)
    if viewer is None:
        return Response(status_code=401)
    if not viewer.may(Scope.jobs_read):
        return Response(status_code=403)
    return viewer


def _resume(request: Request, after: str | None) -> str | None:
    """Where to pick up: the browser's `Last-Event-ID` when it reconnects, else the page's
    (ValueError if it is not a stream id, as the API's `Last-Event-ID` is checked)."""
    given = request.headers.get("last-event-id") or after
    if not given:
        return None
    if not re.fullmatch(STREAM_ID, given):
        raise ValueError(f"after must be a stream id `ms-seq` (digits): {given[:64]!r} is not")
    return resume_point(given)


def _while_signed_in(
    request: Request,
) -> Callable[[AsyncGenerator[list[Event], None]], AsyncGenerator[list[Event], None]]:
    """The feed, ended once its session is: logged out, expired, or its key removed or left
    without `jobs:read` (looked at again every `RECHECK_SECONDS`, before a batch goes out)."""

    async def checked(
        batches: AsyncGenerator[list[Event], None],
    ) -> AsyncGenerator[list[Event], None]:
        looked = time.monotonic()
        async for events in batches:
            if time.monotonic() - looked >= RECHECK_SECONDS:
                try:
                    viewer = await sessions_of(request).viewer(request)
                except JobQueueError:  # (Redis unreachable: the browser reconnects later)
                    return
                if viewer is None or not viewer.may(Scope.jobs_read):
                    return
                looked = time.monotonic()
            yield events

    return checked


async def _opened(request: Request, after: str | None) -> tuple[TenantQueue, str | None] | Response:
    """The viewer's queue and where its feed resumes, or why it may not follow one."""
    viewer = await _reader(request)
    if isinstance(viewer, Response):
        return viewer
    try:
        resume = _resume(request, after)
    except ValueError as invalid:
        return refused(str(invalid), status_code=422)
    return queue_for(request, viewer), resume


def _streamed(request: Request, queue: TenantQueue, following: Following) -> Streamed:
    return Streamed(following.mapped(_while_signed_in(request)), shared=queue.tenancy.sees_all)


@router.get("/events")
async def all_events(request: Request, after: str | None = None) -> Response:
    opened = await _opened(request, after)
    if isinstance(opened, Response):
        return opened
    queue, resume = opened
    await queue.check_followable()
    return _streamed(request, queue, queue.all_events(resume))


@router.get("/jobs/{job_id}/events")
async def job_events(request: Request, job_id: str, after: str | None = None) -> Response:
    opened = await _opened(request, after)
    if isinstance(opened, Response):
        return opened
    queue, resume = opened
    await queue.get(job_id)  # (404 before the stream starts)
    return _streamed(request, queue, queue.job_events(job_id, resume))
