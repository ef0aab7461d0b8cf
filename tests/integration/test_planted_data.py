"""Malformed data planted in every key the service reads, against a real Redis, API and worker:
a job whose data is malformed is shown (200) with a `CorruptJobData` error naming the field; a
malformed item of a list, a feed or an operator view is skipped; one bad event never ends a
feed; a key of the wrong type never kills the worker, which logs it once and keeps running
good jobs (or runs them again once the key is fixed). No 5xx anywhere; no planted value in a
response or a log line. Its own Redis, API and worker (it plants keys every job shares)."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
import redis

from jobqueue.store import keys
from tests.helpers import eventually
from tests.helpers.api import enqueue, new_id, outcome, wait_for_status
from tests.helpers.redis_data import plant_record, plant_stream_entry, plant_wrong_type
from tests.helpers.services import RedisServer, ServiceProcess, service_env, start_api, start_worker
from tests.helpers.sse import read_sse

MARKER = "s3cret"  # in every planted value that can hold it: never shown, never logged
QUEUE = keys.DEFAULT_QUEUE
AN_HOUR_MS = 3_600_000


@dataclass
class Planted:
    server: RedisServer
    worker: ServiceProcess
    api: ServiceProcess
    url: str


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planted]:
    workdir = tmp_path_factory.mktemp("planted")
    server = RedisServer(workdir / "redis")
    server.start()
    env = service_env(server.url)
    worker = start_worker(env, workdir, name="planted-worker")
    api, url = start_api(env, workdir, name="planted-api")
    yield Planted(server, worker, api, url)
    api.stop()
    worker.stop()
    server.stop()


@pytest.fixture
async def api(planted: Planted) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=planted.url, timeout=30, trust_env=False) as client:
        yield client


@pytest.fixture
def client(planted: Planted) -> Iterator[redis.Redis]:
    with planted.server.client() as connection:
        yield connection


async def get_ok(api: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await api.get(path, params=params)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    assert MARKER not in response.text
    return response.json() if path != "/metrics" else response.text


async def every_read_answers(api: httpx.AsyncClient, job_id: str | None = None) -> None:
    """Every read route answers without a 5xx (and never shows a planted value)."""
    for path in ("/v1/jobs", "/v1/queues", "/v1/workers", "/v1/cron", "/metrics"):
        await get_ok(api, path)
    if job_id is not None:
        await get_ok(api, f"/v1/jobs/{job_id}")
        response = await api.get(f"/v1/jobs/{job_id}/result")
        assert response.status_code in (200, 202), response.text
        async with api.stream("GET", f"/v1/jobs/{job_id}/events") as events:
            assert events.status_code == 200


def log_lines(process: ServiceProcess, since: int = 0) -> list[dict[str, Any]]:
    """The process's JSON log lines written after offset `since`."""
    found = []
    for line in process.log_text()[since:].splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            continue  # (a line cut by the offset, or not one of ours)
    return found


def lines(process: ServiceProcess, event: str, since: int = 0) -> int:
    return sum(1 for line in log_lines(process, since) if line.get("event") == event)


def malformed_logged(process: ServiceProcess, since: int, **fields: str) -> bool:
    return any(
        line.get("event") == "store.malformed_data"
        and all(line.get(k) == v for k, v in fields.items())
        for line in log_lines(process, since)
    )


def assert_never_logged(planted: Planted) -> None:
    for process in (planted.api, planted.worker):
        assert MARKER not in process.log_text(), f"{process.name} logged a planted value"


async def listed(api: httpx.AsyncClient, job_id: str, **filters: str) -> dict[str, Any] | None:
    page = await get_ok(api, "/v1/jobs", limit=500, **filters)
    return next((job for job in page["jobs"] if job["job_id"] == job_id), None)


# --- The job record: each field -----------------------------------------------------------

