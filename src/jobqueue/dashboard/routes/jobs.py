"""Jobs: the filtered, paged list (new and changed jobs appear live, see `static/dashboard.js`),
one job's page (args, result or error, progress, timeline, re-run links) with abort and retry,
and the re-run of every failure the filter shows, once confirmed. The list's rows and the job's
panel are also served alone, for the script to swap in when an event says they changed."""

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from jobqueue.access.scopes import Scope
from jobqueue.api.auth import audit_detail
from jobqueue.api.dependencies import services_of
from jobqueue.dashboard.pages import (
    acting_viewer,
    fragment,
    page,
    page_router,
    queue_for,
    refused,
    respond,
    to,
    viewer_or_login,
)
from jobqueue.dashboard.sessions import Viewer
from jobqueue.dashboard.timeline import timeline
from jobqueue.history.pages import InvalidCursor
from jobqueue.history.view import JobView
from jobqueue.history.vocabulary import RETRYABLE_STATUSES, JobStatus

router = page_router()

PAGE_SIZE = 25
BULK_RETRY_LIMIT = 100  # as `POST /v1/jobs/retry` by default


def _reading_viewer(viewer: Viewer | Response) -> Viewer | Response:
    if isinstance(viewer, Viewer) and not viewer.may(Scope.jobs_read):
        name = viewer.principal.name
        return refused(f"the API key {name!r} lacks the scope 'jobs:read'")
    return viewer


def _status(given: str | None) -> tuple[JobStatus | None, str | None]:
    """The status filter, or the message saying why it is none (as the API's 422 would)."""
    if not given:
        return None, None
    try:
        return JobStatus(given), None
    except ValueError:
        known = ", ".join(f"'{s.value}'" for s in JobStatus)
        return None, f"status must be one of {known}, not {given[:40]!r}"


def _count(given: str | None) -> int | None:
    digits = given is not None and given.isascii() and given.isdigit() and len(given) < 8
    return int(given) if digits and given else None


@router.get("/jobs")
async def jobs_page(
    request: Request,
    status: str | None = None,
    function: str | None = None,
    cursor: str | None = None,
    retried: str | None = None,
    already: str | None = None,
) -> Response:
    viewer = _reading_viewer(await viewer_or_login(request))
    if isinstance(viewer, Response):
        return viewer
    chosen, invalid = _status(status)
    function = function or None
    registry_names = services_of(request).registry.names()
    context: dict[str, Any] = {
        "viewer": viewer,
        "page": "jobs",
        "statuses": list(JobStatus),
        "functions": registry_names,
        "status": chosen,
        "function": function,
        "cursor": cursor,
        "retried": _count(retried),  # (the note after a bulk re-run)
        "already": _count(already),
        "unlisted_function": function is not None and function not in registry_names,
        "may_write": viewer.may(Scope.jobs_write),
        "may_bulk_retry": viewer.may(Scope.ops_write) and chosen in RETRYABLE_STATUSES,
    }
    if invalid is not None:
        return respond(
            request, page("jobs.html", status_code=422, error=invalid, jobs=[], **context)
        )
    queue = queue_for(request, viewer)
    context["feed_position"] = await queue.feed_position()  # (before the page is read)
    try:
        listed = await queue.list_jobs(
            status=chosen, function=function, limit=PAGE_SIZE, cursor=cursor
        )
    except InvalidCursor as bad_cursor:
        return respond(
            request, page("jobs.html", status_code=422, error=str(bad_cursor), jobs=[], **context)
        )
    context.update(jobs=listed.jobs, next_cursor=listed.next_cursor)
    return respond(request, page("jobs.html", **context))


@router.get("/retry-jobs")
async def bulk_retry_page(
    request: Request, status: str = "failed", function: str | None = None
) -> Response:
    """The confirmation before re-running every failure the filter shows."""
    viewer = _reading_viewer(await viewer_or_login(request))
    if isinstance(viewer, Response):
        return viewer
    chosen, _ = _status(status)
    if chosen not in RETRYABLE_STATUSES:
        return refused("only failed or aborted jobs can be re-run", status_code=422)
    context: dict[str, Any] = {
        "viewer": viewer,
        "page": "jobs",
        "status": chosen,
        "function": function or None,
        "may_bulk_retry": viewer.may(Scope.ops_write),
    }
    return respond(request, page("bulk_retry.html", limit=BULK_RETRY_LIMIT, **context))


