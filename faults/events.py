"""A job's event types, read from its Server-Sent Events stream (`GET /v1/jobs/{id}/events`),
which ends once the job has finished."""

import asyncio
from collections import Counter

import httpx


async def event_types(api: httpx.AsyncClient, job_id: str, within_s: float = 10.0) -> list[str]:
    types: list[str] = []

    async def read() -> None:
        async with api.stream("GET", f"/v1/jobs/{job_id}/events") as response:
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    types.append(line.removeprefix("event:").strip())

    try:
        await asyncio.wait_for(read(), within_s)
    except (TimeoutError, httpx.HTTPError):
        types.append("(stream did not end)")
    return types


async def count_events(
    api: httpx.AsyncClient, job_ids: list[str], concurrency: int = 16
) -> dict[str, Counter[str]]:
    """Each job's event types, counted."""
    limit = asyncio.Semaphore(concurrency)

    async def one(job_id: str) -> tuple[str, Counter[str]]:
        async with limit:
            return job_id, Counter(await event_types(api, job_id))

    return dict(await asyncio.gather(*(one(job_id) for job_id in job_ids)))
