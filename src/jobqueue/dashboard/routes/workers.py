"""Workers: alive or gone, what each runs, has completed and failed, when it was last seen."""

from fastapi import Request
from fastapi.responses import Response

from jobqueue.access.scopes import Scope
from jobqueue.api.dependencies import services_of
from jobqueue.dashboard.pages import page, page_router, respond, viewer_or_login

router = page_router()


@router.get("/workers")
async def workers_page(request: Request) -> Response:
    viewer = await viewer_or_login(request)
    if isinstance(viewer, Response):
        return viewer
    workers = None
    if viewer.may(Scope.ops_read):
        workers = await services_of(request).operations.workers()
    return respond(request, page("workers.html", viewer=viewer, page="workers", workers=workers))
