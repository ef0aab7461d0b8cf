"""Schedules: each in words, its next and last run; pause, resume, run now."""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from jobqueue.access.scopes import Scope
from jobqueue.api.auth import audit_detail
from jobqueue.api.dependencies import services_of
from jobqueue.dashboard.pages import (
    acted_by,
    acting_viewer,
    page,
    page_router,
    respond,
    to,
    viewer_or_login,
)
from jobqueue.dashboard.sessions import Viewer
from jobqueue.errors import JobConflict, JobNotFound

router = page_router()


@router.get("/schedules")
async def schedules_page(request: Request) -> Response:
    viewer = await viewer_or_login(request)
    if isinstance(viewer, Response):
        return viewer
    return respond(request, await _schedules(request, viewer))


async def _schedules(
    request: Request, viewer: Viewer, *, status_code: int = 200, error: str | None = None
) -> HTMLResponse:
    context: dict[str, Any] = {"viewer": viewer, "page": "schedules", "error": error}
    if viewer.may(Scope.ops_read):
        sees_keys = viewer.principal.tenancy.sees_all
        context["schedules"] = await services_of(request).operations.crons(sees_keys=sees_keys)
        context["sees_all"] = sees_keys  # (a schedule's runs are the system's jobs)
    context["may_run"] = viewer.may(Scope.ops_write)
    context["may_pause"] = viewer.may(Scope.admin)  # (a schedule runs for every tenant)
    return page("schedules.html", status_code=status_code, **context)


# action: (the API's audit name, the scope it needs)
SCHEDULE_ACTIONS = {
    "pause": ("cron_pause", Scope.admin),
    "resume": ("cron_resume", Scope.admin),
    "run": ("cron_run", Scope.ops_write),
}


@router.post("/schedules/{name}/{action}")
async def act_on_schedule(request: Request, name: str, action: str) -> Response:
    """Pause, resume or run a schedule now, as `POST /v1/cron/{name}/{action}` does (audited
    alike, with the same scopes)."""
    if action not in SCHEDULE_ACTIONS:
        return page("refused.html", status_code=404, why=f"no action {action!r}")
    audit, needed = SCHEDULE_ACTIONS[action]
    acting = await acting_viewer(request, audit, needed)
    if isinstance(acting, Response):
        return acting
    viewer, _ = acting
    operations = services_of(request).operations
    try:
        if action == "pause":
            await operations.pause_cron(name, acted_by(request, viewer))
        elif action == "resume":
            await operations.resume_cron(name)
        else:
            run = await operations.run_cron(name, acted_by(request, viewer))
            audit_detail(request, job_id=run.job_id)
    except JobNotFound as missing:
        return await _schedules(request, viewer, status_code=404, error=missing.detail)
    except JobConflict as conflict:
        return await _schedules(request, viewer, status_code=409, error=conflict.detail)
    return to("/schedules")
