"""`JobContext`: what a running job may use. The worker builds one for each try."""

from dataclasses import dataclass, field

import httpx

from jobqueue.history.tracker import JobTracker
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis


@dataclass(frozen=True)
class JobContext:
    job_id: str
    job_try: int
    max_tries: int
    settings: Settings
    redis: TrackedRedis
    http: httpx.AsyncClient
    tracker: JobTracker = field(repr=False)

    async def progress(
        self, current: float, total: float | None = None, message: str | None = None
    ) -> None:
        """Report progress: shown as `progress` in the job's view and sent as an SSE event."""
        await self.tracker.progress(self.redis, self.job_id, current, total, message)
