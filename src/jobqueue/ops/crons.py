"""The schedules (built-in crons and those declared for jobs) as operators see them: schedule
in words, next and last run, running or not, paused or not; run-now, pause and resume."""

from datetime import UTC, datetime

from arq.connections import ArqRedis
from arq.cron import cron
from cron_descriptor import get_description
from pydantic import BaseModel, Field

from jobqueue.clock import ms_to_datetime
from jobqueue.history.lookup import read_job
from jobqueue.history.view import JobView
from jobqueue.history.vocabulary import JobStatus
from jobqueue.jobs.schedule import Missed, Overlap, cron_fields
from jobqueue.jobs.schedules import ScheduledJob
from jobqueue.store.job_state import any_in_progress
from jobqueue.store.schedule_state import ScheduleState, read_states


class LastRun(BaseModel):
    job_id: str
    status: JobStatus
    start_time: datetime | None
    finish_time: datetime | None
    duration_ms: float | None


class CronInfo(BaseModel):
    name: str
    description: str
    function: str = Field(description="the job each run is (a built-in's: its own name)")
    builtin: bool = Field(description="one of the service's maintenance crons")
    schedule: str = Field(examples=["Every 5 minutes"], description="the schedule in words")
    cron: str = Field(examples=["*/5 * * * *"], description="the cron expression")
    overlap: Overlap = Field(description="skip: a slot is left out while the last run goes on")
    missed: Missed = Field(description="run_once: a worker starting runs the latest missed slot")
    next_run: datetime
    last_run: LastRun | None
    running: bool
    paused: bool = Field(description="paused: its slots are skipped (run-now still works)")
    paused_by: str | None = Field(description="the API key that paused it (null: auth off)")
    paused_at: datetime | None


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


def find(schedules: list[ScheduledJob], name: str) -> ScheduledJob | None:
    return next((s for s in schedules if s.name == name), None)


async def latest_runs(redis: ArqRedis, queue: str, state: ScheduleState) -> list[JobView]:
    """Its latest two runs' views, newest first (those still known)."""
    runs = [await read_job(redis, queue, r) for r in (state.last_run, state.prior_run) if r]
    return [run for run in runs if run is not None]


async def is_running(redis: ArqRedis, runs: list[JobView]) -> bool:
    """One of them is recorded as in progress and a worker still holds it. (The record alone
    is not enough: a run whose end could not be written, Redis full, stays "in progress"; nor
    is arq's key: arq keeps a cron job's a minute past its run, so the slot cannot run twice.)"""
    started = [run.job_id for run in runs if run.status == JobStatus.in_progress]
    return await any_in_progress(redis, started)


async def describe_schedules(
    redis: ArqRedis, queue: str, schedules: list[ScheduledJob]
) -> list[CronInfo]:
    states = await read_states(redis, [s.name for s in schedules])
    return [await _info(redis, queue, s, states[s.name]) for s in schedules]


async def _info(
    redis: ArqRedis, queue: str, schedule: ScheduledJob, state: ScheduleState
) -> CronInfo:
    # The newest run may be enqueued ahead of its slot: the last run is the newest started.
    runs = await latest_runs(redis, queue, state)
    last = next((run for run in runs if run.start_time is not None), None)
    return CronInfo(
        name=schedule.name,
        description=schedule.definition.description,
        function=schedule.function,
        builtin=schedule.builtin,
        schedule=describe(schedule.cron),
        cron=schedule.cron,
        overlap=schedule.overlap,
        missed=schedule.missed,
        next_run=next_run(schedule.cron),
        last_run=_last_run(last) if last else None,
        running=await is_running(redis, runs),
        paused=state.paused,
        paused_by=state.paused_by or None,
        paused_at=ms_to_datetime(state.paused_at_ms) if state.paused_at_ms else None,
    )


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
