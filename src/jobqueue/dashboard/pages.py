"""What every dashboard route shares: rendering a page (with its security headers), redirects,
the session cookie, reading a small form, and who is asking (`viewer_or_login` for a page,
`acting_viewer` for an action: its session, the page's CSRF token, a same-origin form and the
scope it needs)."""

import json
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape

from jobqueue.access.scopes import Scope
from jobqueue.api.auth import audit_as
from jobqueue.api.dependencies import services_of
from jobqueue.api.errors import RETRY_AFTER_SECONDS
from jobqueue.dashboard.sessions import COOKIE, CSRF_FIELD, SESSION_TTL_S, Sessions, Viewer
from jobqueue.errors import JobQueueError
from jobqueue.tenant_queue import TenantQueue

PREFIX = "/dashboard"
FORM_MAX_BYTES = 64 * 1024  # an enqueue form's args; a login form holds a key
FORM_MAX_FIELDS = 64
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
# JSON as a person reads it, then escaped as any text (`tojson` is for scripts: it writes
# `<` as `\u003c` and sorts the keys)
templates.filters["pretty_json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)


def sessions_of(request: Request) -> Sessions:
    return services_of(request).sessions


def render(name: str, **context: Any) -> str:
    return templates.get_template(name).render(prefix=PREFIX, csrf_field=CSRF_FIELD, **context)


def page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(name, **context), status_code=status_code, headers=HEADERS)


def fragment(name: str, **context: Any) -> HTMLResponse:
    """A piece of a page, for a script that swaps it in (a table row, a job's panel)."""
    return HTMLResponse(render(name, **context), headers=HEADERS)


def to(path: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}{path}", status_code=303, headers=HEADERS)


def refused(why: str, status_code: int = 403) -> HTMLResponse:
    return page("refused.html", status_code=status_code, why=why)


def logged_out() -> HTMLResponse:
    """An action without a session (it ended, or its key was removed): 401, and a login."""
    return page("login.html", status_code=401, error=SESSION_ENDED)


SESSION_ENDED = "your session has ended (or its key was removed): log in again, then retry"


def with_cookie(response: Response, cookie: str, request: Request) -> Response:
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


def same_origin(request: Request) -> bool:
    """A POST from one of our own pages (browsers say where a request comes from)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


class FormTooLarge(JobQueueError):
    status_code = 413


async def form_of(request: Request) -> dict[str, str]:
    """A urlencoded form's fields (the first value of each); `FormTooLarge` (413) past
    `FORM_MAX_BYTES` or `FORM_MAX_FIELDS`."""
    body = await request.body()
    if len(body) > FORM_MAX_BYTES:
        raise FormTooLarge(f"the form is over {FORM_MAX_BYTES // 1024} KiB")
    try:
        fields = parse_qs(body.decode(errors="replace"), max_num_fields=FORM_MAX_FIELDS)
    except ValueError:  # (more than FORM_MAX_FIELDS)
        raise FormTooLarge(f"the form has more than {FORM_MAX_FIELDS} fields") from None
    return {name: values[0] for name, values in fields.items()}


async def viewer_or_login(request: Request) -> Viewer | Response:
    """The page's viewer, or a redirect to the login page. With auth off a visitor gets a
    session at once (`respond` sets its cookie)."""
    sessions = sessions_of(request)
    viewer = await sessions.viewer(request)
    if viewer is not None:
        return viewer
    if sessions.login_needed:
        return to("/login")
    cookie, viewer = await sessions.start(None)
    request.state.new_session = cookie
    return viewer


def respond(request: Request, response: Response) -> Response:
    cookie = getattr(request.state, "new_session", None)
    return with_cookie(response, cookie, request) if cookie else response


STALE_FORM = "the form's token is missing or stale: reload the page"


async def acting_viewer(
    request: Request, audit: str, needed: Scope
) -> tuple[Viewer, dict[str, str]] | Response:
    """The viewer acting and its form, when the action may go ahead: a session, a same-origin
    form with the page's CSRF token, and a key holding `needed` (audited as the API's `audit`
    action either way); else the page that says why not."""
    audit_as(request, audit)
    viewer = await sessions_of(request).viewer(request)
    if viewer is None:
        return logged_out()
    request.state.principal = viewer.principal  # (for the audit line)
    form = await form_of(request)
    if not same_origin(request) or not viewer.csrf_matches(form.get(CSRF_FIELD)):
        return refused(STALE_FORM)
    if not viewer.may(needed):
        return refused(f"the API key {viewer.principal.name!r} lacks the scope {needed.value!r}")
    return viewer, form


def acted_by(request: Request, viewer: Viewer) -> str | None:
    """The key name an action records (None with auth off, as the API records it)."""
    return viewer.principal.name if sessions_of(request).login_needed else None


def queue_for(request: Request, viewer: Viewer) -> TenantQueue:
    """The queue as the viewer's key sees it (its tenant's jobs only), as the API's routes
    build it from a request's key."""
    return TenantQueue(
        services_of(request).queue, viewer.principal.tenancy, acted_by(request, viewer)
    )


class PageRoute(APIRoute):
    """A dashboard route: a domain error (a job not found, a conflict, a form too large, Redis
    unreachable: 503 with Retry-After) is answered as a page saying so, with the status the
    API would give, not as the API's JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def answered(request: Request) -> Response:
            try:
                return await handle(request)
            except JobQueueError as failure:
                response = refused(failure.detail, status_code=failure.status_code)
                extra = {"Retry-After": RETRY_AFTER_SECONDS} if failure.status_code == 503 else {}
                response.headers.update({**failure.headers, **extra})
                return response

        return answered


def page_router() -> APIRouter:
    """A router for a module of dashboard pages (not in OpenAPI: they are not the API)."""
    return APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PageRoute)
