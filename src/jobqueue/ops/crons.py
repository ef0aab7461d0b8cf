"""The cron jobs as operators see them: schedule in words, next and last run, run-now."""

from datetime import UTC, datetime

from arq.connections import ArqRedis
from arq.cron import cron
from cron_descriptor import get_description
from pydantic import BaseModel, Field

from jobqueue.history.pages import read_page
from jobqueue.history.view import JobView
from jobqueue.history.vocabulary import JobStatus
from jobqueue.jobs.declaration import JobDefinition
from jobqueue.jobs.maintenance import scheduled_jobs
from jobqueue.jobs.schedule import cron_fields
from jobqueue.settings import Settings
from jobqueue.store.job_state import any_in_progress

RECENT_RUNS = 5  # scheduled runs are enqueued just ahead of time; look past those


class LastRun(BaseModel):
    job_id: str
    status: JobStatus
    start_time: datetime | None
    finish_time: datetime | None
    duration_ms: float | None


class CronInfo(BaseModel):
    name: str
    description: str
    schedule: str = Field(examples=["Every 5 minutes"], description="the schedule in words")
    cron: str = Field(examples=["*/5 * * * *"], description="the cron expression")
    next_run: datetime
    last_run: LastRun | None
    running: bool


def describe(expression: str) -> str:
    """In words. Our optional 6th field is seconds; cron-descriptor expects seconds first."""
    fields = expression.split()
    if len(fields) == 6:
        fields = [fields[-1], *fields[:-1]]
    return str(get_description(" ".join(fields)))


def next_run(expression: str, now: datetime | None = None) -> datetime:
    """When arq's scheduler will next run it (arq's own calculation, in the worker's zone)."""
    now = now or datetime.now().astimezone()
    job = cron(_noop, **cron_fields(expression))
    job.calculate_next(now)
    assert job.next_run is not None
    return job.next_run.astimezone(UTC)


async def _noop(ctx: dict[str, object]) -> None:
    return None


def find(settings: Settings, name: str) -> tuple[JobDefinition, str] | None:
    return next(((d, s) for d, s in scheduled_jobs(settings) if d.name == name), None)


async def is_running(redis: ArqRedis, name: str) -> bool:
    """A run is recorded as in progress and a worker still holds it."""
    page = await read_page(
        redis, status=JobStatus.in_progress, function=name, limit=RECENT_RUNS, cursor=None
    )
    return await any_in_progress(redis, [job.job_id for job in page.jobs])


async def list_crons(redis: ArqRedis, settings: Settings) -> list[CronInfo]:
    infos = []
    for definition, expression in scheduled_jobs(settings):
        recent = await read_page(
            redis, status=None, function=definition.name, limit=RECENT_RUNS, cursor=None
        )
        last = next((job for job in recent.jobs if job.start_time is not None), None)
        infos.append(
            CronInfo(
                name=definition.name,
                description=definition.description,
                schedule=describe(expression),
                cron=expression,
                next_run=next_run(expression),
                last_run=_last_run(last) if last else None,
                running=await is_running(redis, definition.name),
            )
        )
    return infos


def _last_run(job: JobView) -> LastRun:
    duration = None
    if job.start_time and job.finish_time:
        duration = round((job.finish_time - job.start_time).total_seconds() * 1000, 2)
    return LastRun(
        job_id=job.job_id,
        status=job.status,
        start_time=job.start_time,
        finish_time=job.finish_time,
        duration_ms=duration,
    )


def manual_run_id(name: str) -> str:
    """One manual run per second at most: two clicks at once enqueue one job."""
    return f"{name}:manual:{int(datetime.now(UTC).timestamp())}"
