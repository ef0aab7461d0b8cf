"""Counting: an arq queue's depth, jobs finished per 10 s, the workers' Prometheus counters, and
the bounded list of queue snapshots. Plain numbers out; `jobqueue.ops` shapes them.

A counter that is not a number, or a key of the wrong type, is logged and counted as none
(`malformed`): an operator's view never fails on one."""

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from arq.connections import ArqRedis
from redis.exceptions import ResponseError

from jobqueue.store import keys, malformed
from jobqueue.store.malformed import WRONG_TYPE
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


async def count_queue(redis: ArqRedis, queue: str, tenant: str | None = None) -> QueueCounts:
    """The queue's depth; a `tenant`'s share of it if given (as the scripts keep it)."""
    now_ms = int(time.time() * 1000)
    if tenant is not None:
        queue = keys.tenant_queue(queue, tenant)
    # Not a MULTI: Redis refuses every command queued in one while it is full, reads included.
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcount(queue, "-inf", now_ms)
        pipe.zcount(queue, f"({now_ms}", "+inf")
        pipe.zrangebyscore(queue, "-inf", now_ms, start=0, num=IN_PROGRESS_WINDOW, withscores=True)
        due, deferred, oldest_due = await malformed.replies(pipe, [queue] * 3)
    if due is WRONG_TYPE:
        return QueueCounts(now_ms, 0, 0, 0, None)
    async with redis.pipeline(transaction=False) as pipe:
        for job_id, _ in oldest_due:
            pipe.exists(keys.in_progress(malformed.text(job_id)))
        running = await pipe.execute()
    waiting = [
        score
        for (_, score), busy in zip(oldest_due, running, strict=True)
        if not busy and math.isfinite(score)  # (-inf: planted; a job never scheduled so)
    ]
    in_progress = sum(1 for busy in running if busy)
    return QueueCounts(
        at_ms=now_ms,
        queued=due - in_progress,
        deferred=deferred,
        in_progress=in_progress,
        oldest_waiting_ms=int(waiting[0]) if waiting else None,
    )


async def finished_counts(
    redis: ArqRedis, queue: str, statuses: Sequence[str], seconds: int, tenant: str | None = None
) -> dict[str, int]:
    """Jobs finished in the last `seconds` (a `tenant`'s only, if given), per status, to the
    counters' 10-second resolution."""
    newest = int(time.time()) // keys.COUNT_BUCKET_SECONDS
    buckets = range(newest - seconds // keys.COUNT_BUCKET_SECONDS + 1, newest + 1)
    bucket_keys = [
        [keys.finished_count(queue, status, b, tenant) for b in buckets] for status in statuses
    ]
    async with redis.pipeline(transaction=False) as pipe:
        for status_keys in bucket_keys:
            pipe.mget(status_keys)  # (a key of another type reads as nil)
        replies = await pipe.execute()
    return {
        status: sum(_count(key, value) for key, value in zip(status_keys, values, strict=True))
        for status, status_keys, values in zip(statuses, bucket_keys, replies, strict=True)
    }


def _count(key: str, value: bytes | str | None, field: str | None = None) -> int:
    """A counter as the scripts write it (digits), else 0 (logged)."""
    if value is None:
        return 0
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    if _is_count(text):
        return int(text)
    malformed.warn(key, "not a count", field=field)
    return 0


async def push_snapshot(
    redis: ArqRedis,
    queue: str,
    snapshot_json: str,
    keep: int,
    *,
    tenant: str | None = None,
    ttl_ms: int | None = None,
) -> None:
    """Prepend to the queue's snapshot list (a `tenant`'s, if given), keeping the newest `keep`;
    with `ttl_ms`, the list goes that long after its newest snapshot."""
    key = keys.stats_history(queue, tenant)
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, snapshot_json)
            pipe.ltrim(key, 0, keep - 1)
            if ttl_ms is not None:
                pipe.pexpire(key, ttl_ms)
            await pipe.execute()
    except ResponseError as error:  # (a list of the wrong type: not recorded, the job goes on)
        malformed.wrong_type(key, error)


