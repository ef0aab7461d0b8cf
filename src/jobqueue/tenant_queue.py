"""`TenantQueue`: `JobQueue` as one caller sees it (`access.tenancy`): the ids it is given are
the caller's, turned into stored ids; the views, events and error messages it returns carry
the caller's ids; listings, the live feed and bulk re-runs hold the caller's tenant's jobs only.
The job routes build one per request from the request's key."""

from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from jobqueue.access import cursors
from jobqueue.access.tenancy import Tenancy
from jobqueue.errors import JobConflict, JobQueueError, JobRejected
from jobqueue.history.followers import Following
from jobqueue.history.pages import Page
from jobqueue.history.streams import Event
from jobqueue.history.view import JobView
from jobqueue.history.vocabulary import JobStatus
from jobqueue.queue import BulkRetry, EnqueueOptions, JobQueue


@dataclass(frozen=True)
class TenantQueue:
    queue: JobQueue
    tenancy: Tenancy
    by: str | None = None  # the caller's key name, recorded on what it enqueues and aborts

    @contextmanager
    def _as_caller(self, stored: str, shown: str) -> Iterator[None]:
        """A domain error about `stored` speaks of it as `shown`."""
        try:
            yield
        except JobQueueError as exc:
            exc.detail = _reworded(exc.detail, stored, shown)
            exc.args = (exc.detail,)
            raise

    async def check_followable(self) -> None:
        await self.queue.check_followable()

    def _options(self, options: EnqueueOptions) -> EnqueueOptions:
        options = replace(options, by=self.by)
        if self.tenancy.sees_all:
            return options
        given = options.job_id
        stored = self.tenancy.stored_id(given) if given else self.tenancy.new_stored_id()
        return replace(options, job_id=stored)

    async def enqueue(
        self, function: str, args: dict[str, Any], options: EnqueueOptions
    ) -> tuple[JobView, bool]:
        options = self._options(options)
        with self._as_caller(options.job_id or "", self.tenancy.shown_id(options.job_id or "")):
            view, created = await self.queue.enqueue(function, args, options)
        return self.tenancy.show(view), created

    async def enqueue_batch(
        self, jobs: list[tuple[str, dict[str, Any], EnqueueOptions]]
    ) -> list[tuple[JobView, bool] | JobConflict | JobRejected]:
        jobs = [(function, args, self._options(options)) for function, args, options in jobs]
        outcomes = await self.queue.enqueue_batch(jobs)
        shown: list[tuple[JobView, bool] | JobConflict | JobRejected] = []
        for (_, _, options), outcome in zip(jobs, outcomes, strict=True):
            stored = options.job_id or ""
            if isinstance(outcome, JobQueueError):
                outcome.detail = _reworded(outcome.detail, stored, self.tenancy.shown_id(stored))
                shown.append(outcome)
            else:
                shown.append((self.tenancy.show(outcome[0]), outcome[1]))
        return shown

    async def get(self, job_id: str) -> JobView:
        stored = self.tenancy.stored_id(job_id)
        with self._as_caller(stored, job_id):
            return self.tenancy.show(await self.queue.get(stored))

    async def wait(self, job_id: str, timeout: float) -> JobView:
        stored = self.tenancy.stored_id(job_id)
        with self._as_caller(stored, job_id):
            return self.tenancy.show(await self.queue.wait(stored, timeout))

    async def abort(self, job_id: str) -> JobView:
        stored = self.tenancy.stored_id(job_id)
        with self._as_caller(stored, job_id):
            return self.tenancy.show(await self.queue.abort(stored, self.by))

    async def retry(self, job_id: str) -> tuple[JobView, bool]:
        stored = self.tenancy.stored_id(job_id)
        with self._as_caller(stored, job_id):
            view, created = await self.queue.retry(stored, self.by)
        return self.tenancy.show(view), created

    def _visible(self) -> Callable[[str], bool] | None:
        return None if self.tenancy.sees_all else self.tenancy.sees

    async def retry_many(
        self, *, status: JobStatus, function: str | None, since: datetime | None, limit: int
    ) -> BulkRetry:
        outcome = await self.queue.retry_many(
            status=status,
            function=function,
            since=since,
            limit=limit,
            visible=self._visible(),
            by=self.by,
        )
        return BulkRetry(
            [self.tenancy.shown_id(i) for i in outcome.retried], outcome.already_retried
        )

    async def list_jobs(
        self, *, status: JobStatus | None, function: str | None, limit: int, cursor: str | None
    ) -> Page:
        tenant = self.tenancy.tenant
        if tenant is None:  # (the system's view: plain cursors, every id is shown anyway)
            return await self.queue.list_jobs(
                status=status, function=function, limit=limit, cursor=cursor
            )
        key = await self.queue.cursor_key()
        page = await self.queue.list_jobs(
            status=status,
            function=function,
            limit=limit,
            cursor=cursors.unseal(key, tenant, cursor) if cursor else None,
            visible=self.tenancy.sees,
        )
        jobs = [self.tenancy.show(job) for job in page.jobs]
        after = cursors.seal(key, tenant, page.next_cursor) if page.next_cursor else None
        return Page(jobs, after)

    async def feed_position(self) -> str:
        return await self.queue.feed_position()

    async def history(self, job_id: str) -> list[Event]:
        events = await self.queue.history(self.tenancy.stored_id(job_id))
        return [e for e in map(self.tenancy.show_event, events) if e is not None]

    def job_events(self, job_id: str, after: str | None) -> Following:
        return self._shown(self.queue.job_events(self.tenancy.stored_id(job_id), after))

    def all_events(self, after: str | None) -> Following:
        return self._shown(self.queue.all_events(after))

    def _shown(self, following: Following) -> Following:
        if self.tenancy.sees_all:
            return following
        return following.mapped(self._events)

    async def _events(
        self, batches: AsyncGenerator[list[Event], None]
    ) -> AsyncGenerator[list[Event], None]:
        async for events in batches:
            shown = [e for e in map(self.tenancy.show_event, events) if e is not None]
            if shown:
                yield shown


def _reworded(detail: str, stored: str, shown: str) -> str:
    return detail.replace(repr(stored), repr(shown)) if stored != shown else detail
