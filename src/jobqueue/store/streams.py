"""The event streams: `jobqueue:events` (every job) and `jobqueue:events:{id}` (one job).

Entries are written by the enqueue and transition scripts with the fields `type`, `job_id`,
`function` and `data` (JSON). Live reads are blocking XREADs, each bounded to stay under the
pool's socket timeout; callers loop. Stream ids double as SSE event ids.

Every read returns well-formed entries only: one without a `type` or `job_id`, or whose `data`
is not a JSON object, is skipped with a warning (`malformed`), and a read never stops at it
(live reads go on past entries that are all malformed). A stream key of the wrong type reads as
empty (logged; a live read still waits its `block_ms`, so a follower does not spin).
"""

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from arq.connections import ArqRedis
from redis.exceptions import ResponseError

from jobqueue.store import keys, malformed
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


RawEntry = tuple[bytes, dict[bytes, bytes]]


def _entry(stream: str, entry_id: bytes, fields: dict[bytes, bytes]) -> StreamEntry | None:
    """The entry, or None (logged) if it is not one the scripts write."""
    kind, job_id = fields.get(b"type"), fields.get(b"job_id")
    if not kind or not job_id:
        missing = "type" if not kind else "job_id"
        problem = f"an entry without {missing}"
        malformed.warn(stream, problem, field=missing, entry_id=entry_id.decode())
        return None
    try:
        data = orjson.loads(fields.get(b"data", b"{}"))
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        malformed.warn(stream, "not a JSON object", field="data", entry_id=entry_id.decode())
        return None
    return StreamEntry(
        id=entry_id.decode(),
        type=malformed.text(kind),
        job_id=malformed.text(job_id),
        function=malformed.text(fields.get(b"function", b"")) or None,
        data=data,
    )


def _entries(stream: str, raw: Iterable[RawEntry]) -> list[StreamEntry]:
    return [e for entry_id, fields in raw if (e := _entry(stream, entry_id, fields)) is not None]


async def latest_id(redis: ArqRedis, stream: str) -> str:
    """The id of the newest entry, or "0-0" for an empty stream: a safe point to read after.
    (For a key of the wrong type, the id Redis would give an entry now: once the key is fixed,
    a follower reads what is added, not what it holds.)"""
    try:
        newest: list[tuple[bytes, Any]] = await redis.xrevrange(stream, count=1)
    except ResponseError as error:
        malformed.wrong_type(stream, error)
        seconds, micros = await redis.time()
        return f"{seconds * 1000 + micros // 1000}-0"
    return newest[0][0].decode() if newest else "0-0"


async def read_after(
    redis: ArqRedis, stream: str, after: str, *, block_ms: int, count: int
) -> list[StreamEntry]:
    """Well-formed entries after `after`, waiting up to `block_ms` for the first one."""
    while True:
        try:
            reply = await redis.xread({stream: after}, count=count, block=block_ms)
        except ResponseError as error:
            malformed.wrong_type(stream, error)
            await asyncio.sleep(block_ms / 1000)  # as if it had waited for entries in vain
            return []
        raw: list[RawEntry] = [entry for _, entries in reply for entry in entries]
        found = _entries(stream, raw)
        if found or not raw:
            return found
        after = raw[-1][0].decode()  # all malformed: read on past them


async def read_range(redis: ArqRedis, stream: str, after: str | None) -> list[StreamEntry]:
    """Every well-formed entry after `after` (from the start when None)."""
    start = f"({after}" if after else "-"
    try:
        raw: list[RawEntry] = await redis.xrange(stream, min=start, max="+")
    except ResponseError as error:
        malformed.wrong_type(stream, error)
        return []
    return _entries(stream, raw)


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
    key = keys.record(job_id)
    try:
        record = decode_hash(await redis.hgetall(key))  # type: ignore[misc]
    except ResponseError as error:
        malformed.wrong_type(key, error)
        return []
    kept = sorted(
        event
        for field, value in record.items()
        if field.startswith(keys.KEPT_EVENT_PREFIX)
        and (event := _kept_event(key, field, value)) is not None
    )
    function = record.get("function") or None
    return [
        StreamEntry(id=f"{ms}-{seq}", type=kind, job_id=job_id, function=function, data=data)
        for (ms, seq), kind, data in kept
        if _after(f"{ms}-{seq}", after)
    ]


def _kept_event(
    key: str, field: str, value: str
) -> tuple[tuple[int, int], str, dict[str, Any]] | None:
    """A record's copy of an event (`[type, data]` under `e:{stream id}`), or None (logged)."""
    entry_id = field.removeprefix(keys.KEPT_EVENT_PREFIX)
    ms, _, seq = entry_id.partition("-")
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        event = None
    if not (ms.isascii() and ms.isdigit() and seq.isascii() and (seq.isdigit() or not seq)):
        malformed.warn(key, "not a kept event's field name", field=field)
        return None
    if not (
        isinstance(event, list)
        and len(event) == 2
        and isinstance(event[0], str)
        and isinstance(event[1], dict)
    ):
        malformed.warn(key, "not a kept event ([type, data])", field=field)
        return None
    return (int(ms), int(seq or 0)), event[0], event[1]


async def trim_before(redis: ArqRedis, oldest_kept_ms: int) -> int:
    """Drop the all-jobs stream's entries older than `oldest_kept_ms`."""
    try:
        trimmed: int = await redis.xtrim(ALL_JOBS, minid=f"{oldest_kept_ms}-0", approximate=False)
    except ResponseError as error:
        malformed.wrong_type(ALL_JOBS, error)
        return 0
    return trimmed
