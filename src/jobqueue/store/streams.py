"""The event streams: `jobqueue:events` (every job) and `jobqueue:events:{id}` (one job).

Entries are written by the enqueue, claim and transition scripts with the fields `type`,
`job_id`, `function` and `data` (JSON), to both streams in the same script call, each with an id
of its own stream (`XADD ... *`): a job's entry has the same place in both, not the same id.
Stream ids double as SSE event ids. The one live read is the API's reader of the all-jobs
stream (`read_new`: a blocking XREAD, bounded to stay under the pool's socket timeout); a job's
followers read their own stream's range when it tells them the job has news.

Every read returns well-formed entries only: one without a `type` or `job_id`, or whose `data`
is not a JSON object, is skipped with a warning (`malformed`), and a read never stops at it (a
page of them is read past). A stream key of the wrong type reads as empty (logged), but for the
live read, whose reader backs off and retries.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from arq.connections import ArqRedis
from redis.exceptions import ResponseError

from jobqueue.store import keys, malformed
from jobqueue.store.records import decode_hash

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
    a reader reads what is added, not what it holds.)"""
    try:
        newest: list[tuple[bytes, Any]] = await redis.xrevrange(stream, count=1)
    except ResponseError as error:
        malformed.wrong_type(stream, error)
        seconds, micros = await redis.time()
        return f"{seconds * 1000 + micros // 1000}-0"
    return newest[0][0].decode() if newest else "0-0"


async def read_new(
    redis: ArqRedis, after: str, *, block_ms: int, count: int
) -> tuple[str, list[StreamEntry]]:
    """The all-jobs stream's well-formed entries after `after`, waiting up to `block_ms` for the
    first one, and the id to read after next (past a malformed entry too, which is left out).
    A stream of the wrong type fails the read: its reader (`jobqueue.history.fanout`) backs off
    and reads again until it is fixed."""
    reply = await redis.xread({ALL_JOBS: after}, count=count, block=block_ms)
    found: list[RawEntry] = [entry for _, entries in reply for entry in entries]
    if not found:
        return after, []
    return found[-1][0].decode(), _entries(ALL_JOBS, found)


async def read_range(
    redis: ArqRedis, stream: str, after: str | None, *, count: int | None = None
) -> list[StreamEntry]:
    """Every well-formed entry after `after` (from the start when None), at most `count` of
    them (fewer only at the stream's end: a page of malformed entries is read past)."""
    while after != MAX_ID:  # (Redis refuses an exclusive start there)
        start = f"({after}" if after else "-"
        try:
            raw: list[RawEntry] = await redis.xrange(stream, min=start, max="+", count=count)
        except ResponseError as error:
            malformed.wrong_type(stream, error)
            return []
        found = _entries(stream, raw)
        if found or not raw or count is None:
            return found
        after = raw[-1][0].decode()
    return []


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
        if is_after(f"{ms}-{seq}", after)
    ]


def _kept_event(
    key: str, field: str, value: str
) -> tuple[tuple[int, int], str, dict[str, Any]] | None:
    """A record's copy of an event (`[type, data]` under `e:{stream id}`), or None (logged)."""
    entry_id = field.removeprefix(keys.KEPT_EVENT_PREFIX)
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        event = None
    if not is_valid_id(entry_id):
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
    return stream_id(entry_id), event[0], event[1]


async def trim_before(redis: ArqRedis, oldest_kept_ms: int) -> int:
    """Drop the all-jobs stream's entries older than `oldest_kept_ms`."""
    try:
        trimmed: int = await redis.xtrim(ALL_JOBS, minid=f"{oldest_kept_ms}-0", approximate=False)
    except ResponseError as error:
        malformed.wrong_type(ALL_JOBS, error)
        return 0
    return trimmed