async def read_snapshots(
    redis: ArqRedis, queue: str, limit: int, tenant: str | None = None
) -> list[bytes]:
    """Newest first (a `tenant`'s, if given; none if the key is of the wrong type: logged)."""
    key = keys.stats_history(queue, tenant)
    try:
        raw: list[bytes] = await redis.lrange(key, 0, limit - 1)  # type: ignore[misc]
    except ResponseError as error:
        malformed.wrong_type(key, error)
        return []
    return raw


def warn_malformed_snapshot(queue: str, position: int, tenant: str | None = None) -> None:
    """A snapshot in the queue's history is not one `push_snapshot` wrote (it is left out)."""
    key = keys.stats_history(queue, tenant)
    malformed.warn(key, "not a queue snapshot", field=f"[{position}]")


async def known_tenants(redis: ArqRedis) -> list[str]:
    """The tenants with jobs (the sweep forgets one with none for the history retention)."""
    try:
        names = await redis.zrange(keys.TENANTS, 0, -1)
    except ResponseError as error:
        malformed.wrong_type(keys.TENANTS, error)
        return []
    return sorted(malformed.text(name) for name in names)


@dataclass(frozen=True)
class JobCounters:
    """The workers' shared Prometheus counters."""

    finished: dict[tuple[str, str], int]  # (function, status) -> jobs
    retried: dict[str, int]  # function -> retries scheduled
    stalled: dict[str, int]  # function -> runs that never ended (see `claim`)
    durations: dict[str, dict[str, str]]  # function -> bucket ("sum" too) -> count


async def read_job_counters(redis: ArqRedis) -> JobCounters:
    functions = keys.METRICS_DURATION_FUNCTIONS
    async with redis.pipeline(transaction=False) as pipe:
        pipe.smembers(functions)
        [members] = await malformed.replies(pipe, [functions])
    names = sorted(malformed.text(f) for f in members) if isinstance(members, set) else []
    hashes = [keys.METRICS_FINISHED, keys.METRICS_RETRIED, keys.METRICS_STALLED]
    timings = [keys.metrics_duration(function) for function in names]
    async with redis.pipeline(transaction=False) as pipe:
        for key in hashes + timings:
            pipe.hgetall(key)
        replies = await malformed.replies(pipe, hashes + timings)
    finished, retried, stalled = (
        _counts(key, raw) for key, raw in zip(hashes, replies, strict=False)
    )
    return JobCounters(
        finished={_outcome(label): count for label, count in finished.items()},
        retried=retried,
        stalled=stalled,
        durations={
            function: histogram
            for function, key, raw in zip(names, timings, replies[3:], strict=True)
            if (histogram := _histogram(key, raw))  # (none left: the function is left out)
        },
    )


def _outcome(label: str) -> tuple[str, str]:
    function, _, status = label.rpartition("|")
    return function, status


def _counts(key: str, raw: object) -> dict[str, int]:
    """A hash of counters; a malformed one is left out (logged)."""
    fields = decode_hash(raw) if isinstance(raw, dict) else {}
    counts = {}
    for field, value in fields.items():
        if _is_count(value):
            counts[field] = int(value)
        else:
            malformed.warn(key, "not a count", field=field)
    return counts


def _histogram(key: str, raw: object) -> dict[str, str]:
    """A duration histogram's buckets (counts) and "sum" (seconds); a malformed field is left
    out (logged)."""
    fields = decode_hash(raw) if isinstance(raw, dict) else {}
    histogram = {}
    for field, value in fields.items():
        if _is_seconds(value) if field == "sum" else _is_count(value):
            histogram[field] = value
        else:
            malformed.warn(key, "not a number", field=field)
    return histogram


def _is_count(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _is_seconds(text: str) -> bool:
    try:
        return 0 <= float(text) < float("inf")
    except ValueError:
        return False
