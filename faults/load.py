"""Load over REST: webhook jobs to the ledger, at a steady rate, each answer tallied.

A 503 means "maybe enqueued" (README, "Failure behaviour"): the job is sent again with the same
`job_id` until it is acknowledged, a 202 (created) or a 200 (it was there already). Only
acknowledged jobs are owed a delivery.
"""

import asyncio
import contextlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Answer:
    job_id: str
    sent: float  # time.monotonic()
    received: float
    status: int  # 0: no HTTP answer (a transport error, named in `error`)
    retry_after: bool
    error: str = ""


@dataclass
class Tally:
    acknowledged: dict[str, float] = field(default_factory=dict)  # job id: when
    unacknowledged: dict[str, float] = field(default_factory=dict)  # job id: its hold
    answers: list[Answer] = field(default_factory=list)

    def statuses(self) -> Counter[int]:
        return Counter(answer.status for answer in self.answers)

    def server_errors(self) -> int:
        return sum(1 for answer in self.answers if answer.status >= 500 and answer.status != 503)

    def transport_errors(self) -> list[str]:
        """Requests that got no HTTP answer: job id, how long it took, the error."""
        return [
            f"{a.job_id} after {a.received - a.sent:.1f} s: {a.error}"
            for a in self.answers
            if a.status == 0
        ]

    def slowest_s(self) -> float:
        return round(max((a.received - a.sent for a in self.answers), default=0.0), 2)

    def unavailable_without_retry_after(self) -> int:
        return sum(1 for a in self.answers if a.status == 503 and not a.retry_after)


class Enqueuer:
    """Sends `webhook` jobs named `<prefix>-<n>` whose call the ledger holds for their hold."""

    def __init__(
        self, api: httpx.AsyncClient, ledger_url: str, prefix: str, hold: tuple[float, float]
    ) -> None:
        self.api = api
        self.ledger_url = ledger_url
        self.prefix = prefix
        self.hold = hold
        self.tally = Tally()
        self._random = random.Random(prefix)  # the same holds run after run
        self._serial = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def body(self, job_id: str, hold: float) -> dict[str, Any]:
        payload = {"job_id": job_id, "hold": hold}
        args = {"url": self.ledger_url, "payload": payload, "timeout": hold + 30}
        return {"function": "webhook", "args": args, "job_id": job_id}

    async def submit(self, job_id: str, hold: float) -> int:
        sent, error = time.monotonic(), ""
        try:
            response = await self.api.post("/v1/jobs", json=self.body(job_id, hold))
            status, retry_after = response.status_code, "retry-after" in response.headers
        except httpx.HTTPError as exc:
            status, retry_after, error = 0, False, f"{type(exc).__name__}: {exc}"
        received = time.monotonic()
        self.tally.answers.append(Answer(job_id, sent, received, status, retry_after, error))
        if status in (200, 202):
            self.tally.acknowledged.setdefault(job_id, received)
            self.tally.unacknowledged.pop(job_id, None)
        elif job_id not in self.tally.acknowledged:
            self.tally.unacknowledged[job_id] = hold
        return status

    def next_job(self) -> tuple[str, float]:
        self._serial += 1
        return f"{self.prefix}-{self._serial:05d}", round(self._random.uniform(*self.hold), 2)

    async def run(self, rate: float, stop: asyncio.Event) -> None:
        """About `rate` new jobs a second until `stop` is set; in-flight requests finish."""
        while not stop.is_set():
            job_id, hold = self.next_job()
            task = asyncio.create_task(self._send(job_id, hold))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1 / rate)
        await self.settle()

    async def _send(self, job_id: str, hold: float) -> None:
        await self.submit(job_id, hold)

    async def settle(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks)

    async def resend_unacknowledged(self, within_s: float) -> None:
        """Send each job not yet acknowledged again (same id) until it is, for `within_s`."""
        deadline = time.monotonic() + within_s
        while self.tally.unacknowledged and time.monotonic() < deadline:
            waiting = list(self.tally.unacknowledged.items())
            await asyncio.gather(*(self.submit(job_id, hold) for job_id, hold in waiting))
            if self.tally.unacknowledged:
                await asyncio.sleep(0.5)
