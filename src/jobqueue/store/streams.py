"""The event streams: `jobqueue:events` (every job) and `jobqueue:events:{id}` (one job).

Entries are written by the enqueue, claim and transition scripts with the fields `type`,
`job_id`, `function` and `data` (JSON), to both streams in the same script call, each with an id
of its own stream (`XADD ... *`): a job's entry has the same place in both, not the same id.
Stream ids double as SSE event ids. The one live read is the API's reader of the all-jobs
stream (`read_new`: a blocking XREAD, bounded to stay under the pool's socket timeout); a job's
followers read their own stream's range when it tells them the job has news.
"""

from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from arq.connections import ArqRedis

from jobqueue.store import keys
from jobqueue.store.records import decode_hash

log = structlog.get_logger("jobqueue.events")

ALL_JOBS = keys.EVENTS
MAX_ID_PART = 2**64 - 1  # each part of a stream id is an unsigned 64-bit integer
MAX_ID = f"{MAX_ID_PART}-{MAX_ID_PART}"  # nothing can come after it


def of_job(job_id: str) -> str:
    """The stream of one job's events."""
    return keys.job_events(job_id)


@dataclass(frozen=True)
class StreamEntry:
    id: str
    type: str
    job_id: str
    function: str | None
    data: dict[str, Any]


def _entry(entry_id: bytes, fields: dict[bytes, bytes]) -> StreamEntry:
    data = orjson.loads(fields.get(b"data", b"{}"))
    return StreamEntry(
        id=entry_id.decode(),
        type=fields[b"type"].decode(),
        job_id=fields[b"job_id"].decode(),
        function=fields.get(b"function", b"").decode() or None,
        data=data,
    )


async def latest_id(redis: ArqRedis, stream: str) -> str:
    """The id of the newest entry, or "0-0" for an empty stream: a safe point to read after."""
    newest: list[tuple[bytes, Any]] = await redis.xrevrange(stream, count=1)
    return newest[0][0].decode() if newest else "0-0"


def _readable(entry_id: bytes, fields: dict[bytes, bytes]) -> StreamEntry | None:
    """The entry, or None (logged) for one this service did not write: the reader goes on."""
    try:
        return _entry(entry_id, fields)
    except (KeyError, ValueError, AttributeError, TypeError) as exc:
        log.warning("events.entry_unreadable", entry_id=entry_id.decode(), error=repr(exc))
        return None


async def read_new(
    redis: ArqRedis, after: str, *, block_ms: int, count: int
) -> tuple[str, list[StreamEntry]]:
    """The all-jobs stream's entries after `after`, waiting up to `block_ms` for the first one,
    and the id to read after next (past an unreadable entry too, which is left out)."""
    reply = await redis.xread({ALL_JOBS: after}, count=count, block=block_ms)
    found = [(entry_id, fields) for _, entries in reply for entry_id, fields in entries]
    if not found:
        return after, []
    readable = [_readable(entry_id, fields) for entry_id, fields in found]
    return found[-1][0].decode(), [entry for entry in readable if entry is not None]


async def read_range(
    redis: ArqRedis, stream: str, after: str | None, *, count: int | None = None
) -> list[StreamEntry]:
    """Every entry after `after` (from the start when None), at most `count` of them."""
    if after == MAX_ID:  # (Redis refuses an exclusive start there)
        return []
    start = f"({after}" if after else "-"
    entries = await redis.xrange(stream, min=start, max="+", count=count)
    return [_entry(entry_id, fields) for entry_id, fields in entries]


def stream_id(entry_id: str) -> tuple[int, int]:
    """A stream id as the pair Redis orders entries by (an id without `-seq` has seq 0)."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def is_valid_id(entry_id: str) -> bool:
    """Whether Redis takes `entry_id` (digits `ms-seq`, each part unsigned 64-bit) as an id."""
    ms, dash, seq = entry_id.partition("-")
    parts = (ms, seq) if dash else (ms,)
    return all(p.isascii() and p.isdigit() and int(p) <= MAX_ID_PART for p in parts)


def is_after(entry_id: str, after: str | None) -> bool:
    return after is None or stream_id(entry_id) > stream_id(after)


async def read_job_history(redis: ArqRedis, job_id: str, after: str | None) -> list[StreamEntry]:
    """A job's events after `after`: from its own stream while that lives, then (a while after
    its end) from the copy the transition script kept (progress reports but the last)."""
    entries = await read_range(redis, of_job(job_id), after)
    if entries:
        return entries
    record = decode_hash(await redis.hgetall(keys.record(job_id)))  # type: ignore[misc]
    kept = sorted(
        (stream_id(field.removeprefix(keys.KEPT_EVENT_PREFIX)), orjson.loads(value))
        for field, value in record.items()
        if field.startswith(keys.KEPT_EVENT_PREFIX)
    )
    function = record.get("function") or None
    return [
        StreamEntry(id=f"{ms}-{seq}", type=kind, job_id=job_id, function=function, data=data)
        for (ms, seq), (kind, data) in kept
        if is_after(f"{ms}-{seq}", after)
    ]


async def trim_before(redis: ArqRedis, oldest_kept_ms: int) -> int:
    """Drop the all-jobs stream's entries older than `oldest_kept_ms`."""
    trimmed: int = await redis.xtrim(ALL_JOBS, minid=f"{oldest_kept_ms}-0", approximate=False)
    return trimmed
