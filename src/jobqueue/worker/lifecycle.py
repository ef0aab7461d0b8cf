"""Worker start-up and shut-down hooks, and the arq function and cron lists."""

import asyncio
import contextlib
from typing import Any

import httpx
import structlog
from arq.cron import CronJob, cron
from arq.worker import Function

from jobqueue.heap import freeze_startup_objects
from jobqueue.history.tracker import JobTracker
from jobqueue.jobs.declaration import JobRegistry
from jobqueue.jobs.schedule import cron_fields
from jobqueue.jobs.schedules import ScheduledJob
from jobqueue.logging import configure_logging
from jobqueue.settings import Settings
from jobqueue.store.capacity import warn_of_config_risks
from jobqueue.worker.execution import as_arq_function, execute
from jobqueue.worker.heartbeat import WorkerStats, beat, keep_beating
from jobqueue.worker.leases import Leases
from jobqueue.worker.schedules import SchedulePlanner
from jobqueue.worker.swaps.shutdown import Lifecycle
from jobqueue.worker.swaps.wakeup import WakeUp

log = structlog.get_logger("jobqueue.worker")


def arq_functions(registry: JobRegistry, settings: Settings) -> list[Function]:
    return [as_arq_function(definition, settings) for definition in registry]


def arq_cron_jobs(settings: Settings, schedules: list[ScheduledJob]) -> list[CronJob]:
    """Every schedule for arq's scheduler, each slot's run unique across workers (what a slot
    enqueues is the `SchedulePlanner`'s to decide)."""
    return [_as_arq_cron(schedule, settings) for schedule in schedules]


def _as_arq_cron(schedule: ScheduledJob, settings: Settings) -> CronJob:
    definition = schedule.definition

    async def run(ctx: dict[str, Any]) -> Any:  # (a built-in's run; a job's runs as that job)
        return await execute(definition, ctx, dict(schedule.args))

    run.__qualname__ = schedule.name
    return cron(
        run,
        name=schedule.name,
        unique=True,
        timeout=definition.timeout,
        max_tries=definition.max_tries,
        keep_result=settings.result_ttl,
        **cron_fields(schedule.cron),
    )


async def startup(ctx: dict[str, Any]) -> None:
    """arq's `on_startup`. `ctx` holds what the composition root put in it (`settings`, and
    the `wakeup` its swapped poll waits on) and the pool arq put there (`redis`)."""
    settings: Settings = ctx["settings"]
    # The job wrapper notes starts in the tracker the pool records ends with: one object.
    recorder = ctx["redis"].recorder
    if not isinstance(recorder, JobTracker):
        raise TypeError(f"the worker's pool must record with a JobTracker, not {recorder!r}")
    ctx["tracker"] = recorder
    # arq's CLI installs its own log handlers after importing the settings; replace them here.
    configure_logging(settings.log_level, settings.log_format)
    ctx["http"] = httpx.AsyncClient(follow_redirects=False, headers={"user-agent": "jobqueue"})
    stats = ctx["stats"] = WorkerStats()
    ctx["heartbeat"] = asyncio.create_task(keep_beating(ctx["redis"], settings, stats))
    ctx["lifecycle"] = Lifecycle()
    leases = ctx["leases"] = Leases(stats.worker_id, settings)
    ctx["lease_renewals"] = asyncio.create_task(leases.keep_renewing(ctx["redis"]))
    wakeup: WakeUp = ctx["wakeup"]
    ctx["wakeup_listener"] = asyncio.create_task(wakeup.listen(ctx["redis"], settings.queue_name))
    await warn_of_config_risks(ctx["redis"], log)
    planner = SchedulePlanner(ctx["redis"], settings, ctx.get("schedules", []))
    ctx["redis"].cron_planner = planner
    await planner.catch_up()
    log.info(
        "worker.started",
        worker_id=stats.worker_id,
        queue=settings.queue_name,
        max_jobs=settings.worker_max_jobs,
    )
    freeze_startup_objects()  # last: everything above lives as long as the worker


async def shutdown(ctx: dict[str, Any]) -> None:
    for name in ("wakeup_listener", "lease_renewals"):
        task: asyncio.Task[None] | None = ctx.get(name)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    leases: Leases | None = ctx.get("leases")
    if leases is not None:
        with contextlib.suppress(Exception):  # best effort: its alive key runs out anyway
            async with asyncio.timeout(ctx["settings"].redis_timeout):
                await leases.retire(ctx["redis"])
    heartbeat: asyncio.Task[None] | None = ctx.get("heartbeat")
    if heartbeat is not None:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        with contextlib.suppress(Exception):  # best effort: readers time it out anyway
            await asyncio.wait_for(
                beat(ctx["redis"], ctx["settings"], ctx["stats"], stopped=True), 2
            )
    http: httpx.AsyncClient | None = ctx.get("http")
    if http is not None:
        await http.aclose()
    log.info("worker.stopped")