RECORD_FIELDS = [
    ("status-unknown", "status", MARKER),
    ("tries-not-an-integer", "tries", MARKER),
    ("stalls-not-an-integer", "stalls", "1.5"),
    ("enqueue_ms-not-an-integer", "enqueue_ms", MARKER),
    ("enqueue_ms-past-any-date", "enqueue_ms", "99999999999999999999"),
    ("start_ms-negative", "start_ms", "-5"),
    ("finish_ms-not-an-integer", "finish_ms", MARKER),
    ("scheduled_ms-not-an-integer", "scheduled_ms", MARKER),
    ("args-not-json", "args", "{" + MARKER),
    ("args-not-an-object", "args", f'["{MARKER}"]'),
    ("error-not-json", "error", MARKER),
    ("error-not-an-error", "error", f'{{"type": 1, "message": "{MARKER}"}}'),
    ("progress-not-json", "progress", MARKER),
    ("progress-not-a-progress", "progress", f'{{"current": "{MARKER}"}}'),
]


@pytest.mark.parametrize(
    ("field", "value"), [c[1:] for c in RECORD_FIELDS], ids=[c[0] for c in RECORD_FIELDS]
)
async def test_a_malformed_record_field_shows_as_corrupt_job_data(
    api: httpx.AsyncClient, client: redis.Redis, planted: Planted, field: str, value: str
) -> None:
    job_id, since = new_id("record"), len(planted.api.log_text())
    plant_record(client, job_id, **{field: value})
    job = await get_ok(api, f"/v1/jobs/{job_id}")
    assert job["error"]["type"] == "CorruptJobData"
    assert repr(field) in job["error"]["message"]
    expected = "failed" if field == "status" else "succeeded"
    assert job["status"] == expected
    shown = await listed(api, job_id, function="echo")
    assert shown is not None
    assert shown["error"]["type"] == "CorruptJobData"
    await every_read_answers(api, job_id)
    assert malformed_logged(planted.api, since, key=keys.record(job_id), field=field)
    assert_never_logged(planted)


async def test_a_malformed_kept_event_is_skipped_in_the_jobs_events(
    api: httpx.AsyncClient, client: redis.Redis
) -> None:
    job_id = new_id("kept")
    plant_record(client, job_id)
    now = int(time.time() * 1000)
    client.hset(
        keys.record(job_id),
        mapping={
            f"e:{now}-0": f'["enqueued", {{"at": {now}}}]',
            f"e:{now}-1": MARKER,  # not JSON
            f"e:{now}-2": f'["{MARKER}"]',  # not [type, data]
            "e:not-an-id": '["started", {}]',  # not a stream id
            f"e:{now + 1}-0": f'["succeeded", {{"at": {now}}}]',
        },
    )
    async with api.stream("GET", f"/v1/jobs/{job_id}/events") as response:
        assert response.status_code == 200
        types = [event.type async for event in read_sse(response)]
    assert types == ["enqueued", "succeeded"]


# --- arq's keys and the record key, read by the API ----------------------------------------


def _deferred_job(client: redis.Redis, job_id: str, payload: bytes) -> str:
    client.set(keys.job(job_id), payload)
    client.zadd(QUEUE, {job_id: time.time() * 1000 + AN_HOUR_MS})
    return job_id


def _result(client: redis.Redis, job_id: str, payload: str) -> str:
    client.set(keys.result(job_id), payload)
    return job_id


