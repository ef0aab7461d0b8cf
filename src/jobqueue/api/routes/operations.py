"""What operators look at: cron jobs, queues, workers, metrics."""

from fastapi import APIRouter, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST

from jobqueue.access.scopes import Scope
from jobqueue.api.auth import GuardedRoute, guarded
from jobqueue.api.dependencies import OperationsDep, ServicesDep, key_name_of, principal_of
from jobqueue.api.errors import CONFLICT, NOT_FOUND, UNAVAILABLE
from jobqueue.history.view import JobView
from jobqueue.ops.crons import CronInfo
from jobqueue.ops.stats import QueueReport
from jobqueue.ops.workers import WorkerInfo

router = APIRouter(tags=["operations"], route_class=GuardedRoute)

SERIES_LENGTH = 60


@router.get(
    "/v1/cron", response_model=list[CronInfo], **guarded(Scope.ops_read, responses=UNAVAILABLE)
)
async def list_cron_jobs(request: Request, operations: OperationsDep) -> list[CronInfo]:
    """Each cron job: schedule, next run, last run, whether it is running or paused (who paused
    it: for admin keys only)."""
    return await operations.crons(sees_keys=principal_of(request).tenancy.sees_all)


@router.post(
    "/v1/cron/{name}/run",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    **guarded(
        Scope.ops_write, audit="cron_run", responses={**NOT_FOUND, **CONFLICT, **UNAVAILABLE}
    ),
)
async def run_cron_job(name: str, request: Request, operations: OperationsDep) -> JobView:
    """Run a cron job now; 409 while a run of it is in progress."""
    return await operations.run_cron(name, key_name_of(request))


@router.post(
    "/v1/cron/{name}/pause",
    response_model=CronInfo,
    **guarded(Scope.admin, audit="cron_pause", responses={**NOT_FOUND, **CONFLICT, **UNAVAILABLE}),
)
async def pause_cron_job(name: str, request: Request, operations: OperationsDep) -> CronInfo:
    """Pause a schedule: every worker skips its slots from the next on (kept in Redis, seen at
    each slot); run-now still works. Pausing it again records who paused it last. A schedule
    runs for every tenant, so only an admin key may pause or resume it."""
    return await operations.pause_cron(name, key_name_of(request))


@router.post(
    "/v1/cron/{name}/resume",
    response_model=CronInfo,
    **guarded(Scope.admin, audit="cron_resume", responses={**NOT_FOUND, **CONFLICT, **UNAVAILABLE}),
)
async def resume_cron_job(name: str, operations: OperationsDep) -> CronInfo:
    """Resume a paused schedule: its next slot runs (slots passed while paused are not run)."""
    return await operations.resume_cron(name)


@router.get(
    "/v1/queues", response_model=list[QueueReport], **guarded(Scope.ops_read, responses=UNAVAILABLE)
)
async def list_queues(request: Request, operations: OperationsDep) -> list[QueueReport]:
    """Depth, oldest waiting age, recent throughput and the statistics series, per queue: of
    the caller's tenant's jobs only (an admin key's: of every job)."""
    tenant = principal_of(request).tenancy.tenant
    return await operations.queues(SERIES_LENGTH, tenant)


@router.get(
    "/v1/workers", response_model=list[WorkerInfo], **guarded(Scope.ops_read, responses=UNAVAILABLE)
)
async def list_workers(operations: OperationsDep) -> list[WorkerInfo]:
    """Workers seen recently: `alive`, or `gone` (not seen within the liveness window)."""
    return await operations.workers()


@router.get(
    "/metrics",
    response_class=Response,
    **guarded(
        Scope.metrics_read, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, **UNAVAILABLE}
    ),
)
async def metrics(services: ServicesDep) -> Response:
    """Prometheus text format: this API's metrics and the workers' (aggregated in Redis)."""
    body = await services.operations.metrics(services.metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
