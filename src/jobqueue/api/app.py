"""The FastAPI application factory."""

import asyncio
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

import structlog
from fastapi import FastAPI

from jobqueue.access.gate import Gate
from jobqueue.api.auth import install_scope_descriptions
from jobqueue.api.dependencies import Services
from jobqueue.api.enqueue_schema import install_enqueue_schema
from jobqueue.api.errors import EVERY_ROUTE, install_error_handlers
from jobqueue.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from jobqueue.api.routes import enqueue, events, functions, health, jobs, operations
from jobqueue.api.routes.docs import install_docs
from jobqueue.dashboard.routes import install_dashboard
from jobqueue.dashboard.sessions import Sessions
from jobqueue.errors import QueueUnavailable
from jobqueue.history.tracker import JobTracker
from jobqueue.jobs.catalog import registry as default_registry
from jobqueue.jobs.declaration import JobRegistry
from jobqueue.jobs.schedules import resolve_schedules
from jobqueue.ops.facade import Operations
from jobqueue.ops.metrics import ApiMetrics
from jobqueue.queue import JobQueue
from jobqueue.settings import Settings
from jobqueue.store.capacity import warn_of_config_risks
from jobqueue.store.client import TrackedRedis
from jobqueue.store.connection import create_redis

log = structlog.get_logger("jobqueue.api")


AUTH_OFF_WARNING = (
    "JOBQUEUE_AUTH=off: every request is served as an admin's, with no API key. "
    "Serve only on loopback, or set JOBQUEUE_API_KEYS_FILE and remove JOBQUEUE_AUTH."
)


@contextmanager
def reloading_keys_on_sighup(gate: Gate) -> Iterator[None]:
    """`kill -HUP <api pid>` re-reads the keys file now (uvicorn leaves SIGHUP to us)."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, lambda: gate.reload(force=True))
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread (tests)
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGHUP)


def connect_redis(settings: Settings) -> TrackedRedis:
    return create_redis(settings, JobTracker(settings))


def create_app(
    settings: Settings,
    *,
    registry: JobRegistry = default_registry,
    connect: Callable[[Settings], TrackedRedis] = connect_redis,
) -> FastAPI:
    """`connect` builds the process's one Redis pool (tests pass a fakeredis-backed one).
    Raises `AccessMisconfigured` when there are no usable API keys and auth is not off, and
    `ScheduleInvalid` when a declared schedule cannot run."""
    gate = Gate.from_settings(settings)
    schedules = resolve_schedules(settings, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = connect(settings)
        queue = JobQueue(redis, settings)
        operations = Operations(redis, settings, queue, schedules)
        sessions = Sessions(redis, gate)
        app.state.services = Services(
            queue, operations, registry, settings, metrics, gate, sessions
        )
        metrics.open_streams.set_function(lambda: queue.fanout.subscribers)
        try:
            await queue.check_ready()
            await queue.start_event_reader()
        except QueueUnavailable as exc:  # serve anyway: /readyz reports it, and we heal
            log.warning("redis.unavailable_at_startup", error=exc.detail)
        await warn_of_config_risks(redis, log)
        if not gate.auth_on:
            log.warning("api.auth_off", hint=AUTH_OFF_WARNING)
        log.info("api.started", queue=settings.queue_name, functions=registry.names())
        watcher = asyncio.create_task(gate.watch(), name="keys-file-watcher")
        with reloading_keys_on_sighup(gate):
            try:
                yield
            finally:
                watcher.cancel()
                await queue.fanout.aclose()  # the event reader, started by the first follower
                await redis.aclose()

    app = FastAPI(
        title="jobqueue",
        version="0.1.0",
        summary="Enqueue typed jobs over REST; arq workers run them.",
        lifespan=lifespan,
        # Our telemetry is structlog and Prometheus. FastAPI's OpenTelemetry hooks would look
        # up the global OTel providers on every request, and the image ships no OTel SDK.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        responses=EVERY_ROUTE,  # the server's limits apply to every route, whatever its method
        docs_url=None,  # (FastAPI's pages load their assets from a CDN: ours are served here)
        redoc_url=None,
    )
    metrics = ApiMetrics()
    app.include_router(enqueue.router)
    app.include_router(jobs.router)
    app.include_router(events.router)
    app.include_router(functions.router)
    app.include_router(operations.router)
    app.include_router(health.router)
    install_docs(app)
    install_dashboard(app)
    install_error_handlers(app)
    install_enqueue_schema(app, registry)
    install_scope_descriptions(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)  # outermost: ids even for 413
    return app