GOOD_JOB = b'{"t": 1, "f": "echo", "a": [], "k": {"message": "hi"}, "et": 1700000000000}'
ARQ_KEYS: list[tuple[str, Callable[[redis.Redis, str], object], str, str | None]] = [
    (
        "result-missing-fields",
        lambda c, j: _result(c, j, '{"s": true}'),
        "failed",
        "DeserializationError",
    ),
    (
        "result-not-an-object",
        lambda c, j: _result(c, j, f'["{MARKER}"]'),
        "failed",
        "DeserializationError",
    ),
    (
        "result-times-past-any-date",
        lambda c, j: _result(
            c, j, f'{{"id": "{j}", "f": "echo", "s": true, "t": 1, "st": 1e300, "ft": 1}}'
        ),
        "failed",
        "DeserializationError",
    ),
    (
        "result-of-the-wrong-type",
        lambda c, j: plant_wrong_type(c, keys.result(j), "hash"),
        "failed",
        "CorruptJobData",
    ),
    (
        "result-of-the-wrong-type-with-a-record",
        lambda c, j: (plant_record(c, j), plant_wrong_type(c, keys.result(j), "hash")),
        "succeeded",
        "CorruptJobData",
    ),
    (
        "job-of-the-wrong-type",
        lambda c, j: (_deferred_job(c, j, b""), plant_wrong_type(c, keys.job(j), "hash")),
        "deferred",
        "CorruptJobData",
    ),
    (
        "job-times-past-any-date",
        lambda c, j: _deferred_job(c, j, b'{"f": "echo", "et": 1e300}'),
        "deferred",
        "DeserializationError",
    ),
    (
        "queue-score-infinite",
        lambda c, j: (c.set(keys.job(j), GOOD_JOB), c.zadd(QUEUE, {j: float("inf")})),
        "deferred",
        None,
    ),
    (
        "try-counter-not-an-integer",
        lambda c, j: (_deferred_job(c, j, GOOD_JOB), c.set(keys.retry(j), MARKER)),
        "deferred",
        None,
    ),
    (
        "in-progress-of-the-wrong-type",
        lambda c, j: (
            _deferred_job(c, j, GOOD_JOB),
            plant_wrong_type(c, keys.in_progress(j), "hash"),
        ),
        "in_progress",
        None,
    ),
    (
        "record-of-the-wrong-type",
        lambda c, j: (plant_record(c, j), plant_wrong_type(c, keys.record(j), "string")),
        "failed",
        "CorruptJobData",
    ),
]


@pytest.mark.parametrize(
    ("plant", "status", "error"), [c[1:] for c in ARQ_KEYS], ids=[c[0] for c in ARQ_KEYS]
)
async def test_a_malformed_arq_key_shows_the_job_with_an_error(
    api: httpx.AsyncClient,
    client: redis.Redis,
    planted: Planted,
    plant: Callable[[redis.Redis, str], object],
    status: str,
    error: str | None,
) -> None:
    job_id = new_id("arq")
    plant(client, job_id)
    try:
        job = await get_ok(api, f"/v1/jobs/{job_id}")
        assert job["status"] == status
        assert (job["error"] or {}).get("type") == error
        await every_read_answers(api, job_id)
        rerun = await api.post(f"/v1/jobs/{job_id}/retry")
        assert rerun.status_code == 409 if error else rerun.status_code in (202, 409)
        assert (await api.delete(f"/v1/jobs/{job_id}")).status_code in (202, 409)
        assert_never_logged(planted)
    finally:
        client.zrem(QUEUE, job_id)  # (never run it)


async def test_a_record_of_the_wrong_type_is_left_out_of_lists(
    api: httpx.AsyncClient, client: redis.Redis
) -> None:
    job_id = new_id("wrong-record")
    plant_record(client, job_id, status="failed")
    plant_wrong_type(client, keys.record(job_id), "string")
    assert await listed(api, job_id) is None
    assert await listed(api, job_id, status="failed", function="echo") is None


# --- The events streams ---------------------------------------------------------------------

BAD_ENTRIES = [
    ("without-type", {"job_id": MARKER, "data": "{}"}),
    ("without-job_id", {"type": "enqueued", "data": "{}"}),
    ("data-not-json", {"type": "enqueued", "job_id": "x", "data": MARKER}),
    ("data-not-an-object", {"type": "enqueued", "job_id": "x", "data": f'["{MARKER}"]'}),
]
BAD_ENTRY_IDS = [c[0] for c in BAD_ENTRIES]


