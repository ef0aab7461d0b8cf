"""The event streams: `jobqueue:events` (every job) and `jobqueue:events:{id}` (one job).

Entries are written by the enqueue and transition scripts with the fields `type`, `job_id`,
`function` and `data` (JSON). Live reads are blocking XREADs, each bounded to stay under the
pool's socket timeout; callers loop. Stream ids double as SSE event ids.
"""

from dataclasses import dataclass
from typing import Any

import orjson
from arq.connections import ArqRedis

from jobqueue.store import keys
from jobqueue.store.records import decode_hash

ALL_JOBS = keys.EVENTS


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


async def read_after(
    redis: ArqRedis, stream: str, after: str, *, block_ms: int, count: int
) -> list[StreamEntry]:
    """Entries after `after`, waiting up to `block_ms` for the first one."""
    reply = await redis.xread({stream: after}, count=count, block=block_ms)
    return [_entry(entry_id, fields) for _, entries in reply for entry_id, fields in entries]


async def read_range(redis: ArqRedis, stream: str, after: str | None) -> list[StreamEntry]:
    """Every entry after `after` (from the start when None)."""
    start = f"({after}" if after else "-"
    entries = await redis.xrange(stream, min=start, max="+")
    return [_entry(entry_id, fields) for entry_id, fields in entries]


def _stream_id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _after(entry_id: str, after: str | None) -> bool:
    return after is None or _stream_id(entry_id) > _stream_id(after)


async def read_job_history(redis: ArqRedis, job_id: str, after: str | None) -> list[StreamEntry]:
    """A job's events after `after`: from its own stream while that lives, then (a while after
    its end) from the copy the transition script kept (progress reports but the last)."""
    entries = await read_range(redis, of_job(job_id), after)
    if entries:
        return entries
    record = decode_hash(await redis.hgetall(keys.record(job_id)))  # type: ignore[misc]
    kept = sorted(
        (_stream_id(field.removeprefix(keys.KEPT_EVENT_PREFIX)), orjson.loads(value))
        for field, value in record.items()
        if field.startswith(keys.KEPT_EVENT_PREFIX)
    )
    function = record.get("function") or None
    return [
        StreamEntry(id=f"{ms}-{seq}", type=kind, job_id=job_id, function=function, data=data)
        for (ms, seq), (kind, data) in kept
        if _after(f"{ms}-{seq}", after)
    ]


async def trim_before(redis: ArqRedis, oldest_kept_ms: int) -> int:
    """Drop the all-jobs stream's entries older than `oldest_kept_ms`."""
    trimmed: int = await redis.xtrim(ALL_JOBS, minid=f"{oldest_kept_ms}-0", approximate=False)
    return trimmed
