"""The worker's side of schedules: arq's scheduler decides when a slot is due (once per slot
across every worker: the run's job id is `{name}:{slot ms}`, and an id is enqueued once); this
`SchedulePlanner` decides what each due slot enqueues, as the pool's `CronPlanner`:

- nothing while the schedule is paused (every worker reads the pause at each slot);
- nothing while its previous run is still going, if its `overlap` is `skip`;
- else a job of the schedule's function with its args, its view naming the schedule.

At start (`catch_up`), a schedule whose `missed` is `run_once` runs once for its latest slot
if no run was enqueued for it or since (slots passed while no worker ran), unless a run enqueued
before the stop still waits (that run is the one). A schedule that never ran has missed nothing.
"""

from dataclasses import replace
from datetime import datetime, timedelta

import structlog
from arq.cron import next_cron
from croniter import croniter

from jobqueue.clock import now_ms
from jobqueue.jobs.schedule import cron_fields
from jobqueue.jobs.schedules import ScheduledJob
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis
from jobqueue.store.enqueue import EnqueueSpec
from jobqueue.store.job_state import read_job_state
from jobqueue.store.schedule_state import note_run, note_slot, read_states

log = structlog.get_logger("jobqueue.schedules")

# A run due this long ago and not started yet counts as going (the workers are behind). arq
# enqueues a slot up to a second ahead: the run before it is then just due, not late.
LATE_MS = 1000


class SchedulePlanner:
    def __init__(self, redis: TrackedRedis, settings: Settings, schedules: list[ScheduledJob]):
        self._redis = redis
        self._queue = settings.queue_name
        self._by_name = {s.name: s for s in schedules}

    async def plan(self, spec: EnqueueSpec) -> EnqueueSpec | None:
        schedule = self._by_name.get(spec.function)
        if schedule is None:
            return spec
        state = (await read_states(self._redis, [schedule.name]))[schedule.name]
        if state.last_run == spec.job_id:
            return None  # another worker has enqueued this slot's run
        if state.paused:
            log.info("schedule.slot_skipped", schedule=schedule.name, reason="paused")
            return None
        if schedule.overlap == "skip" and (
            going := await self._going(state.last_run, state.prior_run)
        ):
            log.info(
                "schedule.slot_skipped", schedule=schedule.name, reason="overlap", running=going
            )
            return None
        if schedule.builtin:
            return replace(spec, schedule=schedule.name)
        return replace(
            spec, function=schedule.function, kwargs=dict(schedule.args), schedule=schedule.name
        )

    async def enqueued(self, spec: EnqueueSpec, job_id: str) -> None:
        if spec.schedule is not None:
            await note_run(self._redis, spec.schedule, job_id, slot_of(job_id))

    async def _going(self, *job_ids: str | None) -> str | None:
        """The first of these runs still going, if any."""
        for job_id in job_ids:
            if job_id is not None and await self._still_going(job_id):
                return job_id
        return None

    async def _still_going(self, job_id: str) -> bool:
        """Not finished, and started (running, or waiting for a retry: tried already), or due
        for over `LATE_MS` (a first try enqueued ahead of its slot is not going yet)."""
        state = await read_job_state(self._redis, self._queue, job_id)
        if state.result is not None or (state.job is None and not state.in_progress):
            return False  # finished (or gone)
        overdue = state.score is not None and state.score < now_ms() - LATE_MS
        return state.in_progress or state.tries > 0 or overdue

    async def catch_up(self, now: datetime | None = None) -> list[str]:
        """Run each `run_once` schedule whose latest slot passed with no run; the ids enqueued
        (one run per slot across workers starting together: the slot's id)."""
        now = now or datetime.now().astimezone()  # (arq's scheduler works in local time too)
        due = [s for s in self._by_name.values() if s.missed == "run_once"]
        states = await read_states(self._redis, [s.name for s in due])
        enqueued = []
        for schedule in due:
            state = states[schedule.name]
            latest = latest_slot_ms(schedule.cron, now)
            if state.last_slot_ms is None or state.last_slot_ms >= latest:
                continue  # never ran (nothing was missed: see the module doc), or ran for it
            if await self._going(state.last_run, state.prior_run):
                # A run enqueued before the stop still waits: it is the one run (noted, so
                # that a worker starting after it ran does not catch up again).
                await note_slot(self._redis, schedule.name, latest)
                continue
            job = await self._redis.enqueue_job(schedule.name, _job_id=f"{schedule.name}:{latest}")
            if job is not None:
                log.info("schedule.missed_slot_run", schedule=schedule.name, slot_ms=latest)
                enqueued.append(job.job_id)
        return enqueued


def latest_slot_ms(cron: str, now: datetime) -> int:
    """The latest slot at or before `now`, as arq's scheduler names it (its id's ms: arq's own
    `next_cron` from just before the slot, so that a catch-up run and arq's run of one slot
    share an id, and only one of them is enqueued)."""
    previous: datetime = croniter(cron, now).get_prev(datetime)
    slot = next_cron(previous - timedelta(seconds=1), **cron_fields(cron))
    if slot > now:  # (arq's ids sit a fraction past the second: the slot before, then)
        before: datetime = croniter(cron, previous).get_prev(datetime)
        slot = next_cron(before - timedelta(seconds=1), **cron_fields(cron))
    return int(slot.timestamp() * 1000)


def slot_of(job_id: str) -> int | None:
    """The slot (epoch ms) of a scheduled run's id, `{name}:{slot ms}`; None for another id."""
    _, _, slot = job_id.rpartition(":")
    return int(slot) if slot.isdigit() and len(slot) >= 12 else None
