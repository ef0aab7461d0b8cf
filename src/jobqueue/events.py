"""Reading the event streams: a job's past and live transitions, and the feed of all jobs.

Live reads are blocking `XREAD`s (no polling), each bounded to stay under the socket timeout;
the callers loop. Stream ids double as SSE event ids, so `Last-Event-ID` resumes exactly.
"""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis

TERMINAL_EVENTS = frozenset({"succeeded", "failed", "aborted", "expired"})
BLOCK_MS = 1000
BATCH = 100


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    data: dict[str, Any]

    @property
    def is_terminal(self) -> bool:
        return self.type in TERMINAL_EVENTS


def _event(entry_id: bytes, fields: dict[bytes, bytes]) -> Event:
    data = json.loads(fields.get(b"data", b"{}"))
    kind = fields[b"type"].decode()
    return Event(
        id=entry_id.decode(),
        type=kind,
        data={
            "job_id": fields[b"job_id"].decode(),
            "function": fields.get(b"function", b"").decode() or None,
            "type": kind,
            **data,
        },
    )


async def latest_event_id(redis: ArqRedis, stream: str) -> str:
    """The id of the newest entry, or "0-0" for an empty stream: a safe point to read after."""
    newest: list[tuple[bytes, Any]] = await redis.xrevrange(stream, count=1)
    return newest[0][0].decode() if newest else "0-0"


async def read_events(
    redis: ArqRedis, stream: str, after: str, *, block_ms: int = BLOCK_MS, count: int = BATCH
) -> list[Event]:
    """Entries after `after`, waiting up to `block_ms` for the first one."""
    reply = await redis.xread({stream: after}, count=count, block=block_ms)
    return [_event(entry_id, fields) for _, entries in reply for entry_id, fields in entries]


async def past_events(redis: ArqRedis, stream: str, after: str | None) -> list[Event]:
    start = f"({after}" if after else "-"
    entries = await redis.xrange(stream, min=start, max="+")
    return [_event(entry_id, fields) for entry_id, fields in entries]


async def follow(redis: ArqRedis, stream: str, after: str) -> AsyncIterator[Event]:
    """Live events after `after`, forever (the caller stops iterating)."""
    while True:
        for event in await read_events(redis, stream, after):
            after = event.id
            yield event