async def _feed_until(
    api: httpx.AsyncClient, job_id: str, kind: str, headers: dict[str, str] | None = None
) -> None:
    async with api.stream("GET", "/v1/events", headers=headers or {}) as response:
        assert response.status_code == 200
        async for event in read_sse(response):
            if event.data.get("job_id") == job_id and event.type == kind:
                return


@pytest.mark.parametrize("entry", [c[1] for c in BAD_ENTRIES], ids=BAD_ENTRY_IDS)
async def test_a_live_feed_goes_on_past_a_malformed_entry(
    api: httpx.AsyncClient, client: redis.Redis, planted: Planted, entry: dict[str, str]
) -> None:
    async def follow() -> list[str]:
        seen: list[str] = []
        async with api.stream("GET", "/v1/events") as response:
            assert response.status_code == 200
            async for event in read_sse(response):
                seen.append(event.data["job_id"])
                if len(seen) == 1:  # the follower is live: plant, then a good job
                    plant_stream_entry(client, keys.EVENTS, entry)
                    after.set()
                if event.type == "succeeded" and event.data["job_id"] == second:
                    return seen
        return seen

    after, second, since = asyncio.Event(), new_id("second"), len(planted.api.log_text())
    following = asyncio.create_task(follow())
    await enqueue(api, "echo", args={"message": "first"})  # (an event to see, crons aside)
    async with asyncio.timeout(15):
        await after.wait()
        await enqueue(api, "echo", args={"message": "second"}, job_id=second)
        seen = await following
    assert second in seen
    assert malformed_logged(planted.api, since, key=keys.EVENTS)
    assert_never_logged(planted)


@pytest.mark.parametrize("entry", [c[1] for c in BAD_ENTRIES], ids=BAD_ENTRY_IDS)
async def test_a_resume_from_before_a_malformed_entry_reads_past_it(
    api: httpx.AsyncClient, client: redis.Redis, entry: dict[str, str]
) -> None:
    before = plant_stream_entry(client, keys.EVENTS, {"type": "enqueued", "job_id": "-"})
    plant_stream_entry(client, keys.EVENTS, entry)
    job = await enqueue(api, "echo", args={"message": "after"})
    await outcome(api, job["job_id"])
    async with asyncio.timeout(15):
        await _feed_until(api, job["job_id"], "succeeded", {"Last-Event-ID": before})


@pytest.mark.parametrize("entry", [c[1] for c in BAD_ENTRIES], ids=BAD_ENTRY_IDS)
async def test_a_malformed_entry_in_a_jobs_stream_is_skipped(
    api: httpx.AsyncClient, client: redis.Redis, entry: dict[str, str]
) -> None:
    job = await enqueue(api, "echo", args={"message": "later"}, defer_by=3600)
    plant_stream_entry(client, keys.job_events(job["job_id"]), entry)
    assert (await api.delete(f"/v1/jobs/{job['job_id']}")).status_code == 202
    async with api.stream("GET", f"/v1/jobs/{job['job_id']}/events") as response:
        assert response.status_code == 200
        types = [event.type async for event in read_sse(response)]
    assert types == ["enqueued", "aborted"]


async def test_a_jobs_stream_of_the_wrong_type_reads_as_empty(
    api: httpx.AsyncClient, client: redis.Redis, planted: Planted
) -> None:
    job_id, since = new_id("stream"), len(planted.api.log_text())
    plant_record(client, job_id)
    plant_wrong_type(client, keys.job_events(job_id), "hash")
    async with api.stream("GET", f"/v1/jobs/{job_id}/events") as response:
        assert response.status_code == 200
        assert [event async for event in read_sse(response)] == []
    assert malformed_logged(planted.api, since, key=keys.job_events(job_id))


