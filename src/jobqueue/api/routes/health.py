"""Liveness and readiness probes."""

from fastapi import APIRouter

from jobqueue.api.dependencies import QueueDep
from jobqueue.api.errors import UNAVAILABLE
from jobqueue.api.schemas import HealthStatus

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthStatus)
async def healthz() -> HealthStatus:
    """The process is up. Touches nothing else."""
    return HealthStatus(status="ok")


@router.get("/readyz", response_model=HealthStatus, responses=UNAVAILABLE)
async def readyz(queue: QueueDep) -> HealthStatus:
    """Redis answers, so jobs can be enqueued and read."""
    await queue.check_ready()
    return HealthStatus(status="ready")
