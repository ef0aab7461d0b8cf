"""The workers as operators see them (fakeredis): a heartbeat not as a worker writes it is left
out, logged by key and field."""

import time

import pytest
from structlog.testing import capture_logs

from jobqueue.ops.workers import list_workers
from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis


def heartbeat(**fields: str) -> dict[str, str]:
    now = str(time.time())
    return {
        "worker_id": "w",
        "host": "h",
        "pid": "1",
        "queue": "arq:queue",
        "started_at": now,
        "last_seen": now,
        "stopped": "0",
        "running": "0",
        "completed": "2",
        "failed": "0",
        "retried": "0",
        **fields,
    }


async def beat(redis: TrackedRedis, worker_id: str, fields: dict[str, str]) -> None:
    await redis.hset(keys.worker(worker_id), mapping=fields)  # type: ignore[misc]
    await redis.zadd(keys.WORKERS, {worker_id: time.time()})


MALFORMED_BEATS = [
    ("pid-not-an-integer", "pid", "x"),
    ("a-count-not-an-integer", "completed", "2.5"),
    ("last_seen-not-a-time", "last_seen", "yesterday"),
    ("last_seen-nan", "last_seen", "nan"),
    ("started_at-past-any-date", "started_at", "1e20"),
    ("host-missing", "host", ""),
    ("held-not-an-integer", "held", "x"),
]


@pytest.mark.parametrize(
    ("field", "value"), [c[1:] for c in MALFORMED_BEATS], ids=[c[0] for c in MALFORMED_BEATS]
)
async def test_a_malformed_heartbeat_is_left_out(
    redis: TrackedRedis, settings: Settings, field: str, value: str
) -> None:
    await beat(redis, "good", heartbeat(worker_id="good"))
    await beat(redis, "bad", heartbeat(worker_id="bad", **{field: value}))
    with capture_logs() as logs:
        workers = await list_workers(redis, settings)
    assert [w.worker_id for w in workers] == ["good"]
    [line] = logs
    assert (line["key"], line["field"]) == (keys.worker("bad"), field)


async def test_a_heartbeat_of_the_wrong_type_is_left_out(
    redis: TrackedRedis, settings: Settings
) -> None:
    await beat(redis, "good", heartbeat(worker_id="good"))
    await redis.set(keys.worker("bad"), "planted")
    await redis.zadd(keys.WORKERS, {"bad": time.time()})
    assert [w.worker_id for w in await list_workers(redis, settings)] == ["good"]


async def test_a_worker_set_of_the_wrong_type_lists_none(
    redis: TrackedRedis, settings: Settings
) -> None:
    await redis.set(keys.WORKERS, "planted")
    assert await list_workers(redis, settings) == []


async def test_a_heartbeat_of_an_older_worker_without_held_reads_as_none_held(
    redis: TrackedRedis, settings: Settings
) -> None:
    await beat(redis, "old", heartbeat(worker_id="old"))
    await beat(redis, "new", heartbeat(worker_id="new", held="4"))
    workers = {w.worker_id: w.held for w in await list_workers(redis, settings)}
    assert workers == {"old": 0, "new": 4}
