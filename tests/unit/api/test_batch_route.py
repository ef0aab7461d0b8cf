"""POST /v1/jobs/batch: one round trip, per-item results exactly as POST /v1/jobs would give."""

from typing import Any

import httpx
import pytest

from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis


@pytest.fixture
def settings() -> Settings:
    """The default body limit (1 MiB): a thousand jobs must fit."""
    return Settings(redis_url="redis://fake:6379/0", log_format="console", auth="off")


async def batch(client: httpx.AsyncClient, jobs: list[dict[str, Any]]) -> dict[str, Any]:
    response = await client.post("/v1/jobs/batch", json={"jobs": jobs})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_every_valid_job_is_enqueued_in_order(
    client: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    body = await batch(
        client, [{"function": "echo", "args": {"message": f"m{i}"}} for i in range(5)]
    )
    assert (body["created"], body["existing"], body["failed"]) == (5, 0, 0)
    assert [r["job"]["args"]["message"] for r in body["results"]] == [f"m{i}" for i in range(5)]
    assert all(r["status_code"] == 202 and r["job"]["status"] == "queued" for r in body["results"])
    assert await redis.zcard("arq:queue") == 5


async def test_each_item_gets_the_result_a_single_enqueue_would(
    client: httpx.AsyncClient,
) -> None:
    await client.post(
        "/v1/jobs", json={"function": "echo", "args": {"message": "a"}, "job_id": "x1"}
    )
    body = await batch(
        client,
        [
            {"function": "echo", "args": {"message": "a"}, "job_id": "x1"},  # same job: 200
            {"function": "echo", "args": {"message": "b"}, "job_id": "x1"},  # clash: 409
            {"function": "nope"},  # unknown function: 422
            {"function": "sleep", "args": {"seconds": -1}},  # bad args: 422
            {"function": "echo", "args": {"message": "c"}, "job_id": "y1"},  # new: 202
            {"function": "echo", "args": {"message": "c"}, "job_id": "y1"},  # same, in this batch
        ],
    )
    assert [r["status_code"] for r in body["results"]] == [200, 409, 422, 422, 202, 200]
    assert (body["created"], body["existing"], body["failed"]) == (1, 2, 3)
    assert body["results"][2]["detail"][0]["loc"] == ["body", "jobs", 2, "function"]
    assert body["results"][3]["detail"][0]["loc"] == ["body", "jobs", 3, "args", "seconds"]
    assert "x1" in body["results"][1]["detail"]
    assert body["results"][5]["job"]["job_id"] == "y1"


@pytest.mark.parametrize("jobs", [[], [{"function": "echo"}] * 1001, "not a list"])
async def test_an_empty_oversized_or_malformed_batch_is_a_422(
    client: httpx.AsyncClient, jobs: Any
) -> None:
    response = await client.post("/v1/jobs/batch", json={"jobs": jobs})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", "jobs"]


async def test_a_thousand_jobs_fit_in_one_batch(client: httpx.AsyncClient) -> None:
    jobs = [{"function": "echo", "args": {"message": str(i)}} for i in range(1000)]
    response = await client.post("/v1/jobs/batch", json={"jobs": jobs}, timeout=60)
    assert response.status_code == 200
    assert response.json()["created"] == 1000