@router.post("/retry-jobs")
async def bulk_retry(request: Request) -> Response:
    """Re-run the filter's failures, as `POST /v1/jobs/retry` (audited alike, `ops:write`)."""
    acting = await acting_viewer(request, "bulk_retry", Scope.ops_write)
    if isinstance(acting, Response):
        return acting
    viewer, form = acting
    chosen, _ = _status(form.get("status"))
    if chosen is None or chosen not in RETRYABLE_STATUSES:
        return refused("only failed or aborted jobs can be re-run", status_code=422)
    function = form.get("function") or None
    outcome = await queue_for(request, viewer).retry_many(
        status=chosen, function=function, since=None, limit=BULK_RETRY_LIMIT
    )
    audit_detail(request, retried=len(outcome.retried), already=outcome.already_retried)
    shown = {"status": chosen.value, "function": function or ""}
    done = {"retried": len(outcome.retried), "already": outcome.already_retried}
    return to(f"/jobs?{urlencode({**shown, **done})}")


def _job_context(view: JobView, viewer: Viewer, events: Any) -> dict[str, Any]:
    shown = view.model_dump(mode="json")  # (its secrets masked)
    return {
        "viewer": viewer,
        "page": "jobs",
        "job": view,
        "args": shown["args"],
        "result": shown["result"],
        "timeline": timeline(events),
        "may_write": viewer.may(Scope.jobs_write),
    }


async def _job(request: Request, viewer: Viewer, job_id: str) -> dict[str, Any]:
    queue = queue_for(request, viewer)
    view = await queue.get(job_id)
    return _job_context(view, viewer, await queue.history(job_id))


@router.get("/jobs/{job_id}")
async def job_page(request: Request, job_id: str) -> Response:
    viewer = _reading_viewer(await viewer_or_login(request))
    if isinstance(viewer, Response):
        return viewer
    return respond(request, page("job.html", **await _job(request, viewer, job_id)))


@router.get("/jobs/{job_id}/panel")
async def job_panel(request: Request, job_id: str) -> Response:
    viewer = _reading_viewer(await viewer_or_login(request))
    if isinstance(viewer, Response):
        return viewer
    return fragment("job_panel.html", **await _job(request, viewer, job_id))


@router.get("/jobs/{job_id}/row")
async def job_row(request: Request, job_id: str) -> Response:
    viewer = _reading_viewer(await viewer_or_login(request))
    if isinstance(viewer, Response):
        return viewer
    view = await queue_for(request, viewer).get(job_id)
    return fragment("job_row.html", viewer=viewer, job=view)


@router.post("/jobs/{job_id}/abort")
async def abort_job(request: Request, job_id: str) -> Response:
    """As `DELETE /v1/jobs/{job_id}` (audited alike, `jobs:write`)."""
    acting = await acting_viewer(request, "abort", Scope.jobs_write)
    if isinstance(acting, Response):
        return acting
    viewer, _ = acting
    await queue_for(request, viewer).abort(job_id)
    return to(f"/jobs/{job_id}")


@router.post("/jobs/{job_id}/retry")
async def retry_job(request: Request, job_id: str) -> Response:
    """As `POST /v1/jobs/{job_id}/retry` (audited alike, `jobs:write`, charged to the key's
    rate); shows the re-run."""
    acting = await acting_viewer(request, "retry", Scope.jobs_write)
    if isinstance(acting, Response):
        return acting
    viewer, _ = acting
    services_of(request).gate.charge(viewer.principal)
    rerun, created = await queue_for(request, viewer).retry(job_id)
    audit_detail(request, rerun=rerun.job_id, created=created)
    return to(f"/jobs/{rerun.job_id}")
