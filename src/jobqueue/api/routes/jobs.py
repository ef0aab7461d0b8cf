"""The job routes after the enqueue: list, read, long-poll for the outcome, abort, re-run."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError

from jobqueue.access.scopes import Scope
from jobqueue.api.auth import GuardedRoute, audit_detail, guarded
from jobqueue.api.dependencies import TenantQueueDep, principal_of, services_of
from jobqueue.api.disconnects import CLIENT_CLOSED_REQUEST, unless_disconnected
from jobqueue.api.errors import CONFLICT, NOT_FOUND, RATE_LIMITED, UNAVAILABLE, UNPARSABLE
from jobqueue.api.schemas import BulkRetryRequest, BulkRetryResult, JobPage
from jobqueue.history.pages import MAX_PAGE, InvalidCursor
from jobqueue.history.view import JobView
from jobqueue.history.vocabulary import JobStatus

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], route_class=GuardedRoute)

MAX_WAIT_SECONDS = 60


@router.get("", response_model=JobPage, **guarded(Scope.jobs_read, responses=UNAVAILABLE))
async def list_jobs(
    queue: TenantQueueDep,
    status: JobStatus | None = None,
    function: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> JobPage:
    """Jobs newest first, filtered by status and/or function; page with `next_cursor`."""
    try:
        page = await queue.list_jobs(status=status, function=function, limit=limit, cursor=cursor)
    except InvalidCursor as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "cursor"), "msg": str(exc), "input": cursor}]
        ) from None
    return JobPage(jobs=page.jobs, next_cursor=page.next_cursor)


@router.post(
    "/retry",
    response_model=BulkRetryResult,
    **guarded(Scope.ops_write, audit="bulk_retry", responses={**UNPARSABLE, **UNAVAILABLE}),
)
async def retry_jobs(
    request: BulkRetryRequest, http_request: Request, queue: TenantQueueDep
) -> BulkRetryResult:
    """Re-run failed (or aborted) jobs matching the filter, newest first, each at most once."""
    outcome = await queue.retry_many(
        status=JobStatus(request.status),
        function=request.function,
        since=request.since,
        limit=request.limit,
    )
    audit_detail(http_request, retried=len(outcome.retried), already=outcome.already_retried)
    return BulkRetryResult(
        retried=len(outcome.retried),
        already_retried=outcome.already_retried,
        job_ids=outcome.retried,
    )


@router.get(
    "/{job_id}",
    response_model=JobView,
    **guarded(Scope.jobs_read, responses={**NOT_FOUND, **UNAVAILABLE}),
)
async def get_job(job_id: str, queue: TenantQueueDep) -> JobView:
    return await queue.get(job_id)


@router.get(
    "/{job_id}/result",
    response_model=JobView,
    **guarded(
        Scope.jobs_read,
        responses={
            202: {
                "model": JobView,
                "description": "Not finished within `timeout`: the current view",
            },
            **NOT_FOUND,
            **UNAVAILABLE,
        },
    ),
)
async def wait_for_job(
    job_id: str,
    request: Request,
    response: Response,
    queue: TenantQueueDep,
    timeout: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS, allow_inf_nan=False)] = 0,
) -> JobView | Response:
    """Wait up to `timeout` seconds for the job to finish: 200 once it has, else 202."""
    view = await unless_disconnected(request, queue.wait(job_id, timeout))
    if view is None:  # the client hung up: its wait is over
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    response.status_code = status.HTTP_200_OK if view.status.is_terminal else 202
    return view


@router.delete(
    "/{job_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    **guarded(Scope.jobs_write, audit="abort", responses={**NOT_FOUND, **CONFLICT, **UNAVAILABLE}),
)
async def abort_job(job_id: str, queue: TenantQueueDep) -> JobView:
    """Abort a queued, deferred or running job; it ends as `aborted`."""
    return await queue.abort(job_id)


@router.post(
    "/{job_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    **guarded(
        Scope.jobs_write,
        audit="retry",
        responses={
            200: {"model": JobView, "description": "Already re-run: the earlier re-run's view"},
            **NOT_FOUND,
            **CONFLICT,
            **RATE_LIMITED,
            **UNAVAILABLE,
        },
    ),
)
async def retry_job(
    job_id: str, request: Request, response: Response, queue: TenantQueueDep
) -> JobView:
    """Re-run a failed or aborted job with the same function and args, under a new id (an
    enqueue: it counts towards the key's rate limit)."""
    services_of(request).gate.charge(principal_of(request))
    view, created = await queue.retry(job_id)
    audit_detail(request, rerun=view.job_id, created=created)
    response.status_code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
    response.headers["Location"] = f"{router.prefix}/{view.job_id}"
    return view
