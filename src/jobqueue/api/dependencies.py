"""FastAPI dependencies: the per-process objects the lifespan put on `app.state`.

All `async def`: FastAPI runs a plain `def` dependency in its threadpool, a thread hop per
dependency per request (it cut `POST /v1/jobs` to a third of its speed).
"""

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


async def _request_id(request: Request) -> str | None:
    request_id: str | None = getattr(request.state, "request_id", None)
    return request_id


async def _metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


QueueDep = Annotated[JobQueue, Depends(_queue)]
RegistryDep = Annotated[JobRegistry, Depends(_registry)]
SettingsDep = Annotated[Settings, Depends(_settings)]
RequestIdDep = Annotated[str | None, Depends(_request_id)]
MetricsDep = Annotated[ApiMetrics, Depends(_metrics)]
