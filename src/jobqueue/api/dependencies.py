"""FastAPI dependencies: the one `Services` object the lifespan puts on `app.state`, and the
aliases routes take from it.

All `async def`: FastAPI runs a plain `def` dependency in its threadpool, a thread hop per
dependency per request (it cut `POST /v1/jobs` to a third of its speed).
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from jobqueue.access.gate import Gate
from jobqueue.access.principal import ANONYMOUS, Principal
from jobqueue.dashboard.sessions import Sessions
from jobqueue.jobs.declaration import JobRegistry
from jobqueue.ops.facade import Operations
from jobqueue.ops.metrics import ApiMetrics
from jobqueue.queue import JobQueue
from jobqueue.settings import Settings
from jobqueue.tenant_queue import TenantQueue


@dataclass(frozen=True)
class Services:
    """The app's long-lived objects, built once by the lifespan."""

    queue: JobQueue
    operations: Operations
    registry: JobRegistry
    settings: Settings
    metrics: ApiMetrics
    gate: Gate
    sessions: Sessions  # the dashboard's


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _services(request: Request) -> Services:
    return services_of(request)


async def _queue(request: Request) -> JobQueue:
    return services_of(request).queue


async def _operations(request: Request) -> Operations:
    return services_of(request).operations


async def _registry(request: Request) -> JobRegistry:
    return services_of(request).registry


def principal_of(request: Request) -> Principal:
    """Who the request's key is (set by the route's guard, `api.auth`, before anything else)."""
    principal: Principal = request.state.principal
    return principal


def key_name_of(request: Request) -> str | None:
    """The name of the request's API key, as jobs record who acted (None with auth off)."""
    principal = principal_of(request)
    return None if principal is ANONYMOUS else principal.name


def tenant_queue_of(request: Request) -> TenantQueue:
    tenancy = principal_of(request).tenancy
    return TenantQueue(services_of(request).queue, tenancy, key_name_of(request))


async def _tenant_queue(request: Request) -> TenantQueue:
    return tenant_queue_of(request)


def request_id_of(request: Request) -> str | None:
    request_id: str | None = getattr(request.state, "request_id", None)
    return request_id


ServicesDep = Annotated[Services, Depends(_services)]
QueueDep = Annotated[JobQueue, Depends(_queue)]
TenantQueueDep = Annotated[TenantQueue, Depends(_tenant_queue)]  # the caller's jobs
OperationsDep = Annotated[Operations, Depends(_operations)]
RegistryDep = Annotated[JobRegistry, Depends(_registry)]
