"""`Operations`: what operators see and do. The operator routes call it; it raises domain errors
(`JobNotFound`, `JobConflict`, `QueueUnavailable`) as `JobQueue` does."""

from jobqueue.clock import now_ms
from jobqueue.errors import JobConflict, JobNotFound
from jobqueue.history.view import JobView
from jobqueue.jobs.schedules import ScheduledJob
from jobqueue.ops import crons
from jobqueue.ops.crons import CronInfo
from jobqueue.ops.metrics import ApiMetrics, render
from jobqueue.ops.stats import QueueReport, queue_report
from jobqueue.ops.workers import WorkerInfo, list_workers
from jobqueue.queue import EnqueueOptions, JobQueue
from jobqueue.settings import Settings
from jobqueue.store import schedule_state
from jobqueue.store.client import TrackedRedis
from jobqueue.store.outages import Circuit, unavailable_on_outage


class Operations:
    def __init__(
        self,
        redis: TrackedRedis,
        settings: Settings,
        jobs: JobQueue,
        schedules: list[ScheduledJob],
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._jobs = jobs
        self._schedules = schedules

    @property
    def circuit(self) -> Circuit:
        return self._redis.circuit

    @unavailable_on_outage
    async def crons(self, *, sees_keys: bool = True) -> list[CronInfo]:
        """Every schedule; without `sees_keys` (a tenant's view), not who paused it (another
        tenant's key names are not its to see)."""
        infos = await crons.describe_schedules(
            self._redis, self._settings.queue_name, self._schedules
        )
        return infos if sees_keys else [i.model_copy(update={"paused_by": None}) for i in infos]

    async def _cron(self, name: str) -> CronInfo:
        schedule = self._schedule(name)
        [info] = await crons.describe_schedules(self._redis, self._settings.queue_name, [schedule])
        return info

    def _schedule(self, name: str) -> ScheduledJob:
        schedule = crons.find(self._schedules, name)
        if schedule is None:
            raise JobNotFound(f"no cron job named {name!r}")
        return schedule

    @unavailable_on_outage
    async def run_cron(self, name: str, by: str | None = None) -> JobView:
        """Run a schedule now (paused or not), unless a run of it is in progress
        (`JobConflict`); `by`: the API key's name, recorded as who enqueued the run."""
        schedule = self._schedule(name)
        await self._jobs.admit()  # (Redis full: 503 first, not "a run is going" for a run whose
        # end cannot be written meanwhile)
        state = (await schedule_state.read_states(self._redis, [name]))[name]
        runs = await crons.latest_runs(self._redis, self._settings.queue_name, state)
        if await crons.is_running(self._redis, runs):
            raise JobConflict(f"{name} is running; wait for it to finish")
        options = EnqueueOptions(job_id=crons.manual_run_id(name), by=by, schedule=name)
        function = schedule.name if schedule.builtin else schedule.function
        view, created = await self._jobs.enqueue(function, dict(schedule.args), options)
        if not created:
            raise JobConflict(f"{name} was started a moment ago")
        await schedule_state.note_run(self._redis, name, view.job_id, None)
        return view

    @unavailable_on_outage
    async def pause_cron(self, name: str, by: str | None) -> CronInfo:
        """Its slots are skipped from the next on, by every worker; run-now still works."""
        self._schedule(name)
        await schedule_state.pause(self._redis, name, by or "", now_ms())
        return await self._cron(name)

    @unavailable_on_outage
    async def resume_cron(self, name: str) -> CronInfo:
        self._schedule(name)
        await schedule_state.resume(self._redis, name)
        return await self._cron(name)

    @unavailable_on_outage
    async def queues(self, series_length: int, tenant: str | None = None) -> list[QueueReport]:
        """Each queue, as the system sees it or as `tenant` does (its jobs only)."""
        queue = self._settings.queue_name
        return [await queue_report(self._redis, queue, series_length, tenant)]

    @unavailable_on_outage
    async def workers(self) -> list[WorkerInfo]:
        return await list_workers(self._redis, self._settings)

    @unavailable_on_outage
    async def metrics(self, api: ApiMetrics) -> bytes:
        return await render(self._redis, self._settings, api)