async def test_a_feed_of_the_wrong_type_waits_and_goes_on_once_fixed(
    api: httpx.AsyncClient, client: redis.Redis, planted: Planted
) -> None:
    backup, since = f"planted-backup:{keys.EVENTS}", len(planted.api.log_text())
    client.rename(keys.EVENTS, backup)
    plant_wrong_type(client, keys.EVENTS, "hash")
    try:
        async with asyncio.timeout(15), api.stream("GET", "/v1/events") as response:
            assert response.status_code == 200
            await eventually(lambda: lines(planted.api, "events.reader_failed", since) > 0)
            client.delete(keys.EVENTS)
            client.rename(backup, keys.EVENTS)
            job = await enqueue(api, "echo", args={"message": "fixed"})
            seen = []
            async for event in read_sse(response):
                seen.append(event.id)
                if event.data["job_id"] == job["job_id"] and event.type == "succeeded":
                    break
        oldest_kept = client.xrange(keys.EVENTS, count=1)[0][0].decode()  # type: ignore[index]
        assert oldest_kept not in seen  # (it read on from the fix, not from the start)
    finally:
        if client.exists(backup):
            client.delete(keys.EVENTS)
            client.rename(backup, keys.EVENTS)


# --- The index, operator views, bulk retry ------------------------------------------------


def _heartbeat(**fields: str) -> dict[str, str]:
    now = str(time.time())
    return {
        "worker_id": "planted",
        "host": "h",
        "pid": "1",
        "queue": QUEUE,
        "started_at": now,
        "last_seen": now,
        "stopped": "0",
        "running": "0",
        "completed": "0",
        "failed": "0",
        "retried": "0",
        **fields,
    }


def _plant_heartbeat(client: redis.Redis, fields: dict[str, str] | None) -> None:
    key = keys.worker("planted")
    if fields is None:
        plant_wrong_type(client, key, "string")
    else:
        client.hset(key, mapping=fields)
    client.zadd(keys.WORKERS, {"planted": time.time()})


BUCKET = int(time.time()) // keys.COUNT_BUCKET_SECONDS
JUNK_MEMBER = "!" + MARKER  # (sorts before every member: the first page reads it)


def _plant_histogram(client: redis.Redis, fields: dict[str, str] | None) -> None:
    client.sadd(keys.METRICS_DURATION_FUNCTIONS, "planted")
    if fields is None:
        plant_wrong_type(client, keys.metrics_duration("planted"), "string")
    else:
        client.hset(keys.metrics_duration("planted"), mapping=fields)


OPERATOR_DATA: list[tuple[str, Callable[[redis.Redis], object], list[str]]] = [
    (
        "index-member-not-a-member",
        lambda c: c.zadd(keys.index(status="succeeded"), {JUNK_MEMBER: 0}),
        [],
    ),
    (
        "index-of-the-wrong-type",
        lambda c: plant_wrong_type(c, keys.index(status="aborted"), "string"),
        [keys.index(status="aborted")],
    ),
    (
        "cron-index-member-not-a-member",
        lambda c: c.zadd(keys.index(status="succeeded", function="cron:sweep"), {JUNK_MEMBER: 0}),
        [],
    ),
    ("heartbeat-pid-not-an-integer", lambda c: _plant_heartbeat(c, _heartbeat(pid=MARKER)), []),
    ("heartbeat-last-seen-nan", lambda c: _plant_heartbeat(c, _heartbeat(last_seen="nan")), []),
    ("heartbeat-missing-a-field", lambda c: _plant_heartbeat(c, _heartbeat(host="")), []),
    ("heartbeat-of-the-wrong-type", lambda c: _plant_heartbeat(c, None), []),
    (
        "workers-of-the-wrong-type",
        lambda c: plant_wrong_type(c, keys.WORKERS, "string"),
        [keys.WORKERS],
    ),
    ("stats-snapshot-not-json", lambda c: c.lpush(keys.stats_history(QUEUE), MARKER), []),
    (
        "stats-snapshot-not-a-snapshot",
        lambda c: c.lpush(keys.stats_history(QUEUE), f'{{"queue": "{MARKER}"}}'),
        [],
    ),
    (
        "stats-of-the-wrong-type",
        lambda c: plant_wrong_type(c, keys.stats_history(QUEUE), "hash"),
        [keys.stats_history(QUEUE)],
    ),
    (
        "finished-count-not-a-number",
        lambda c: c.set(keys.finished_count(QUEUE, "succeeded", BUCKET), MARKER),
        [keys.finished_count(QUEUE, "succeeded", BUCKET)],
    ),
    (
        "metrics-count-not-a-number",
        lambda c: c.hset(keys.METRICS_FINISHED, "planted|succeeded", MARKER),
        [],
    ),
    (
        "metrics-histogram-not-numbers",
        lambda c: _plant_histogram(c, {"0.005": MARKER, "sum": "nan"}),
        [],
    ),
    (
        "metrics-histogram-of-the-wrong-type",
        lambda c: _plant_histogram(c, None),
        [keys.metrics_duration("planted")],
    ),
    (
        "metrics-functions-of-the-wrong-type",
        lambda c: plant_wrong_type(c, keys.METRICS_DURATION_FUNCTIONS, "string"),
        [keys.METRICS_DURATION_FUNCTIONS],
    ),
    (
        "metrics-counts-of-the-wrong-type",
        lambda c: plant_wrong_type(c, keys.METRICS_RETRIED, "list"),
        [keys.METRICS_RETRIED],
    ),
]


