"""Logging in with a key and out again."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from jobqueue.dashboard.pages import (
    PREFIX,
    STALE_FORM,
    form_of,
    page,
    refused,
    same_origin,
    sessions_of,
    to,
    with_cookie,
)
from jobqueue.dashboard.sessions import COOKIE, CSRF_FIELD
from jobqueue.errors import Unauthenticated

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/login")
async def login_page(request: Request) -> Response:
    if not sessions_of(request).login_needed:
        return to("")
    return page("login.html")


@router.post("/login")
async def log_in(request: Request) -> Response:
    if not same_origin(request):
        return refused("the login form must be sent from this dashboard")
    token = (await form_of(request)).get("token", "").strip()
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
