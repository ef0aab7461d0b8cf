"""Counting: an arq queue's depth, jobs finished per 10 s, the workers' Prometheus counters, and
the bounded list of queue snapshots. Plain numbers out; `jobqueue.ops` shapes them."""

import time
from collections.abc import Sequence
from dataclasses import dataclass

from arq.connections import ArqRedis

from jobqueue.store import keys
from jobqueue.store.records import decode_hash

# Running jobs stay in the queue's sorted set; they are found among the oldest due entries.
# Looking at this many bounds the cost; it must exceed the number of jobs running at once.
IN_PROGRESS_WINDOW = 1000
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)
COUNT_TTL_SECONDS = 2 * 3600  # the finished counters' buckets cover the last hour


def duration_bucket(seconds: float) -> str:
    """The Prometheus histogram bucket (its upper bound) that `seconds` falls in."""
    return next((str(b) for b in DURATION_BUCKETS if seconds <= b), "+Inf")


@dataclass(frozen=True)
class QueueCounts:
    at_ms: int
    queued: int
    deferred: int
    in_progress: int
    oldest_waiting_ms: int | None  # the due time of the oldest job waiting to start


async def count_queue(redis: ArqRedis, queue: str) -> QueueCounts:
    now_ms = int(time.time() * 1000)
    # Not a MULTI: Redis refuses every command queued in one while it is full, reads included.
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcount(queue, "-inf", now_ms)
        pipe.zcount(queue, f"({now_ms}", "+inf")
        pipe.zrangebyscore(queue, "-inf", now_ms, start=0, num=IN_PROGRESS_WINDOW, withscores=True)
        due, deferred, oldest_due = await pipe.execute()
    async with redis.pipeline(transaction=False) as pipe:
        for job_id, _ in oldest_due:
            pipe.exists(keys.in_progress(job_id.decode()))
        running = await pipe.execute()
    waiting = [score for (_, score), busy in zip(oldest_due, running, strict=True) if not busy]
    in_progress = sum(1 for busy in running if busy)
    return QueueCounts(
        at_ms=now_ms,
        queued=due - in_progress,
        deferred=deferred,
        in_progress=in_progress,
        oldest_waiting_ms=int(waiting[0]) if waiting else None,
    )


async def finished_counts(
    redis: ArqRedis, queue: str, statuses: Sequence[str], seconds: int
) -> dict[str, int]:
    """Jobs finished in the last `seconds`, per status, to the counters' 10-second resolution."""
    newest = int(time.time()) // keys.COUNT_BUCKET_SECONDS
    buckets = range(newest - seconds // keys.COUNT_BUCKET_SECONDS + 1, newest + 1)
    async with redis.pipeline(transaction=False) as pipe:
        for status in statuses:
            pipe.mget([keys.finished_count(queue, status, b) for b in buckets])
        replies = await pipe.execute()
    return {
        status: sum(int(v) for v in values if v)
        for status, values in zip(statuses, replies, strict=True)
    }


async def push_snapshot(redis: ArqRedis, queue: str, snapshot_json: str, keep: int) -> None:
    """Prepend to the queue's snapshot list, keeping the newest `keep`."""
    key = keys.stats_history(queue)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lpush(key, snapshot_json)
        pipe.ltrim(key, 0, keep - 1)
        await pipe.execute()


async def read_snapshots(redis: ArqRedis, queue: str, limit: int) -> list[bytes]:
    """Newest first."""
    raw: list[bytes] = await redis.lrange(keys.stats_history(queue), 0, limit - 1)  # type: ignore[misc]
    return raw


@dataclass(frozen=True)
class JobCounters:
    """The workers' shared Prometheus counters."""

    finished: dict[tuple[str, str], int]  # (function, status) -> jobs
    retried: dict[str, int]  # function -> retries scheduled
    stalled: dict[str, int]  # function -> runs that never ended (see `claim`)
    durations: dict[str, dict[str, str]]  # function -> bucket ("sum" too) -> count


async def read_job_counters(redis: ArqRedis) -> JobCounters:
    functions: set[bytes] = await redis.smembers(keys.METRICS_DURATION_FUNCTIONS)  # type: ignore[misc]
    names = sorted(f.decode() for f in functions)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.METRICS_FINISHED)
        pipe.hgetall(keys.METRICS_RETRIED)
        pipe.hgetall(keys.METRICS_STALLED)
        for function in names:
            pipe.hgetall(keys.metrics_duration(function))
        finished, retried, stalled, *durations = await pipe.execute()
    by_outcome = {}
    for label, count in decode_hash(finished).items():
        function, _, status = label.rpartition("|")
        by_outcome[(function, status)] = int(count)
    return JobCounters(
        finished=by_outcome,
        retried={f: int(n) for f, n in decode_hash(retried).items()},
        stalled={f: int(n) for f, n in decode_hash(stalled).items()},
        durations={f: decode_hash(d) for f, d in zip(names, durations, strict=True)},
    )
