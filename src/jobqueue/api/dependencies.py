"""FastAPI dependencies: the per-process objects the lifespan put on `app.state`.

All `async def`: FastAPI runs a plain `def` dependency in its threadpool, a thread hop per
dependency per request (it cut `POST /v1/jobs` to a third of its speed).
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from jobqueue.metrics import ApiMetrics
from jobqueue.queue import JobQueue
from jobqueue.registry import JobRegistry
from jobqueue.settings import Settings


async def _queue(request: Request) -> JobQueue:
    queue: JobQueue = request.app.state.queue
    return queue


async def _registry(request: Request) -> JobRegistry:
    registry: JobRegistry = request.app.state.registry
    return registry


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@dataclass(frozen=True)
class Services:
    """The app's long-lived objects in one dependency: the hot routes resolve one, not four."""

    queue: JobQueue
    registry: JobRegistry
    settings: Settings
    metrics: ApiMetrics


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _services(request: Request) -> Services:
    return services_of(request)


def request_id_of(request: Request) -> str | None:
    request_id: str | None = getattr(request.state, "request_id", None)
    return request_id


QueueDep = Annotated[JobQueue, Depends(_queue)]
RegistryDep = Annotated[JobRegistry, Depends(_registry)]
SettingsDep = Annotated[Settings, Depends(_settings)]
ServicesDep = Annotated[Services, Depends(_services)]
