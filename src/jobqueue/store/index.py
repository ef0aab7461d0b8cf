"""The history's index: per stored status, and per function and stored status, a lex-ordered
sorted set of `{inverted ms}:{job id}` (see `keys`). A job is in two of them. A page is one
ZRANGE BYLEX from the cursor per index read (one with both filters; one per status, merged,
without a status): the same cost with 100 or 100,000 jobs. Entries are written by the enqueue
and transition scripts; a member not of that shape, or an index key of the wrong type, is
skipped when read (logged)."""

from collections.abc import Sequence
from dataclasses import dataclass

from arq.connections import ArqRedis

from jobqueue.store import keys, malformed


@dataclass(frozen=True)
class Entry:
    member: str  # the cursor for the next page, when it is the page's last
    job_id: str
    index: str  # the index it was read from (to tidy it)


async def page_entries(
    redis: ArqRedis,
    *,
    statuses: Sequence[str],
    function: str | None,
    after: str | None,
    limit: int,
) -> tuple[list[Entry], bool]:
    """Up to `limit` entries after the member `after` (from the newest when None), newest
    first, from the indexes of `statuses` (and `function`); and whether more follow."""
    index_keys = [keys.index(status=status, function=function) for status in statuses]
    start = f"({after}" if after else "-"
    async with redis.pipeline(transaction=False) as pipe:
        for key in index_keys:
            pipe.zrangebylex(key, start, "+", start=0, num=limit + 1)  # +1: whether more follow
        read = await malformed.replies(pipe, index_keys)
    found = sorted(
        (member, key)
        for key, members in zip(index_keys, read, strict=True)
        if isinstance(members, list)
        for member in map(malformed.text, members)
        if _well_formed(key, member)
    )
    more = len(found) > limit
    page = [Entry(member, keys.member_job_id(member), key) for member, key in found[:limit]]
    return page, more


def _well_formed(key: str, member: str) -> bool:
    if keys.is_index_member(member):
        return True
    malformed.warn(key, "not an index member")
    return False


async def remove_entries(redis: ArqRedis, entries: list[Entry]) -> None:
    """Tidy entries whose records have expired, found while reading a page."""
    if entries:
        async with redis.pipeline(transaction=False) as pipe:
            for entry in entries:
                pipe.zrem(entry.index, entry.member)
            await pipe.execute()


def is_member(text: str) -> bool:
    """Whether `text` has the shape of an index member (cursors carry one)."""
    return keys.is_index_member(text)


async def prune_older_than(redis: ArqRedis, oldest_kept_ms: int, statuses: list[str]) -> int:
    """Drop every index entry enqueued before `oldest_kept_ms` (its record has expired)."""
    oldest_kept = keys.index_member(oldest_kept_ms, "")
    index_keys = keys.all_indexes(await _indexed_functions(redis), statuses)
    async with redis.pipeline(transaction=False) as pipe:
        for key in index_keys:
            pipe.zremrangebylex(key, f"({oldest_kept}", "+")
        pruned = await malformed.replies(pipe, index_keys)
    return sum(n for n in pruned if isinstance(n, int))


async def _indexed_functions(redis: ArqRedis) -> list[str]:
    """The functions that have index keys (none if the set is of the wrong type: logged)."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.smembers(keys.INDEXED_FUNCTIONS)
        [functions] = await malformed.replies(pipe, [keys.INDEXED_FUNCTIONS])
    return sorted(map(malformed.text, functions)) if isinstance(functions, set) else []


async def drop_superseded(redis: ArqRedis) -> int:
    """Delete the indexes earlier versions kept (all jobs; per function without a status),
    which nothing reads or trims any more; how many existed. Can go once no deployment has
    them (after a release and the history retention)."""
    superseded = [f"{keys.INDEX_PREFIX}all"]
    superseded += [f"{keys.INDEX_PREFIX}function:{f}" for f in await _indexed_functions(redis)]
    dropped: int = await redis.unlink(*superseded)  # (freed off Redis's main thread)
    return dropped


async def trim_to_count(redis: ArqRedis, statuses: Sequence[str], keep: int, batch: int) -> int:
    """Forget the oldest jobs in `statuses` (the finished ones) beyond the newest `keep`: their
    records and index entries, up to `batch` of them; how many were forgotten."""
    index_keys = [keys.index(status=status) for status in statuses]
    async with redis.pipeline(transaction=False) as pipe:
        for key in index_keys:
            pipe.zcard(key)
        total = sum(n for n in await malformed.replies(pipe, index_keys) if isinstance(n, int))
    excess = min(total - keep, batch)
    if excess <= 0:
        return 0
    async with redis.pipeline(transaction=False) as pipe:
        for key in index_keys:
            pipe.zrange(key, -excess, -1)  # (equal scores: the lexically last are the oldest)
        tails = await malformed.replies(pipe, index_keys)
    oldest = sorted(
        (
            (member, status)
            for status, key, tail in zip(statuses, index_keys, tails, strict=True)
            if isinstance(tail, list)
            for member in map(malformed.text, tail)
            if _well_formed(key, member)
        ),
        reverse=True,
    )[:excess]
    job_ids = [keys.member_job_id(member) for member, _ in oldest]
    records = [keys.record(job_id) for job_id in job_ids]
    async with redis.pipeline(transaction=False) as pipe:
        for record in records:
            pipe.hget(record, "function")
        functions = await malformed.replies(pipe, records)
    async with redis.pipeline(transaction=False) as pipe:
        for (member, status), job_id, function in zip(oldest, job_ids, functions, strict=True):
            pipe.zrem(keys.index(status=status), member)
            if isinstance(function, bytes) and function:
                pipe.zrem(keys.index(status=status, function=malformed.text(function)), member)
            pipe.unlink(keys.record(job_id), keys.job_events(job_id))
        await pipe.execute(raise_on_error=False)  # (an index of the wrong type fails alone)
    return len(job_ids)
