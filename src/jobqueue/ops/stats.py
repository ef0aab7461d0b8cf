"""Queue statistics: a snapshot of one arq queue, the history of snapshots, recent throughput.

A snapshot in the history that is not one `record_snapshot` wrote is left out, with a warning.
"""

from datetime import datetime

from arq.connections import ArqRedis
from pydantic import BaseModel, ValidationError

from jobqueue.clock import ms_to_datetime
from jobqueue.history.vocabulary import TERMINAL_STORED
from jobqueue.store import statistics

_FINISHED = sorted(TERMINAL_STORED)


class QueueSnapshot(BaseModel):
    queue: str
    taken_at: datetime
    queued: int
    deferred: int
    in_progress: int
    oldest_waiting_age_s: float | None


class FinishedCounts(BaseModel):
    succeeded: int
    failed: int
    aborted: int


class QueueReport(BaseModel):
    name: str
    queued: int
    deferred: int
    in_progress: int
    oldest_waiting_age_s: float | None
    finished_last_minute: FinishedCounts
    finished_last_hour: FinishedCounts
    series: list[QueueSnapshot]


async def snapshot_queue(redis: ArqRedis, queue: str) -> QueueSnapshot:
    counts = await statistics.count_queue(redis, queue)
    taken_at = ms_to_datetime(counts.at_ms)
    assert taken_at is not None
    oldest = counts.oldest_waiting_ms
    age = round((counts.at_ms - oldest) / 1000, 3) if oldest is not None else None
    return QueueSnapshot(
        queue=queue,
        taken_at=taken_at,
        queued=counts.queued,
        deferred=counts.deferred,
        in_progress=counts.in_progress,
        oldest_waiting_age_s=age,
    )


async def record_snapshot(redis: ArqRedis, snapshot: QueueSnapshot, keep: int) -> None:
    """Prepend to the queue's history, keeping the newest `keep` snapshots."""
    await statistics.push_snapshot(redis, snapshot.queue, snapshot.model_dump_json(), keep)


async def read_history(redis: ArqRedis, queue: str, limit: int) -> list[QueueSnapshot]:
    """Newest first."""
    snapshots = []
    for position, raw in enumerate(await statistics.read_snapshots(redis, queue, limit)):
        try:
            snapshots.append(QueueSnapshot.model_validate_json(raw))
        except ValidationError:
            statistics.warn_malformed_snapshot(queue, position)
    return snapshots


async def finished_counts(redis: ArqRedis, queue: str, seconds: int) -> FinishedCounts:
    """Jobs finished in the last `seconds`, to the counters' 10-second resolution."""
    counts = await statistics.finished_counts(redis, queue, _FINISHED, seconds)
    return FinishedCounts.model_validate(counts)


async def queue_report(redis: ArqRedis, queue: str, series_length: int) -> QueueReport:
    snapshot = await snapshot_queue(redis, queue)
    return QueueReport(
        name=queue,
        queued=snapshot.queued,
        deferred=snapshot.deferred,
        in_progress=snapshot.in_progress,
        oldest_waiting_age_s=snapshot.oldest_waiting_age_s,
        finished_last_minute=await finished_counts(redis, queue, 60),
        finished_last_hour=await finished_counts(redis, queue, 3600),
        series=await read_history(redis, queue, series_length),
    )
