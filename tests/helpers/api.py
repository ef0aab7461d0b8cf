"""The HTTP calls most integration tests make against the real API."""

import uuid
from typing import Any

import httpx

from tests.helpers import eventually


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def enqueue(api: httpx.AsyncClient, function: str, **body: Any) -> dict[str, Any]:
    response = await api.post("/v1/jobs", json={"function": function, **body})
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job


async def outcome(api: httpx.AsyncClient, job_id: str, timeout: float = 15) -> dict[str, Any]:
    """The job's view once finished (long-polls the result route)."""
    response = await api.get(f"/v1/jobs/{job_id}/result", params={"timeout": timeout})
    assert response.status_code == 200, f"not finished in {timeout}s: {response.text}"
    job: dict[str, Any] = response.json()
    return job


async def wait_for_status(
    api: httpx.AsyncClient, job_id: str, status: str, timeout: float = 10
) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        job: dict[str, Any] = (await api.get(f"/v1/jobs/{job_id}")).json()
        return job if job["status"] == status else None

    return await eventually(reached, timeout=timeout, what=f"job {job_id} to be {status}")
