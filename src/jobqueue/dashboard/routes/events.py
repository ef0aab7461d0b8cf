"""The live feeds the dashboard's script follows: every job's events (the jobs list, the
overview) and one job's (its page); the API's streams, with the session in place of a bearer
token (an EventSource cannot send one) and the same tenancy."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from jobqueue.access.scopes import Scope
from jobqueue.api.routes.events import Streamed
from jobqueue.dashboard.pages import PREFIX, queue_for, refused, sessions_of, shown_as_page
from jobqueue.dashboard.sessions import Viewer
from jobqueue.history.streams import resume_point

router = APIRouter(prefix=PREFIX, include_in_schema=False)


async def _reader(request: Request) -> Viewer | Response:
    viewer = await sessions_of(request).viewer(request)
    if viewer is None:
        return Response(status_code=401)
    if not viewer.may(Scope.jobs_read):
        return Response(status_code=403)
    return viewer


def _resume(request: Request, after: str | None) -> str | None:
    """Where to pick up: the browser's `Last-Event-ID` when it reconnects, else the page's."""
    given = request.headers.get("last-event-id") or after
    return resume_point(given) if given else None


@router.get("/events")
@shown_as_page
async def all_events(request: Request, after: str | None = None) -> Response:
    viewer = await _reader(request)
    if isinstance(viewer, Response):
        return viewer
    try:
        resume = _resume(request, after)
    except ValueError as invalid:
        return refused(str(invalid), status_code=422)
    queue = queue_for(request, viewer)
    await queue.check_followable()
    return Streamed(queue.all_events(resume), shared=queue.tenancy.sees_all)


@router.get("/jobs/{job_id}/events")
@shown_as_page
async def job_events(request: Request, job_id: str, after: str | None = None) -> Response:
    viewer = await _reader(request)
    if isinstance(viewer, Response):
        return viewer
    try:
        resume = _resume(request, after)
    except ValueError as invalid:
        return refused(str(invalid), status_code=422)
    queue = queue_for(request, viewer)
    await queue.get(job_id)  # (404 before the stream starts)
    return Streamed(queue.job_events(job_id, resume), shared=queue.tenancy.sees_all)
