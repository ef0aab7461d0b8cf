"""Queue statistics: a point-in-time snapshot of one arq queue, and its bounded history."""

import time
from datetime import UTC, datetime

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix
from pydantic import BaseModel

from jobqueue import keys

# Running jobs stay in the queue's sorted set; they are found among the oldest due entries.
# Looking at this many bounds the cost; it must exceed the number of jobs running at once.
IN_PROGRESS_WINDOW = 1000


class QueueSnapshot(BaseModel):
    queue: str
    taken_at: datetime
    queued: int
    deferred: int
    in_progress: int
    oldest_waiting_age_s: float | None


def history_key(queue_name: str) -> str:
    return f"jobqueue:stats:{queue_name}"


async def snapshot_queue(redis: ArqRedis, queue_name: str) -> QueueSnapshot:
    now_ms = int(time.time() * 1000)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zcount(queue_name, "-inf", now_ms)
        pipe.zcount(queue_name, f"({now_ms}", "+inf")
        pipe.zrangebyscore(
            queue_name, "-inf", now_ms, start=0, num=IN_PROGRESS_WINDOW, withscores=True
        )
        due, deferred, oldest_due = await pipe.execute()
    async with redis.pipeline(transaction=False) as pipe:
        for job_id, _ in oldest_due:
            pipe.exists(in_progress_key_prefix + job_id.decode())
        running = await pipe.execute()
    waiting_scores = [
        score for (_, score), busy in zip(oldest_due, running, strict=True) if not busy
    ]
    in_progress = sum(1 for busy in running if busy)
    return QueueSnapshot(
        queue=queue_name,
        taken_at=datetime.fromtimestamp(now_ms / 1000, UTC),
        queued=due - in_progress,
        deferred=deferred,
        in_progress=in_progress,
        oldest_waiting_age_s=(
            round((now_ms - waiting_scores[0]) / 1000, 3) if waiting_scores else None
        ),
    )


async def record_snapshot(redis: ArqRedis, snapshot: QueueSnapshot, keep: int) -> None:
    """Prepend to the queue's history, keeping the newest `keep` snapshots."""
    key = history_key(snapshot.queue)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lpush(key, snapshot.model_dump_json())
        pipe.ltrim(key, 0, keep - 1)
        await pipe.execute()


async def read_history(redis: ArqRedis, queue_name: str, limit: int) -> list[QueueSnapshot]:
    """Newest first."""
    raw: list[bytes] = await redis.lrange(history_key(queue_name), 0, limit - 1)  # type: ignore[misc]
    return [QueueSnapshot.model_validate_json(item) for item in raw]


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


_OUTCOMES = ("succeeded", "failed", "aborted")


async def finished_counts(redis: ArqRedis, queue_name: str, seconds: int) -> FinishedCounts:
    """Jobs finished in the last `seconds`, to the counters' 10-second resolution."""
    newest = int(time.time()) // keys.COUNT_BUCKET_SECONDS
    buckets = range(newest - seconds // keys.COUNT_BUCKET_SECONDS + 1, newest + 1)
    counts: dict[str, int] = {}
    for outcome in _OUTCOMES:
        values = await redis.mget([keys.finished_count(queue_name, outcome, b) for b in buckets])
        counts[outcome] = sum(int(v) for v in values if v)
    return FinishedCounts(**counts)


async def queue_report(redis: ArqRedis, queue_name: str, series_length: int) -> QueueReport:
    snapshot = await snapshot_queue(redis, queue_name)
    return QueueReport(
        name=queue_name,
        queued=snapshot.queued,
        deferred=snapshot.deferred,
        in_progress=snapshot.in_progress,
        oldest_waiting_age_s=snapshot.oldest_waiting_age_s,
        finished_last_minute=await finished_counts(redis, queue_name, 60),
        finished_last_hour=await finished_counts(redis, queue_name, 3600),
        series=await read_history(redis, queue_name, series_length),
    )
