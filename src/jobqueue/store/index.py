"""The history's index: per filter, a lex-ordered sorted set of `{inverted ms}:{job id}` (see
`keys`), so that a page is one ZRANGE BYLEX from the cursor, the same cost with 100 or 100,000
jobs. Its entries are written by the enqueue and transition scripts."""

from arq.connections import ArqRedis

from jobqueue.store import keys


async def page_members(
    redis: ArqRedis, *, status: str | None, function: str | None, after: str | None, limit: int
) -> list[tuple[str, str]]:
    """Up to `limit` (member, job id) after the member `after` (from the start when None)."""
    start = f"({after}" if after else "-"
    members: list[bytes] = await redis.zrangebylex(
        keys.index(status=status, function=function), start, "+", start=0, num=limit
    )
    return [(m.decode(), keys.member_job_id(m.decode())) for m in members]


async def remove_members(
    redis: ArqRedis, members: list[str], *, status: str | None, function: str | None
) -> None:
    """Tidy entries whose records have expired, found while reading a page."""
    if members:
        await redis.zrem(keys.index(status=status, function=function), *members)


def is_member(text: str) -> bool:
    """Whether `text` has the shape of an index member (cursors carry one)."""
    return keys.is_index_member(text)


async def prune_older_than(redis: ArqRedis, oldest_kept_ms: int, statuses: list[str]) -> int:
    """Drop every index entry enqueued before `oldest_kept_ms` (its record has expired)."""
    oldest_kept = keys.index_member(oldest_kept_ms, "")
    functions: set[bytes] = await redis.smembers(keys.INDEXED_FUNCTIONS)  # type: ignore[misc]
    index_keys = keys.all_indexes(sorted(f.decode() for f in functions), statuses)
    async with redis.pipeline(transaction=False) as pipe:
        for key in index_keys:
            pipe.zremrangebylex(key, f"({oldest_kept}", "+")
        pruned: list[int] = await pipe.execute()
    return sum(pruned)
