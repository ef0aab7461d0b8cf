"""Queue statistics: a snapshot of one arq queue, the history of snapshots, recent throughput;
for the system (every job), or for one tenant (its share of the queue, kept by the scripts).

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


async def snapshot_queue(redis: ArqRedis, queue: str, tenant: str | None = None) -> QueueSnapshot:
    counts = await statistics.count_queue(redis, queue, tenant)
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


async def record_snapshot(
    redis: ArqRedis,
    snapshot: QueueSnapshot,
    keep: int,
    *,
    tenant: str | None = None,
    ttl_ms: int | None = None,
) -> None:
    """Prepend to the queue's history (a `tenant`'s, if given), keeping the newest `keep`
    snapshots; with `ttl_ms`, the history goes that long after its newest snapshot."""
    await statistics.push_snapshot(
        redis, snapshot.queue, snapshot.model_dump_json(), keep, tenant=tenant, ttl_ms=ttl_ms
    )


async def read_history(
    redis: ArqRedis, queue: str, limit: int, tenant: str | None = None
) -> list[QueueSnapshot]:
    """Newest first."""
    snapshots = []
    raws = await statistics.read_snapshots(redis, queue, limit, tenant)
    for position, raw in enumerate(raws):
        try:
            snapshots.append(QueueSnapshot.model_validate_json(raw))
        except ValidationError:
            statistics.warn_malformed_snapshot(queue, position, tenant)
    return snapshots


async def finished_counts(
    redis: ArqRedis, queue: str, seconds: int, tenant: str | None = None
) -> FinishedCounts:
    """Jobs finished in the last `seconds`, to the counters' 10-second resolution."""
    counts = await statistics.finished_counts(redis, queue, _FINISHED, seconds, tenant)
    return FinishedCounts.model_validate(counts)


async def queue_report(
    redis: ArqRedis, queue: str, series_length: int, tenant: str | None = None
) -> QueueReport:
    """The queue as the system sees it, or as `tenant` does (its jobs only)."""
    snapshot = await snapshot_queue(redis, queue, tenant)
    return QueueReport(
        name=queue,
        queued=snapshot.queued,
        deferred=snapshot.deferred,
        in_progress=snapshot.in_progress,
        oldest_waiting_age_s=snapshot.oldest_waiting_age_s,
        finished_last_minute=await finished_counts(redis, queue, 60, tenant),
        finished_last_hour=await finished_counts(redis, queue, 3600, tenant),
        series=await read_history(redis, queue, series_length, tenant),
    )
