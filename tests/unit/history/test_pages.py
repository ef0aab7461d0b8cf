"""List pages are bounded: large values are elided with a marker, a page stops at its byte
budget and its cursor continues exactly; a job read alone, and a re-run, keep everything."""

import json
from collections.abc import Mapping

import httpx
import orjson
import pytest

from jobqueue.history.pages import PAGE_BUDGET_BYTES, newest_first, read_page
from jobqueue.history.view import LISTED_VALUE_MAX_BYTES
from jobqueue.history.vocabulary import JobStatus
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from tests.helpers.redis_data import plant_result

BASE_MS = 1_790_000_000_000
BIG = "x" * (LISTED_VALUE_MAX_BYTES + 1)


async def add_job(
    redis: TrackedRedis,
    n: int,
    *,
    args: Mapping[str, object],
    status: str = "succeeded",
    error: dict[str, str] | None = None,
) -> str:
    """A finished echo job's record and index entries, as the service writes them."""
    job_id = f"job-{n:06d}"
    record = {
        "function": "echo",
        "args": json.dumps(args),
        "status": status,
        "enqueue_ms": str(BASE_MS + n),
        "tries": "1",
    }
    if error is not None:
        record["error"] = json.dumps(error)
    await redis.hset(keys.record(job_id), mapping=record)  # type: ignore[misc]
    member = keys.index_member(BASE_MS + n, job_id)
    for index in (keys.index(status=status), keys.index(status=status, function="echo")):
        await redis.zadd(index, {member: 0})
    return job_id


async def only_job(redis: TrackedRedis) -> dict[str, object]:
    page = await read_page(redis, status=None, function=None, limit=10, cursor=None)
    (view,) = page.jobs
    listed: dict[str, object] = view.model_dump(mode="json")
    return listed


async def test_large_args_are_elided_in_a_list_page(redis: TrackedRedis) -> None:
    await add_job(redis, 1, args={"message": BIG})
    size = len(json.dumps({"message": BIG}))
    view = await only_job(redis)
    assert view["args"] == {"elided": True, "bytes": size, "href": "/v1/jobs/job-000001"}
    assert view["elided"] == ["args"]


async def test_values_up_to_the_limit_are_listed_whole(redis: TrackedRedis) -> None:
    message = "x" * (LISTED_VALUE_MAX_BYTES - len('{"message": ""}'))
    await add_job(redis, 1, args={"message": message})
    view = await only_job(redis)
    assert view["args"] == {"message": message}
    assert view["elided"] is None


async def test_a_large_result_is_elided(redis: TrackedRedis) -> None:
    job_id = await add_job(redis, 1, args={"message": "hi"})
    await plant_result(redis, job_id, success=True, result={"message": BIG})
    view = await only_job(redis)
    assert view["result"] == {
        "elided": True,
        "bytes": len(orjson.dumps({"message": BIG})),
        "href": f"/v1/jobs/{job_id}",
    }
    assert view["args"] == {"message": "hi"}
    assert view["elided"] == ["result"]


async def test_a_large_error_keeps_its_type_and_the_start_of_its_message(
    redis: TrackedRedis,
) -> None:
    await add_job(
        redis, 1, args={}, status="failed", error={"type": "ValueError", "message": "bad " + BIG}
    )
    view = await only_job(redis)
    error = view["error"]
    assert isinstance(error, dict)
    assert error["type"] == "ValueError"
    assert error["message"].startswith("bad xxx")
    assert error["message"].endswith("bytes; /v1/jobs/job-000001]")
    assert len(error["message"]) < 2048
    assert view["elided"] == ["error"]


async def test_a_marker_is_told_from_args_that_look_like_one(redis: TrackedRedis) -> None:
    lookalike = {"elided": True, "bytes": 5, "href": "/v1/jobs/x"}
    await add_job(redis, 1, args=lookalike)
    view = await only_job(redis)
    assert view["args"] == lookalike
    assert view["elided"] is None  # the job's own value, not a marker


async def test_get_job_keeps_the_whole_args(client: httpx.AsyncClient, redis: TrackedRedis) -> None:
    job_id = await add_job(redis, 1, args={"message": BIG})
    listed = (await client.get("/v1/jobs")).json()["jobs"][0]
    assert listed["elided"] == ["args"]
    whole = (await client.get(f"/v1/jobs/{job_id}")).json()
    assert whole["args"] == {"message": BIG}
    assert whole["elided"] is None


async def test_a_bulk_rerun_reads_the_whole_args(redis: TrackedRedis) -> None:
    await add_job(redis, 1, args={"message": BIG}, status="failed")
    jobs = [job async for job in newest_first(redis, status=None, function=None)]
    assert [job.args for job in jobs] == [{"message": BIG}]


ARGS_UNDER_THE_LIMIT = {"message": "y" * (LISTED_VALUE_MAX_BYTES - 100)}


async def test_a_page_stops_at_its_byte_budget(redis: TrackedRedis) -> None:
    for n in range(150):
        await add_job(redis, n, args=ARGS_UNDER_THE_LIMIT)
    page = await read_page(redis, status=None, function=None, limit=500, cursor=None)
    size = sum(len(job.model_dump_json()) for job in page.jobs)
    assert len(page.jobs) < 150
    assert PAGE_BUDGET_BYTES <= size < PAGE_BUDGET_BYTES + 2 * LISTED_VALUE_MAX_BYTES
    assert page.next_cursor is not None


@pytest.mark.parametrize("status", [None, JobStatus.succeeded])
async def test_cursors_of_budget_cut_pages_skip_and_repeat_no_job(
    redis: TrackedRedis, status: JobStatus | None
) -> None:
    expected = [await add_job(redis, n, args=ARGS_UNDER_THE_LIMIT) for n in range(150)][::-1]
    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        page = await read_page(redis, status=status, function=None, limit=500, cursor=cursor)
        seen += [job.job_id for job in page.jobs]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected  # newest first, each once
    assert pages == 3


async def test_a_page_of_huge_args_is_small(client: httpx.AsyncClient, redis: TrackedRedis) -> None:
    huge = {"message": "z" * 1_000_000}
    for n in range(20):
        await add_job(redis, n, args=huge)
    response = await client.get("/v1/jobs", params={"limit": 500})
    assert response.status_code == 200
    assert len(response.json()["jobs"]) == 20
    assert len(response.content) < 20 * 1024  # was 20 MB
