"""Reading the history's index (fakeredis): a member not of its shape, or an index of the wrong
type, is skipped (logged); the maintenance that trims it goes on."""

from structlog.testing import capture_logs

from jobqueue.store import index, keys
from jobqueue.store.client import TrackedRedis


async def test_a_malformed_member_is_skipped(redis: TrackedRedis) -> None:
    good = keys.index_member(1_790_000_000_000, "j")
    await redis.zadd(keys.index(status="failed"), {good.encode(): 0, b"!planted": 0, b"\xff": 0})
    with capture_logs() as logs:
        entries, more = await index.page_entries(
            redis, statuses=["failed"], function=None, after=None, limit=10
        )
    assert ([e.job_id for e in entries], more) == (["j"], False)
    assert [line["problem"] for line in logs] == ["not an index member"] * 2


async def test_an_index_of_the_wrong_type_reads_as_empty(redis: TrackedRedis) -> None:
    good = keys.index_member(1_790_000_000_000, "j")
    await redis.zadd(keys.index(status="failed"), {good: 0})
    await redis.set(keys.index(status="aborted"), "planted")
    entries, _ = await index.page_entries(
        redis, statuses=["failed", "aborted"], function=None, after=None, limit=10
    )
    assert [e.job_id for e in entries] == ["j"]


async def test_the_trims_go_on_past_keys_of_the_wrong_type(redis: TrackedRedis) -> None:
    await redis.set(keys.INDEXED_FUNCTIONS, "planted")
    await redis.set(keys.index(status="aborted"), "planted")
    await redis.zadd(keys.index(status="failed"), {keys.index_member(1, "old"): 0, "!junk": 0})
    assert await index.prune_older_than(redis, 2, ["failed", "aborted"]) == 1
    assert await index.drop_superseded(redis) == 0
    assert await index.trim_to_count(redis, ["failed", "aborted"], keep=0, batch=10) == 0
