"""The overview: the queue's depth, the last hour, the workers."""

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from jobqueue.access.scopes import Scope
from jobqueue.api.dependencies import services_of
from jobqueue.dashboard.pages import fragment, page, page_router, respond, viewer_or_login
from jobqueue.dashboard.views import overview

router = page_router()


@router.get("")
async def overview_page(request: Request) -> Response:
    viewer = await viewer_or_login(request)
    if isinstance(viewer, Response):
        return viewer
    context: dict[str, Any] = {"viewer": viewer, "page": "overview", "jobs_read": Scope.jobs_read}
    if viewer.may(Scope.ops_read):
        context["feed_position"] = await services_of(request).queue.feed_position()
        context["overview"] = await overview(services_of(request), viewer)
    return respond(request, page("overview.html", **context))


@router.get("/overview/figures")
async def overview_figures(request: Request) -> Response:
    """The overview's figures alone, for the page's script to swap in as jobs change."""
    viewer = await viewer_or_login(request)
    if isinstance(viewer, Response):
        return viewer
    if not viewer.may(Scope.ops_read):
        return Response(status_code=403)
    figures = await overview(services_of(request), viewer)
    return fragment("overview_figures.html", viewer=viewer, overview=figures)