@pytest.mark.parametrize(
    ("plant", "cleanup"), [c[1:] for c in OPERATOR_DATA], ids=[c[0] for c in OPERATOR_DATA]
)
async def test_a_malformed_operator_entry_is_skipped(
    api: httpx.AsyncClient,
    client: redis.Redis,
    planted: Planted,
    plant: Callable[[redis.Redis], object],
    cleanup: list[str],
) -> None:
    since = len(planted.api.log_text())
    plant(client)
    try:
        await every_read_answers(api)
        await get_ok(api, "/v1/jobs", status="aborted")
        workers = await get_ok(api, "/v1/workers")
        assert "planted" not in [w["worker_id"] for w in workers]
        [queue] = await get_ok(api, "/v1/queues")
        assert all(s["queue"] == QUEUE for s in queue["series"])
        assert 'function="planted"' not in await get_ok(api, "/metrics")
        assert malformed_logged(planted.api, since)
        assert_never_logged(planted)
    finally:
        client.delete(*cleanup, keys.worker("planted"), keys.metrics_duration("planted"))
        client.zrem(keys.WORKERS, "planted")
        client.srem(keys.METRICS_DURATION_FUNCTIONS, "planted")
        client.hdel(keys.METRICS_FINISHED, "planted|succeeded")
        client.lrem(keys.stats_history(QUEUE), 0, MARKER)
        client.lrem(keys.stats_history(QUEUE), 0, f'{{"queue": "{MARKER}"}}')
        for function in (None, "cron:sweep"):
            client.zrem(keys.index(status="succeeded", function=function), JUNK_MEMBER)


async def test_bulk_retry_skips_jobs_whose_data_is_corrupt(
    api: httpx.AsyncClient, client: redis.Redis
) -> None:
    function = f"planted-{new_id('fn')}"
    corrupt, good = new_id("corrupt"), new_id("good")
    plant_record(client, corrupt, status="failed", function=function, args=MARKER)
    plant_record(client, good, status="failed", function=function)
    response = await api.post(
        "/v1/jobs/retry", json={"status": "failed", "function": function, "limit": 10}
    )
    assert response.status_code == 200, response.text
    assert response.json()["retried"] == 1
    assert (await get_ok(api, f"/v1/jobs/{good}"))["retried_as"] is not None
    assert (await get_ok(api, f"/v1/jobs/{corrupt}"))["retried_as"] is None
    one = await api.post(f"/v1/jobs/{corrupt}/retry")
    assert one.status_code == 409
    assert "corrupt" in one.json()["detail"]


# --- The maintenance crons -------------------------------------------------------------------

