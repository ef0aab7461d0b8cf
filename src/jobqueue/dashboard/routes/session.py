"""Logging in with a key and out again."""

from fastapi import Request
from fastapi.responses import Response

from jobqueue.dashboard.pages import (
    PREFIX,
    STALE_FORM,
    form_of,
    page,
    page_router,
    refused,
    same_origin,
    sessions_of,
    to,
    with_cookie,
)
from jobqueue.dashboard.sessions import COOKIE, CSRF_FIELD
from jobqueue.errors import Unauthenticated

router = page_router()


@router.get("/login")
async def login_page(request: Request) -> Response:
    sessions = sessions_of(request)
    if not sessions.login_needed or await sessions.viewer(request) is not None:
        return to("")  # (nothing to log in to, or logged in already)
    return page("login.html")


@router.post("/login")
async def log_in(request: Request) -> Response:
    if not same_origin(request):
        return refused("the login form must be sent from this dashboard")
    token = (await form_of(request)).get("token", "").strip()
    if not token:
        return page("login.html", status_code=401, error="paste an API key (jq_…) to log in")
    try:
        cookie, _ = await sessions_of(request).start(token)
    except Unauthenticated as rejected:
        return page("login.html", status_code=401, error=rejected.detail)
    return with_cookie(to(""), cookie, request)


@router.post("/logout")
async def log_out(request: Request) -> Response:
    sessions = sessions_of(request)
    viewer = await sessions.viewer(request)
    form = await form_of(request)
    fresh = viewer is None or (same_origin(request) and viewer.csrf_matches(form.get(CSRF_FIELD)))
    if not fresh:
        return refused(STALE_FORM)
    await sessions.end(request)
    response = to("/login")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response
