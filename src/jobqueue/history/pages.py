"""Paging through job history by status and function, newest first, without scanning keys.

A page is one read of each index the filter needs, from the cursor (one with a status; the five
stored statuses' without one, merged), plus one pipelined read of the page's records (see
`jobqueue.store.index`): the same cost with 100 or 100,000 jobs. `queued` and
`deferred` share the `waiting` index (they differ only by the clock), so a page filtered by one
of them may hold fewer than `limit` jobs; follow `next_cursor`. A job whose record is a key of
the wrong type is left out (logged by the store); one with malformed fields is shown with a
`CorruptJobData` error (`records`).
"""

import base64
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from arq.connections import ArqRedis

from jobqueue.history.lookup import finished_value, with_wrong_types
from jobqueue.history.records import has_record, view_from_record
from jobqueue.history.view import JobView, is_corrupt
from jobqueue.history.vocabulary import JobStatus, StoredStatus, stored_status
from jobqueue.store import index
from jobqueue.store.records import read_records

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
    except ValueError as exc:  # (binascii.Error, UnicodeDecodeError, non-ASCII input)
        raise InvalidCursor("cursor is not one this API returned") from exc
    if not index.is_member(member):
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
    statuses = [stored_status(status)] if status is not None else list(StoredStatus)
    after = decode_cursor(cursor) if cursor else None
    entries, more = await index.page_entries(
        redis, statuses=statuses, function=function, after=after, limit=limit
    )
    records = await read_records(redis, [entry.job_id for entry in entries])
    jobs: list[JobView] = []
    gone: list[index.Entry] = []
    for entry, stored in zip(entries, records, strict=True):
        if "record" in stored.wrong_type:
            continue  # (not tidied: it is not ours to delete)
        if not has_record(stored.record):
            gone.append(entry)  # history expired: tidy the index as we go
            continue
        view = view_from_record(entry.job_id, stored.record, finished_value(stored.result))
        view = with_wrong_types(view, stored.wrong_type)
        if status is None or view.status == status:
            jobs.append(view)
    await index.remove_entries(redis, gone)
    return Page(jobs, encode_cursor(entries[-1].member) if more and entries else None)


async def newest_first(
    redis: ArqRedis, *, status: JobStatus | None, function: str | None
) -> AsyncGenerator[JobView, None]:
    """Every job with `status` and `function`, newest first, a page at a time; but those whose
    data is corrupt (what they ran, or how they ended, is not known for sure)."""
    cursor: str | None = None
    while True:
        page = await read_page(redis, status=status, function=function, limit=100, cursor=cursor)
        for job in page.jobs:
            if not is_corrupt(job):
                yield job
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