MAINTAINED_KEYS = [
    ("abort-set-as-a-string", keys.ABORTS, "string"),
    ("events-as-a-hash", keys.EVENTS, "hash"),
    ("indexed-functions-as-a-string", keys.INDEXED_FUNCTIONS, "string"),
    ("an-index-as-a-string", keys.index(status="failed"), "string"),
    ("stats-as-a-hash", keys.stats_history(QUEUE), "hash"),
    ("tenants-as-a-string", keys.TENANTS, "string"),
]


@pytest.mark.parametrize(
    ("key", "kind"), [c[1:] for c in MAINTAINED_KEYS], ids=[c[0] for c in MAINTAINED_KEYS]
)
async def test_the_maintenance_crons_survive_a_key_of_the_wrong_type(
    api: httpx.AsyncClient, client: redis.Redis, key: str, kind: str
) -> None:
    backup = f"planted-backup:{key}"
    if client.exists(key):
        client.rename(key, backup)
    plant_wrong_type(client, key, kind)
    planted_at = time.time()
    try:
        for cron in ("cron:sweep", "cron:queue_stats"):

            async def ran_since(cron: str = cron) -> str | None:
                jobs = (await get_ok(api, "/v1/jobs", function=cron, limit=5))["jobs"]
                ended = [
                    job["status"]
                    for job in jobs
                    if job["finish_time"] and _epoch(job["start_time"]) > planted_at
                ]
                return ended[-1] if ended else None

            assert await eventually(ran_since, what=f"a run of {cron}") == "succeeded"
    finally:
        client.delete(key)
        if client.exists(backup):
            client.rename(backup, key)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# --- Keys of the wrong type and the worker ------------------------------------------------


async def worker_id(api: httpx.AsyncClient) -> str:
    async def alive() -> str | None:
        workers = (await api.get("/v1/workers")).json()
        return next((w["worker_id"] for w in workers if w["status"] == "alive"), None)

    return await eventually(alive, what="the worker's heartbeat")


SHARED_KEYS: list[tuple[str, Callable[[str], str], str, str | None, bool]] = [
    # (id, the key, planted type, the error line logged, good jobs run while it is planted)
    ("queue-as-a-string", lambda w: QUEUE, "string", "worker.poll_failed", False),
    ("queue-as-a-hash", lambda w: QUEUE, "hash", "worker.poll_failed", False),
    ("abort-set-as-a-string", lambda w: keys.ABORTS, "string", "worker.abort_check_failed", True),
    ("events-as-a-hash", lambda w: keys.EVENTS, "hash", "worker.key_of_wrong_type", True),
    ("stalls-as-a-string", lambda w: keys.METRICS_STALLED, "string", None, True),
    ("lease-set-as-a-string", keys.leases, "string", "worker.poll_failed", False),
    (
        "lease-holders-as-a-string",
        lambda w: keys.LEASE_HOLDERS,
        "string",
        "worker.lease_renewal_failed",
        True,
    ),
    ("alive-key-as-a-hash", keys.alive, "hash", None, True),
    ("heartbeat-as-a-string", keys.worker, "string", "worker.heartbeat_failed", True),
]


