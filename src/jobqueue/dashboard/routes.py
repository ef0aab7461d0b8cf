"""The dashboard's pages (none in OpenAPI: they are not the API). Every page needs a session
(`sessions`); every POST needs the page's CSRF token and a same-origin request."""

from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from jobqueue.access.scopes import Scope
from jobqueue.api.auth import audit_as, audit_detail
from jobqueue.api.dependencies import services_of
from jobqueue.dashboard.sessions import COOKIE, CSRF_FIELD, SESSION_TTL_S, Sessions, Viewer
from jobqueue.dashboard.views import overview
from jobqueue.errors import JobConflict, JobNotFound, Unauthenticated

PREFIX = "/dashboard"
STATIC = Path(str(files("jobqueue.dashboard") / "static"))
FORM_MAX_BYTES = 4096  # a login form holds a key, an action form a token
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Environment(
    loader=PackageLoader("jobqueue.dashboard", "templates"),
    autoescape=select_autoescape(["html"]),
)
router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _sessions(request: Request) -> Sessions:
    return services_of(request).sessions


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = templates.get_template(name).render(prefix=PREFIX, csrf_field=CSRF_FIELD, **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _to(path: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}{path}", status_code=303, headers=HEADERS)


def _with_cookie(response: Response, cookie: str, request: Request) -> Response:
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=SESSION_TTL_S,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _same_origin(request: Request) -> bool:
    """A POST from one of our own pages (browsers say where a request comes from)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > FORM_MAX_BYTES:
        return {}
    fields = parse_qs(body.decode(errors="replace"), max_num_fields=8)
    return {name: values[0] for name, values in fields.items()}


def _refused(why: str) -> HTMLResponse:
    return _page("refused.html", status=403, why=why)


@router.get("/login")
async def login_page(request: Request) -> Response:
    if not _sessions(request).login_needed:
        return _to("")
    return _page("login.html")


@router.post("/login")
async def log_in(request: Request) -> Response:
    if not _same_origin(request):
        return _refused("the login form must be sent from this dashboard")
    token = (await _form(request)).get("token", "").strip()
    try:
        cookie, _ = await _sessions(request).start(token)
    except Unauthenticated as refused:
        return _page("login.html", status=401, error=refused.detail)
    return _with_cookie(_to(""), cookie, request)


@router.post("/logout")
async def log_out(request: Request) -> Response:
    sessions = _sessions(request)
    viewer = await sessions.viewer(request)
    form = await _form(request)
    fresh = viewer is None or (_same_origin(request) and viewer.csrf_matches(form.get(CSRF_FIELD)))
    if not fresh:
        return _refused("the form's token is missing or stale: reload the page")
    await sessions.end(request)
    response = _to("/login")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


async def _viewer_or_login(request: Request) -> Viewer | Response:
    sessions = _sessions(request)
    viewer = await sessions.viewer(request)
    if viewer is not None:
        return viewer
    if sessions.login_needed:
        return _to("/login")
    cookie, viewer = await sessions.start(None)  # auth off: a session at once
    request.state.new_session = cookie
    return viewer


def _respond(request: Request, response: Response) -> Response:
    cookie = getattr(request.state, "new_session", None)
    return _with_cookie(response, cookie, request) if cookie else response


@router.get("")
async def overview_page(request: Request) -> Response:
    viewer = await _viewer_or_login(request)
    if isinstance(viewer, Response):
        return viewer
    context: dict[str, Any] = {"viewer": viewer, "page": "overview"}
    if viewer.may(Scope.ops_read):
        context["overview"] = await overview(services_of(request), viewer)
    return _respond(request, _page("overview.html", **context))


@router.get("/schedules")
async def schedules_page(request: Request) -> Response:
    viewer = await _viewer_or_login(request)
    if isinstance(viewer, Response):
        return viewer
    return _respond(request, await _schedules(request, viewer))


async def _schedules(
    request: Request, viewer: Viewer, *, status: int = 200, error: str | None = None
) -> HTMLResponse:
    context: dict[str, Any] = {"viewer": viewer, "page": "schedules", "error": error}
    if viewer.may(Scope.ops_read):
        sees_keys = viewer.principal.tenancy.sees_all
        context["schedules"] = await services_of(request).operations.crons(sees_keys=sees_keys)
    context["may_run"] = viewer.may(Scope.ops_write)
    context["may_pause"] = viewer.may(Scope.admin)  # (a schedule runs for every tenant)
    return _page("schedules.html", status=status, **context)


SCHEDULE_ACTIONS = {"pause": "cron_pause", "resume": "cron_resume", "run": "cron_run"}


@router.post("/schedules/{name}/{action}")
async def act_on_schedule(request: Request, name: str, action: str) -> Response:
    """Pause, resume or run a schedule now, as `POST /v1/cron/{name}/{action}` does (audited
    alike); needs `ops:write`, the page's CSRF token and a same-origin form."""
    if action not in SCHEDULE_ACTIONS:
        return _page("refused.html", status=404, why=f"no action {action!r}")
    audit_as(request, SCHEDULE_ACTIONS[action])
    viewer = await _sessions(request).viewer(request)
    if viewer is None:
        return _to("/login")
    request.state.principal = viewer.principal  # (for the audit line)
    form = await _form(request)
    if not _same_origin(request) or not viewer.csrf_matches(form.get(CSRF_FIELD)):
        return _refused("the form's token is missing or stale: reload the page")
    needed = Scope.ops_write if action == "run" else Scope.admin
    if not viewer.may(needed):
        return _refused(f"the API key {viewer.principal.name!r} lacks the scope {needed.value!r}")
    operations = services_of(request).operations
    by = viewer.principal.name if _sessions(request).login_needed else None
    try:
        if action == "pause":
            await operations.pause_cron(name, by)
        elif action == "resume":
            await operations.resume_cron(name)
        else:
            run = await operations.run_cron(name, by)
            audit_detail(request, job_id=run.job_id)
    except JobNotFound as missing:
        return await _schedules(request, viewer, status=404, error=missing.detail)
    except JobConflict as conflict:
        return await _schedules(request, viewer, status=409, error=conflict.detail)
    return _to("/schedules")


def install_dashboard(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="dashboard-static")
