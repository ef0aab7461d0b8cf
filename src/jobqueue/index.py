"""Paging through job history by status and function, newest first, without scanning keys.

Each filter has its own lex-ordered sorted set (see `keys`), so a page is one ZRANGE BYLEX from
the cursor plus one pipelined read of the page's records: the same cost with 100 or 100,000 jobs.
`queued` and `deferred` share the `waiting` index (they differ only by the clock), so a page
filtered by one of them may hold fewer than `limit` jobs; follow `next_cursor`.
"""

import base64
import binascii
from dataclasses import dataclass

from arq.connections import ArqRedis
from arq.constants import result_key_prefix

from jobqueue import keys
from jobqueue.records import decode, stored_status, view_from_record
from jobqueue.serialization import deserialize
from jobqueue.views import JobStatus, JobView

MAX_PAGE = 500


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class Page:
    jobs: list[JobView]
    next_cursor: str | None


def encode_cursor(member: str) -> str:
    return base64.urlsafe_b64encode(member.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        member = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor("cursor is not one this API returned") from exc
    if len(member) < 15 or not member[:13].isdigit() or member[13] != ":":
        raise InvalidCursor("cursor is not one this API returned")
    return member


async def read_page(
    redis: ArqRedis,
    *,
    status: JobStatus | None,
    function: str | None,
    limit: int,
    cursor: str | None,
) -> Page:
    index_key = keys.index(
        status=stored_status(status) if status is not None else None, function=function
    )
    start = f"({decode_cursor(cursor)}" if cursor else "-"
    members: list[bytes] = await redis.zrangebylex(index_key, start, "+", start=0, num=limit)
    ids = [keys.member_job_id(m.decode()) for m in members]
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hgetall(keys.record(job_id))
            pipe.get(result_key_prefix + job_id)
        replies = await pipe.execute()
    jobs: list[JobView] = []
    gone: list[bytes] = []
    for member, raw_record, raw_result in zip(members, replies[::2], replies[1::2], strict=True):
        record = decode(raw_record)
        if not record.get("job_id"):
            gone.append(member)  # history expired: tidy the index as we go
            continue
        view = view_from_record(record, result=_result_value(raw_result))
        if status is None or view.status == status:
            jobs.append(view)
    if gone:
        await redis.zrem(index_key, *gone)
    more = len(members) == limit
    return Page(jobs, encode_cursor(members[-1].decode()) if more else None)


def _result_value(raw: bytes | None) -> object:
    if raw is None:
        return None
    try:
        data = deserialize(raw)
    except ValueError:
        return None
    return data["r"] if data.get("s") else None
