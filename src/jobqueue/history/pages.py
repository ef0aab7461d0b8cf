"""Paging through job history by status and function, newest first, without scanning keys.

A page is one read of each index the filter needs, from the cursor (one with a status; the five
stored statuses' without one, merged), plus pipelined reads of the page's records, a few at a
time (see `jobqueue.store.index`): the same cost with 100 or 100,000 jobs. `queued` and
`deferred` share the `waiting` index (they differ only by the clock), so a page filtered by one
of them may hold fewer than `limit` jobs; follow `next_cursor`. A job whose record is a key of
the wrong type is left out (logged by the store); one with malformed fields is shown with a
`CorruptJobData` error (`records`).

A listed page is bounded (`GET /v1/jobs/{id}` still answers the whole job):
- an `args`, `result` or `error` over `LISTED_VALUE_MAX_BYTES` of JSON is elided: the value
  becomes `{"elided": true, "bytes": N, "href": "/v1/jobs/{id}"}` (an error keeps its type and
  the start of its message) and the view's `elided` names the field, so a client can tell the
  marker from a job's own value;
- a page stops early once its jobs pass `PAGE_BUDGET_BYTES` of JSON (it always holds at least
  one), with a `next_cursor` that continues right after its last job. A page is therefore at
  most the budget plus one elided job, whatever `limit` asks for.
"""

import base64
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import orjson
from arq.connections import ArqRedis

from jobqueue.history.lookup import finished_value, with_wrong_types
from jobqueue.history.records import has_record, view_from_record
from jobqueue.history.view import LISTED_VALUE_MAX_BYTES, JobError, JobView, is_corrupt
from jobqueue.history.vocabulary import JobStatus, StoredStatus, stored_status
from jobqueue.store import index
from jobqueue.store.records import StoredJob, read_records

MAX_PAGE = 500
PAGE_BUDGET_BYTES = 1024 * 1024
ERROR_PREVIEW_CHARS = 1024
RECORDS_PER_READ = 25  # a page's records in memory at once: ~25 large jobs, not `limit`
JOB_HREF = "/v1/jobs/{}"
SCAN_ROUNDS = 10  # index pages one filtered page reads at most


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
    bounded: bool = True,
    visible: Callable[[str], bool] | None = None,
) -> Page:
    """Up to `limit` jobs after `cursor` (of those whose stored id `visible` lets through);
    `bounded` (a listing): large values elided and the page cut at the byte budget. Unbounded
    pages are for the service's own use (a re-run needs the whole args)."""
    statuses = [stored_status(status)] if status is not None else list(StoredStatus)
    after = decode_cursor(cursor) if cursor else None
    if visible is None:
        entries, more = await index.page_entries(
            redis, statuses=statuses, function=function, after=after, limit=limit
        )
        resume = entries[-1].member if more and entries else None
    else:
        entries, resume = await _visible_entries(
            redis, statuses=statuses, function=function, after=after, limit=limit, visible=visible
        )
    jobs: list[JobView] = []
    gone: list[index.Entry] = []
    spent, cut = 0, None
    async with aclosing(_records(redis, entries)) as records:
        async for entry, stored in records:
            if "record" in stored.wrong_type:
                continue  # (not tidied: it is not ours to delete)
            if not has_record(stored.record):
                gone.append(entry)  # history expired: tidy the index as we go
                continue
            view = _view(entry.job_id, stored, bounded=bounded)
            if status is not None and view.status != status:
                continue
            jobs.append(view)
            spent += len(view.model_dump_json()) if bounded else 0
            if spent >= PAGE_BUDGET_BYTES and entry is not entries[-1]:
                cut = entry  # the rest on the next page
                break
    await index.remove_entries(redis, gone)
    last = cut.member if cut else resume
    return Page(jobs, encode_cursor(last) if last else None)


async def _visible_entries(
    redis: ArqRedis,
    *,
    statuses: list[StoredStatus],
    function: str | None,
    after: str | None,
    limit: int,
    visible: Callable[[str], bool],
) -> tuple[list[index.Entry], str | None]:
    """Up to `limit` entries of jobs `visible` lets through, reading at most `SCAN_ROUNDS`
    index pages; and the member to continue after (None: no more). A caller whose jobs are
    few among many gets a short page (even an empty one) with a cursor: follow it."""
    found: list[index.Entry] = []
    for _ in range(SCAN_ROUNDS):
        batch, more = await index.page_entries(
            redis, statuses=statuses, function=function, after=after, limit=limit
        )
        for i, entry in enumerate(batch):
            if visible(entry.job_id):
                found.append(entry)
                if len(found) == limit:
                    return found, entry.member if more or i < len(batch) - 1 else None
        if not more or not batch:
            return found, None
        after = batch[-1].member
    return found, after


