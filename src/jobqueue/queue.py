"""`JobQueue`: what clients do with jobs. Routes call it; it raises domain errors.

Enqueue, read, wait for, abort and re-run jobs, list them and follow their events. `JobNotFound`,
`JobConflict` and `QueueUnavailable` (Redis down) carry their HTTP status. What operators see
(crons, queues, workers, metrics) is `jobqueue.ops.facade.Operations`.
"""

import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobqueue.access.secrets import cipher_for, revealed
from jobqueue.access.tenancy import Tenancy, tenant_of
from jobqueue.clock import ms_to_datetime
from jobqueue.errors import (
    JobConflict,
    JobNotFound,
    JobQueueError,
    JobRejected,
    QueueUnavailable,
)
from jobqueue.history import streams
from jobqueue.history.fanout import BLOCK_MS, Fanout
from jobqueue.history.followers import Feed, Following, JobWatch
from jobqueue.history.lookup import read_job
from jobqueue.history.pages import Page, newest_first, read_page
from jobqueue.history.records import UNKNOWN_FUNCTION
from jobqueue.history.streams import Event
from jobqueue.history.tracker import JobTracker
from jobqueue.history.view import JobView, is_corrupt
from jobqueue.history.vocabulary import (
    RETRYABLE_STATUSES,
    JobStatus,
    StoredStatus,
    public_status,
)
from jobqueue.settings import Settings
from jobqueue.store import shared_secrets
from jobqueue.store import streams as store_streams
from jobqueue.store.aborts import abort_before_start, request_abort
from jobqueue.store.capacity import Capacity
from jobqueue.store.client import TrackedRedis
from jobqueue.store.connection import ping
from jobqueue.store.enqueue import EnqueueOutcome, EnqueueSpec
from jobqueue.store.outages import Circuit, ending_streams_on_outage, unavailable_on_outage


@dataclass(frozen=True)
class EnqueueOptions:
    job_id: str | None = None
    defer_by: float | None = None
    defer_until: datetime | None = None
    expires: float | None = None
    request_id: str | None = None
    by: str | None = None  # the API key's name (None: the system, or auth off)
    schedule: str | None = None  # the schedule it is a run of (a cron run-now)


@dataclass(frozen=True)
class BulkRetry:
    retried: list[str]
    already_retried: int


