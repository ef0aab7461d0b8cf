"""The cron maintenance jobs, scheduled every second in the test stack, doing their work."""

import json
import time
import uuid
from datetime import datetime
from typing import Any, cast

import httpx
import redis

from tests.helpers import eventually
from tests.helpers.api import enqueue
from tests.helpers.services import Stack

HISTORY_KEY = "jobqueue:stats:arq:queue"


def history(client: redis.Redis) -> list[dict[str, Any]]:
    """The recorded queue snapshots, newest first."""
    raw = cast(list[bytes], client.lrange(HISTORY_KEY, 0, -1))
    return [json.loads(item) for item in raw]


async def test_queue_stats_snapshots_are_recorded_as_a_bounded_series(
    redis_client: redis.Redis,
) -> None:
    start = len(history(redis_client))
    await eventually(lambda: len(history(redis_client)) >= start + 2, what="two new snapshots")
    newest = history(redis_client)[0]
    assert set(newest) == {
        "queue",
        "taken_at",
        "queued",
        "deferred",
        "in_progress",
        "oldest_waiting_age_s",
    }
    assert newest["queue"] == "arq:queue"


async def test_queue_stats_counts_deferred_jobs(
    api: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    job = await enqueue(api, "echo", args={"message": "x"}, defer_by=3600)
    enqueued = datetime.fromisoformat(job["enqueue_time"])

    def snapshot_after_enqueue() -> dict[str, object] | None:
        newest = history(redis_client)[0]
        return newest if datetime.fromisoformat(newest["taken_at"]) > enqueued else None

    snapshot = await eventually(snapshot_after_enqueue, what="a snapshot after the enqueue")
    assert isinstance(snapshot["deferred"], int)
    assert snapshot["deferred"] >= 1
    await api.delete(f"/v1/jobs/{job['job_id']}")


async def test_sweep_removes_arq_leftovers_and_keeps_live_jobs(
    api: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    now_ms = time.time() * 1000
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"  # abort requested for a job that no longer exists
    expired = f"expired-{uuid.uuid4().hex[:8]}"  # queue entry whose job data expired
    redis_client.zadd("arq:abort", {ghost: now_ms - 120_000})
    redis_client.zadd("arq:queue", {expired: now_ms + 3_600_000})
    live = await enqueue(api, "echo", args={"message": "keep"}, defer_by=3600)
    redis_client.zadd("arq:abort", {live["job_id"]: now_ms - 120_000})

    await eventually(
        lambda: (
            redis_client.zscore("arq:abort", ghost) is None
            and redis_client.zscore("arq:queue", expired) is None
        ),
        what="the sweep to remove both leftovers",
    )
    assert redis_client.zscore("arq:queue", live["job_id"]) is not None
    assert redis_client.zscore("arq:abort", live["job_id"]) is not None
    assert (await api.get(f"/v1/jobs/{live['job_id']}")).json()["status"] == "deferred"
    redis_client.zrem("arq:abort", live["job_id"])
    await api.delete(f"/v1/jobs/{live['job_id']}")


async def test_sweep_logs_a_structured_summary(stack: Stack) -> None:
    lines = await eventually(
        lambda: [
            json.loads(line)
            for line in stack.worker.log_text().splitlines()
            if '"maintenance.sweep"' in line
        ],
        what="a sweep summary line",
    )
    assert {"stale_aborts_removed", "expired_entries_removed"} <= set(lines[-1])


async def test_a_scheduled_runs_id_cannot_be_taken_first_so_the_run_still_happens(
    api: httpx.AsyncClient,
) -> None:
    # arq names a run `<cron name>:<slot in ms>`, and its slots end in 123 ms; it skips a slot
    # whose id is already taken. Here the stack runs queue_stats every second.
    slot_ms = (int(time.time()) + 3) * 1000 + 123
    job_id = f"cron:queue_stats:{slot_ms}"
    squat = {"function": "echo", "args": {"message": "squat"}, "job_id": job_id}
    refused = await api.post("/v1/jobs", json=squat)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["type"] == "job_id_reserved"

    async def ran() -> dict[str, Any] | None:
        response = await api.get(f"/v1/jobs/{job_id}")
        view: dict[str, Any] = response.json()
        return view if response.status_code == 200 and view["status"] == "succeeded" else None

    view = await eventually(ran, timeout=15, interval=0.2, what="the scheduled run at its slot")
    assert view["function"] == "cron:queue_stats"