@pytest.mark.parametrize(
    ("key_of", "kind", "logged", "runs_meanwhile"),
    [c[1:] for c in SHARED_KEYS],
    ids=[c[0] for c in SHARED_KEYS],
)
async def test_a_shared_key_of_the_wrong_type_never_kills_the_worker(
    api: httpx.AsyncClient,
    client: redis.Redis,
    planted: Planted,
    key_of: Callable[[str], str],
    kind: str,
    logged: str | None,
    runs_meanwhile: bool,
) -> None:
    key, since = key_of(await worker_id(api)), len(planted.worker.log_text())
    backup = f"planted-backup:{key}"
    if client.exists(key):
        client.rename(key, backup)
    plant_wrong_type(client, key, kind)
    try:
        # (a key named for a job is logged once a minute: an earlier test may have had it)
        first_since = 0 if logged == "worker.key_of_wrong_type" else since
        if logged is not None:
            await eventually(lambda: lines(planted.worker, logged, first_since) > 0, what=logged)
        await asyncio.sleep(1)  # (twenty polls: still one line at most, and the worker is up)
        assert planted.worker.is_running()
        if logged is not None:
            assert lines(planted.worker, logged, since) <= 1
        await every_read_answers(api)
        if key != QUEUE:
            waiting = await enqueue(api, "echo", args={"message": "aborted"}, defer_by=3600)
            assert (await api.delete(f"/v1/jobs/{waiting['job_id']}")).status_code in (202, 409)
        refused = await api.post("/v1/jobs", json={"function": "echo", "args": {"message": "x"}})
        assert refused.status_code == (202 if runs_meanwhile or key != QUEUE else 422)
        if runs_meanwhile:
            job = await enqueue(api, "echo", args={"message": "meanwhile"})
            assert (await outcome(api, job["job_id"]))["status"] == "succeeded"
    finally:
        client.delete(key)
        if client.exists(backup):
            client.rename(backup, key)
    job = await enqueue(api, "echo", args={"message": "after"})
    assert (await outcome(api, job["job_id"]))["status"] == "succeeded"
    assert planted.worker.is_running()
    if logged is not None and logged != "worker.key_of_wrong_type":
        recovered = logged.replace("failed", "recovered")  # (once the poll or tick ends)
        await eventually(lambda: lines(planted.worker, recovered, since) == 1, what=recovered)
    assert_never_logged(planted)


JOB_KEYS: list[tuple[str, Callable[[str], str], str, str, str | None]] = [
    # (id, the job's key, planted type, how the job ends, its error's type)
    ("job-data-as-a-hash", keys.job, "hash", "failed", "JobExecutionFailed"),
    ("try-counter-as-a-hash", keys.retry, "hash", "succeeded", None),
    ("try-counter-not-an-integer", keys.retry, "not-an-integer", "succeeded", None),
    ("record-as-a-string", keys.record, "string", "succeeded", "CorruptJobData"),
    ("job-events-as-a-string", keys.job_events, "string", "succeeded", None),
    ("in-progress-as-a-hash", keys.in_progress, "hash", "in_progress", None),
]


@pytest.mark.parametrize(
    ("key_of", "kind", "status", "error"), [c[1:] for c in JOB_KEYS], ids=[c[0] for c in JOB_KEYS]
)
async def test_a_jobs_key_of_the_wrong_type_spoils_only_that_job(
    api: httpx.AsyncClient,
    client: redis.Redis,
    planted: Planted,
    key_of: Callable[[str], str],
    kind: str,
    status: str,
    error: str | None,
) -> None:
    spoilt = (await enqueue(api, "echo", args={"message": "spoilt"}, defer_by=3600))["job_id"]
    key, since = key_of(spoilt), len(planted.worker.log_text())
    if kind == "not-an-integer":
        client.set(key, MARKER)
    else:
        plant_wrong_type(client, key, kind)
    client.zadd(QUEUE, {spoilt: time.time() * 1000})  # due now
    good = await enqueue(api, "echo", args={"message": "good"})
    try:
        assert (await outcome(api, good["job_id"]))["status"] == "succeeded"
        job = await wait_for_status(api, spoilt, status)
        assert (job["error"] or {}).get("type") == error
        assert planted.worker.is_running()
        # (the claim names the key; one that holds the job, so that no claim sees it: the sweep)
        event = (
            "store.malformed_data"
            if key == keys.in_progress(spoilt)
            else "worker.key_of_wrong_type"
        )

        def named() -> bool:
            return any(
                line.get("event") == event and line.get("key") == key
                for line in log_lines(planted.worker, since)
            )

        await eventually(named, what=f"{event} naming {key}")
        await every_read_answers(api, spoilt)
        assert_never_logged(planted)
    finally:
        client.delete(keys.in_progress(spoilt))
        client.zrem(QUEUE, spoilt)