async def _records(
    redis: ArqRedis, entries: list[index.Entry]
) -> AsyncGenerator[tuple[index.Entry, StoredJob], None]:
    """Each entry's record and raw result, read `RECORDS_PER_READ` at a time."""
    for start in range(0, len(entries), RECORDS_PER_READ):
        chunk = entries[start : start + RECORDS_PER_READ]
        records = await read_records(redis, [entry.job_id for entry in chunk])
        for entry, stored in zip(chunk, records, strict=True):
            yield entry, stored


def _view(job_id: str, stored: StoredJob, *, bounded: bool) -> JobView:
    return with_wrong_types(_bounded_view(job_id, stored, bounded=bounded), stored.wrong_type)


def _bounded_view(job_id: str, stored: StoredJob, *, bounded: bool) -> JobView:
    record, raw_result = stored.record, stored.result
    if not bounded:
        return view_from_record(job_id, record, result=finished_value(raw_result))
    # Large args are elided before they are parsed: a page of 1 MB args never decodes them.
    args_bytes = len(record.get("args", "").encode())
    if args_bytes > LISTED_VALUE_MAX_BYTES:
        record = {**record, "args": orjson.dumps(_marker(job_id, args_bytes)).decode()}
    view = view_from_record(job_id, record, result=finished_value(raw_result))
    elided: list[Literal["args", "result", "error"]] = (
        ["args"] if args_bytes > LISTED_VALUE_MAX_BYTES else []
    )
    if view.result is not None:
        result_bytes = len(orjson.dumps(view.result))
        if result_bytes > LISTED_VALUE_MAX_BYTES:
            view.result = _marker(job_id, result_bytes)
            elided.append("result")
    if view.error is not None:
        error_bytes = len(view.error.model_dump_json())
        if error_bytes > LISTED_VALUE_MAX_BYTES:
            view.error = _error_preview(job_id, view.error, error_bytes)
            elided.append("error")
    view.elided = elided or None
    return view


def relinked(view: JobView, old_id: str) -> JobView:
    """A listed view whose `job_id` was changed from `old_id` (the caller's id for a stored
    one), with its elided values' links pointing at the new id."""
    if not view.elided:
        return view
    old, new = _href(old_id), _href(view.job_id)
    for field in ("args", "result"):
        value = getattr(view, field)
        if field in view.elided and isinstance(value, dict) and value.get("href") == old:
            setattr(view, field, {**value, "href": new})
    if "error" in view.elided and view.error is not None:
        view.error = JobError(type=view.error.type, message=view.error.message.replace(old, new))
    return view


def _href(job_id: str) -> str:
    return JOB_HREF.format(quote(job_id, safe=""))


def _marker(job_id: str, size: int) -> dict[str, Any]:
    return {"elided": True, "bytes": size, "href": JOB_HREF.format(quote(job_id, safe=""))}


def _error_preview(job_id: str, error: JobError, size: int) -> JobError:
    href = JOB_HREF.format(quote(job_id, safe=""))
    return JobError(
        type=error.type[:ERROR_PREVIEW_CHARS],
        message=f"{error.message[:ERROR_PREVIEW_CHARS]}… [elided: {size} bytes; {href}]",
    )


async def newest_first(
    redis: ArqRedis,
    *,
    status: JobStatus | None,
    function: str | None,
    visible: Callable[[str], bool] | None = None,
) -> AsyncGenerator[JobView, None]:
    """Every job with `status` and `function`, newest first, a page at a time (whole: these
    views are re-run); but those whose data is corrupt (what they ran is not known for sure)."""
    cursor: str | None = None
    while True:
        page = await read_page(
            redis,
            status=status,
            function=function,
            limit=100,
            cursor=cursor,
            bounded=False,
            visible=visible,
        )
        for job in page.jobs:
            if not is_corrupt(job):
                yield job
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