class JobQueue:
    def __init__(self, redis: TrackedRedis, settings: Settings) -> None:
        self._redis = redis
        self._settings = settings
        self._queue = settings.queue_name
        self._capacity = Capacity(redis, settings)
        self._cursor_key: bytes | None = None
        block_ms = min(BLOCK_MS, int(settings.redis_timeout * 500))  # under the socket timeout
        self.fanout = Fanout(
            redis, redis.circuit, max_streams=settings.max_streams, block_ms=max(1, block_ms)
        )

    @property
    def circuit(self) -> Circuit:
        return self._redis.circuit

    @unavailable_on_outage
    async def check_ready(self) -> None:
        """Returns if Redis answers and has room; raises `QueueUnavailable` if not."""
        await ping(self._redis)
        if (await self._capacity.fill(fresh=True)).full:
            raise QueueUnavailable("Redis is out of memory (maxmemory reached)")

    @unavailable_on_outage
    async def check_followable(self) -> None:
        """Returns if every job's events can be followed; raises `QueueUnavailable` if not.
        While the event reader reads, that is known without a round trip: opening a thousand
        followers at once then takes no pooled connection (a full Redis does not matter)."""
        if not self.fanout.reading:
            await ping(self._redis)

    @unavailable_on_outage
    async def start_event_reader(self) -> None:
        """Start the process's reader of every job's events now (else the first follower
        does), so that followers open without a Redis round trip from the first."""
        await self.fanout.start()

    @unavailable_on_outage
    async def admit(self) -> None:
        """`QueueUnavailable` while new work is refused, from a reading taken now (for a caller
        about to judge a job's state, which a full Redis may have left unwritten)."""
        refusal = await self._capacity.refusal_now()
        if refusal is not None:
            raise QueueUnavailable(f"not accepting new jobs: {refusal}")

    async def _admit(self) -> None:
        """New work is refused (503) while Redis is full or nearly, or the queue too long."""
        refusal = await self._capacity.refusal()
        if refusal is not None:
            raise QueueUnavailable(f"not accepting new jobs: {refusal}")

    @unavailable_on_outage
    async def enqueue(
        self, function: str, args: dict[str, Any], options: EnqueueOptions
    ) -> tuple[JobView, bool]:
        """Enqueue a job; returns its view and whether it is new.

        With a `job_id` that already exists, the existing job is returned when its function and
        args match, and `JobConflict` is raised when they do not.
        """
        await self._admit()
        outcome = await self._redis.enqueue_one(_spec(function, args, options))
        result = await self._settle(outcome, function, args, options.by)
        if isinstance(result, JobQueueError):
            raise result
        view, created = result
        if created:
            view.schedule = options.schedule
        return view, created

    @unavailable_on_outage
    async def enqueue_batch(
        self, jobs: list[tuple[str, dict[str, Any], EnqueueOptions]]
    ) -> list[tuple[JobView, bool] | JobConflict | JobRejected]:
        """Enqueue many jobs in one round trip; each result is as for `enqueue`, or the
        `JobConflict` or `JobRejected` that `enqueue` would have raised for it."""
        await self._admit()
        outcomes = await self._redis.enqueue_many([_spec(*job) for job in jobs])
        return [
            await self._settle(outcome, function, args, options.by)
            for (function, args, options), outcome in zip(jobs, outcomes, strict=True)
        ]

    async def _settle(
        self, outcome: EnqueueOutcome, function: str, args: dict[str, Any], by: str | None
    ) -> tuple[JobView, bool] | JobConflict | JobRejected:
        """A new job's view, or the existing job's if it is the same job (idempotency)."""
        if outcome.rejected is not None:
            return JobRejected(outcome.rejected)
        if outcome.created:
            return _new_view(outcome, function, args, by), True
        existing = await read_job(self._redis, self._queue, outcome.job_id)
        if existing is None:
            return JobConflict(f"job_id {outcome.job_id!r} was being replaced; retry")
        if existing.function != function or not self._same_args(existing.args, args):
            return JobConflict(
                f"job_id {outcome.job_id!r} is already used by a job with a different "
                "function or args"
            )
        return existing, False

    def _same_args(self, stored: dict[str, Any], args: dict[str, Any]) -> bool:
        """Equal as given: a secret sealed twice has two ciphertexts, so secrets are compared
        decrypted (one no key decrypts any more never matches)."""
        if stored == args:
            return True
        cipher = cipher_for(self._settings)
        return cipher is not None and revealed(stored, cipher) == revealed(args, cipher)

    @unavailable_on_outage
    async def get(self, job_id: str) -> JobView:
        view = await read_job(self._redis, self._queue, job_id)
        if view is None:
            raise JobNotFound(f"job {job_id!r} not found (unknown, or its history has expired)")
        return view

    @unavailable_on_outage
    async def wait(self, job_id: str, timeout: float) -> JobView:
        """The job's view once terminal, or its current view after `timeout` seconds.

        Waits for the process's event reader to tell it the job has news, so it wakes as soon
        as the job ends, holding no Redis connection meanwhile. While it waits it counts
        towards `max_streams` (`TooManyStreams` past it); cancelled, it frees its place.
        """
        deadline = time.monotonic() + timeout
        view = await self.get(job_id)
        if view.status.is_terminal or timeout <= 0:
            return view
        with self.fanout.watch(job_id) as watch:
            await watch.start()
            while True:
                view = await self.get(job_id)  # (after subscribing: no news is missed)
                remaining = deadline - time.monotonic()
                if view.status.is_terminal or remaining <= 0:
                    return view
                if not await watch.news(remaining):
                    return await self.get(job_id)

    @unavailable_on_outage
    async def abort(self, job_id: str, by: str | None = None) -> JobView:
        """Abort a job that has not finished; raises `JobConflict` if it has.

        A queued or deferred job is finished as aborted right here, so it never runs even if no
        worker is up. If a worker has just picked it up, arq's abort request cancels it there.
        """
        view = await self.get(job_id)
        if view.status.is_terminal:
            raise JobConflict(f"job {job_id!r} has already finished ({view.status})")
        tracker = self._redis.recorder
        if by is not None and isinstance(tracker, JobTracker):
            await tracker.abort_requested(self._redis, job_id, by, view.status)
        ended = view.status != JobStatus.in_progress and await abort_before_start(
            self._redis, self._queue, job_id, self._settings.result_ttl * 1000
        )
        if not ended:
            await request_abort(self._redis, self._queue, job_id)
        return await self.get(job_id)

    @unavailable_on_outage
    async def retry(self, job_id: str, by: str | None = None) -> tuple[JobView, bool]:
        """Run a failed or aborted job again under a new id; returns the new job's view and
        whether it is new (a job is re-run once: asking again returns the same re-run)."""
        view = await self.get(job_id)
        if view.status not in RETRYABLE_STATUSES:
            raise JobConflict(f"job {job_id!r} is {view.status}; only failed or aborted jobs retry")
        if is_corrupt(view) or view.function == UNKNOWN_FUNCTION:  # what it ran is not known
            raise JobConflict(f"job {job_id!r} cannot be re-run: its stored data is corrupt")
        await self._admit()
        outcome = await self._rerun(view, by)
        if outcome.already_retried_as is not None:
            return await self.get(outcome.already_retried_as), False
        new = _new_view(outcome, view.function, view.args, by)
        new.retry_of = job_id
        return new, True

    async def _rerun(self, view: JobView, by: str | None) -> EnqueueOutcome:
        """A re-run belongs to the tenant of the job it re-runs (`access.tenancy`); a view's
        args are as stored, so the re-run carries the same sealed secrets."""
        tenant = tenant_of(view.job_id)
        job_id = Tenancy(tenant).new_stored_id() if tenant else None
        return await self._redis.enqueue_one(
            EnqueueSpec(view.function, view.args, job_id=job_id, retry_of=view.job_id, by=by)
        )

    @unavailable_on_outage
    async def retry_many(
        self,
        *,
        status: JobStatus,
        function: str | None,
        since: datetime | None,
        limit: int,
        visible: Callable[[str], bool] | None = None,
        by: str | None = None,
    ) -> BulkRetry:
        """Re-run up to `limit` jobs with `status` (newest first), enqueued since `since` (of
        those whose stored id `visible` lets through)."""
        await self._admit()
        retried: list[str] = []
        already = 0
        matching = newest_first(self._redis, status=status, function=function, visible=visible)
        async with aclosing(matching):
            async for job in matching:
                if len(retried) >= limit:
                    break
                if since is not None and job.enqueue_time and job.enqueue_time < since:
                    break
                outcome = None if job.retried_as else await self._rerun(job, by)
                if outcome is None or outcome.already_retried_as is not None:
                    already += 1
                else:
                    retried.append(outcome.job_id)
        return BulkRetry(retried, already)

    @unavailable_on_outage
    async def cursor_key(self) -> bytes:
        """The key that seals tenants' cursors (`access.cursors`), shared by every API process."""
        if self._cursor_key is None:
            self._cursor_key = await shared_secrets.cursor_key(self._redis)
        return self._cursor_key

    @unavailable_on_outage
    async def list_jobs(
        self,
        *,
        status: JobStatus | None,
        function: str | None,
        limit: int,
        cursor: str | None,
        visible: Callable[[str], bool] | None = None,
    ) -> Page:
        return await read_page(
            self._redis,
            status=status,
            function=function,
            limit=limit,
            cursor=cursor,
            visible=visible,
        )

    @unavailable_on_outage
    async def feed_position(self) -> str:
        """Where the live feed of every job stands: a page read after this and then followed
        from it misses no event (`all_events(after=...)`)."""
        return await store_streams.latest_id(self._redis, store_streams.ALL_JOBS)

    @unavailable_on_outage
    async def history(self, job_id: str) -> list[Event]:
        """The job's events so far, oldest first (its timeline)."""
        return await streams.past_events(self._redis, job_id)

    def job_events(self, job_id: str, after: str | None) -> Following:
        """The job's past events (after `after`), then live ones until it ends. Takes its place
        among `max_streams` now (`TooManyStreams` past it), before any event is read."""
        watch = self.fanout.watch(job_id)
        return Following(watch, self._job_events(watch, job_id, after))

    async def _job_events(
        self, watch: JobWatch, job_id: str, after: str | None
    ) -> AsyncGenerator[list[Event], None]:
        events = streams.job_events(self._redis, self._queue, watch, job_id, after)
        with watch:
            async with ending_streams_on_outage(self.circuit), aclosing(events):
                async for event in events:
                    yield event

    def all_events(self, after: str | None) -> Following:
        """Every job's events as they happen, after `after` (resume) or from now. Takes its
        place among `max_streams` now (`TooManyStreams` past it)."""
        feed = self.fanout.feed()
        return Following(feed, self._all_events(feed, after))

    async def _all_events(self, feed: Feed, after: str | None) -> AsyncGenerator[list[Event], None]:
        events = streams.all_events(self._redis, feed, after)
        with feed:
            async with ending_streams_on_outage(self.circuit), aclosing(events):
                async for event in events:
                    yield event


def _spec(function: str, args: dict[str, Any], options: EnqueueOptions) -> EnqueueSpec:
    return EnqueueSpec(
        function,
        args,
        request_id=options.request_id,
        by=options.by,
        schedule=options.schedule,
        job_id=options.job_id,
        defer_by=options.defer_by,
        defer_until=options.defer_until,
        expires=options.expires,
    )


def _new_view(
    outcome: EnqueueOutcome, function: str, args: dict[str, Any], by: str | None
) -> JobView:
    """The view of a job just enqueued, from what the enqueue wrote (no read needed)."""
    return JobView(
        job_id=outcome.job_id,
        function=function,
        args=args,
        status=public_status(StoredStatus.waiting, outcome.score, outcome.enqueue_ms),
        tries=0,
        enqueue_time=ms_to_datetime(outcome.enqueue_ms),
        scheduled_for=ms_to_datetime(outcome.score),
        start_time=None,
        finish_time=None,
        enqueued_by=by,
    )
