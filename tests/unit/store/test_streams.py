"""Reading the event streams back (fakeredis): only well-formed entries, skipped ones logged,
and a read never stops at a malformed entry."""

import orjson
import pytest
from structlog.testing import capture_logs

from jobqueue.store import keys, streams
from jobqueue.store.client import TrackedRedis

GOOD = {"type": "enqueued", "job_id": "j", "function": "echo", "data": '{"at": 1}'}
# (case, the entry's fields): each is skipped
MALFORMED_ENTRIES = [
    ("without-type", {"job_id": "j", "data": "{}"}),
    ("without-job_id", {"type": "enqueued", "data": "{}"}),
    ("type-empty", {"type": "", "job_id": "j", "data": "{}"}),
    ("data-not-json", {"type": "enqueued", "job_id": "j", "data": "{"}),
    ("data-not-an-object", {"type": "enqueued", "job_id": "j", "data": "[1]"}),
    ("data-not-utf8", {"type": "enqueued", "job_id": "j", "data": b"\xff"}),
]
IDS = [c[0] for c in MALFORMED_ENTRIES]


@pytest.mark.parametrize("fields", [c[1] for c in MALFORMED_ENTRIES], ids=IDS)
async def test_a_malformed_entry_is_skipped_by_a_range_read(
    redis: TrackedRedis, fields: dict[str, str]
) -> None:
    await redis.xadd(keys.EVENTS, GOOD)  # type: ignore[arg-type]
    await redis.xadd(keys.EVENTS, fields)  # type: ignore[arg-type]
    await redis.xadd(keys.EVENTS, GOOD)  # type: ignore[arg-type]
    with capture_logs() as logs:
        entries = await streams.read_range(redis, keys.EVENTS, None)
    assert [e.type for e in entries] == ["enqueued", "enqueued"]
    [line] = logs
    assert (line["event"], line["key"]) == ("store.malformed_data", keys.EVENTS)


@pytest.mark.parametrize("fields", [c[1] for c in MALFORMED_ENTRIES], ids=IDS)
async def test_the_live_read_goes_on_past_malformed_entries(
    redis: TrackedRedis, fields: dict[str, str]
) -> None:
    start = await redis.xadd(keys.EVENTS, GOOD)  # type: ignore[arg-type]
    for _ in range(3):  # a whole batch of them
        bad = await redis.xadd(keys.EVENTS, fields)  # type: ignore[arg-type]
    last = await redis.xadd(keys.EVENTS, GOOD)  # type: ignore[arg-type]
    after, entries = await streams.read_new(redis, start.decode(), block_ms=10, count=3)
    assert (after, entries) == (bad.decode(), [])  # (read past them, none shown)
    after, entries = await streams.read_new(redis, after, block_ms=10, count=3)
    assert [e.id for e in entries] == [last.decode()]


@pytest.mark.parametrize("fields", [c[1] for c in MALFORMED_ENTRIES], ids=IDS)
async def test_a_paged_read_goes_on_past_a_page_of_malformed_entries(
    redis: TrackedRedis, fields: dict[str, str]
) -> None:
    for _ in range(3):
        await redis.xadd(keys.EVENTS, fields)  # type: ignore[arg-type]
    last = await redis.xadd(keys.EVENTS, GOOD)  # type: ignore[arg-type]
    entries = await streams.read_range(redis, keys.EVENTS, None, count=2)
    assert [e.id for e in entries] == [last.decode()]


async def test_a_malformed_kept_event_is_skipped(redis: TrackedRedis) -> None:
    await redis.hset(  # type: ignore[misc]
        keys.record("j"),
        mapping={
            "function": "echo",
            "e:5-0": orjson.dumps(["enqueued", {"at": 5}]),
            "e:6-0": "{",  # not JSON
            "e:7-0": '["started"]',  # not [type, data]
            "e:7-1": "[1, {}]",  # its type not a string
            "e:later": '["started", {}]',  # not a stream id
            "e:9-0": orjson.dumps(["succeeded", {"at": 9}]),
        },
    )
    with capture_logs() as logs:
        entries = await streams.read_job_history(redis, "j", None)
    assert [(e.id, e.type) for e in entries] == [("5-0", "enqueued"), ("9-0", "succeeded")]
    assert sorted(line["field"] for line in logs) == ["e:6-0", "e:7-0", "e:7-1", "e:later"]


async def test_a_record_of_the_wrong_type_has_no_kept_events(redis: TrackedRedis) -> None:
    await redis.set(keys.record("j"), "planted")
    assert await streams.read_job_history(redis, "j", None) == []
