"""The enqueue at its bounds on a real Redis: the longest deferral and expiry a client may ask
for stay in range all the way down (epoch milliseconds, PSETEX/PEXPIRE in enqueue.lua, the
view's datetimes), and the job's data lives as long as asked."""

from datetime import UTC, datetime, timedelta
from typing import cast

import httpx
import redis

from jobqueue.api.schemas import MAX_DEFERRAL_SECONDS
from jobqueue.store import keys
from tests.helpers.api import enqueue, new_id

LIMIT_MS = MAX_DEFERRAL_SECONDS * 1000


def pttl(client: redis.Redis, key: str) -> int:
    return cast(int, client.pttl(key))  # (redis-py types sync and async replies as one)


async def test_the_longest_deferral_and_expiry_are_stored(
    api: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    job_id = new_id("bounds")
    job = await enqueue(
        api,
        "echo",
        args={"message": "later"},
        job_id=job_id,
        defer_by=MAX_DEFERRAL_SECONDS - 60,  # (expires must outlast it)
        expires=MAX_DEFERRAL_SECONDS,
    )
    assert job["status"] == "deferred"
    ttl_ms = pttl(redis_client, keys.job(job_id))
    assert LIMIT_MS - 60_000 < ttl_ms <= LIMIT_MS
    due_ms = cast(float | None, redis_client.zscore("arq:queue", job_id))
    assert due_ms is not None
    assert abs(due_ms / 1000 - datetime.now(UTC).timestamp() - MAX_DEFERRAL_SECONDS + 60) < 60


async def test_a_defer_until_at_the_limit_keeps_the_job_past_it(
    api: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    """Without `expires`, the data lives until the due time plus arq's margin."""
    job_id = new_id("bounds")
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=MAX_DEFERRAL_SECONDS - 60)
    job = await enqueue(
        api, "echo", args={"message": "later"}, job_id=job_id, defer_until=when.isoformat()
    )
    assert job["scheduled_for"] == when.isoformat().replace("+00:00", "Z")
    assert pttl(redis_client, keys.job(job_id)) > LIMIT_MS - 120_000
    response = await api.get(f"/v1/jobs/{job_id}")
    assert response.json()["scheduled_for"] == job["scheduled_for"]
