"""API keys against the real processes: every route with every kind of caller, keys file reloads
(on change and on SIGHUP), the refusals at start, rate limits and the audit trail."""

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobqueue.access import tokens
from jobqueue.access.cli import entry
from jobqueue.access.gate import RECHECK_SECONDS
from jobqueue.access.keyring import ApiKey
from jobqueue.access.scopes import Scope
from scripts.processes import API_COMMAND
from tests.helpers import eventually
from tests.helpers.api import enqueue, new_id, outcome, wait_for_status
from tests.helpers.services import (
    RedisServer,
    ServiceProcess,
    free_port,
    service_env,
    start_api,
    start_worker,
    wait_until,
)
from tests.helpers.sse import read_sse


@dataclass(frozen=True)
class Caller:
    name: str
    token: str | None  # None: no Authorization header
    scopes: frozenset[Scope] = frozenset()
    rate: float | None = None
    tenant: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.token is None else {"Authorization": f"Bearer {self.token}"}

    def key(self) -> ApiKey:
        assert self.token is not None
        return ApiKey(
            name=self.name, hash=tokens.hash_of(self.token), scopes=self.scopes,
            rate_per_second=self.rate, tenant=self.tenant,
        )  # fmt: skip


def caller(
    name: str, *scopes: Scope, rate: float | None = None, tenant: str | None = None
) -> Caller:
    return Caller(name, tokens.mint(), frozenset(scopes), rate, tenant)


# Each scope alone, every key in the tenant `acme` (admin keys see every tenant)
SCOPED = [caller(scope.value.replace(":", "-"), scope, tenant="acme") for scope in Scope]
ADMIN = next(c for c in SCOPED if Scope.admin in c.scopes)
OWNER = caller("acme-owner", Scope.jobs_read, Scope.jobs_write, tenant="acme")
RIVAL = caller("rival", *(set(Scope) - {Scope.admin}), tenant="rival")  # all but admin
LIMITED = caller("limited", Scope.jobs_write, Scope.jobs_read, rate=2)  # bursts of 4
GAUGE = caller("gauge", Scope.jobs_read, Scope.jobs_write, Scope.ops_read, tenant="gauge")
NO_TOKEN = Caller("no-token", None)
BAD_TOKEN = Caller("bad-token", tokens.mint())  # well formed, in no keys file
CALLERS = [NO_TOKEN, BAD_TOKEN, *SCOPED, RIVAL]


def keys_toml(*callers: Caller) -> str:
    return "\n\n".join(entry(c.key()) for c in callers) + "\n"


@dataclass
class KeyedStack:
    url: str
    api: ServiceProcess
    keys_file: Path
    redis_url: str


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyedStack]:
    """Redis, a worker and an API with auth on (as deployed: a keys file, no opt-out)."""
    workdir = tmp_path_factory.mktemp("access")
    server = RedisServer(workdir / "redis")
    server.start()
    keys_file = workdir / "keys.toml"
    keys_file.write_text(keys_toml(*SCOPED, OWNER, RIVAL, LIMITED, GAUGE))
    env = {**service_env(server.url), "JOBQUEUE_AUTH": "on"}
    worker = start_worker(env, workdir)
    api, url = start_api({**env, "JOBQUEUE_API_KEYS_FILE": str(keys_file)}, workdir)
    yield KeyedStack(url, api, keys_file, server.url)
    api.stop()
    worker.process.kill()  # (the matrix leaves hour-long sleeps running)
    worker.process.wait()
    worker.stop()  # (its log file)
    server.stop()


def client_as(url: str, who: Caller | None = None) -> httpx.AsyncClient:
    """A client of the API at `url`, sending `who`'s key (none without one)."""
    headers = who.headers if who is not None else {}
    return httpx.AsyncClient(base_url=url, headers=headers, timeout=30, trust_env=False)


@pytest.fixture
async def admin(keyed: KeyedStack) -> AsyncIterator[httpx.AsyncClient]:
    async with client_as(keyed.url, ADMIN) as client:
        yield client


@pytest.fixture
async def owner(keyed: KeyedStack) -> AsyncIterator[httpx.AsyncClient]:
    """acme's own client: the matrix's jobs are acme's."""
    async with client_as(keyed.url, OWNER) as client:
        yield client


@pytest.fixture
async def rival(keyed: KeyedStack) -> AsyncIterator[httpx.AsyncClient]:
    async with client_as(keyed.url, RIVAL) as client:
        yield client


# --- The matrix: each route, each caller, the exact status --------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {running}: acme's running `sleep`; {ended}: acme's aborted job
    scope: Scope | None  # None: open to all
    ok: int  # the status for a caller holding the scope
    body: Any = None
    stream: bool = False

    @property
    def names_a_job(self) -> bool:
        return "{" in self.path


ROUTES = [
    Route(
        "POST", "/v1/jobs", Scope.jobs_write, 202, {"function": "echo", "args": {"message": "m"}}
    ),
    Route("POST", "/v1/jobs/batch", Scope.jobs_write, 200, {"jobs": [{"function": "echo"}]}),
    Route("GET", "/v1/jobs", Scope.jobs_read, 200),
    Route("POST", "/v1/jobs/retry", Scope.ops_write, 200, {"function": "no-such-job"}),
    Route("GET", "/v1/jobs/{running}", Scope.jobs_read, 200),
    Route("GET", "/v1/jobs/{running}/result?timeout=0", Scope.jobs_read, 202),
    Route("DELETE", "/v1/jobs/{running}", Scope.jobs_write, 202),
    Route("POST", "/v1/jobs/{ended}/retry", Scope.jobs_write, 202),
    Route("GET", "/v1/jobs/{running}/events", Scope.jobs_read, 200, stream=True),
    Route("GET", "/v1/events", Scope.jobs_read, 200, stream=True),
    Route("GET", "/v1/functions", Scope.jobs_read, 200),
    Route("GET", "/v1/cron", Scope.ops_read, 200),
    Route("POST", "/v1/cron/cron:sweep/run", Scope.ops_write, 202),
    Route("POST", "/v1/cron/cron:sweep/pause", Scope.admin, 200),  # (for every tenant: admin)
    Route("POST", "/v1/cron/cron:sweep/resume", Scope.admin, 200),  # (after: left running)
    Route("GET", "/v1/queues", Scope.ops_read, 200),
    Route("GET", "/v1/workers", Scope.ops_read, 200),
    Route("GET", "/metrics", Scope.metrics_read, 200),
    Route("GET", "/healthz", None, 200),
    Route("GET", "/readyz", None, 200),
    Route("GET", "/docs", None, 200),
    Route("GET", "/redoc", None, 200),
    Route("GET", "/openapi.json", None, 200),
]


def expected(route: Route, who: Caller) -> int:
    if route.scope is None:
        return route.ok
    if who in (NO_TOKEN, BAD_TOKEN):
        return 401
    if route.scope not in who.scopes and Scope.admin not in who.scopes:
        return 403
    if who is RIVAL and route.names_a_job:
        return 404  # acme's job, to another tenant: not found (never 403)
    return route.ok


async def running_sleep(owner: httpx.AsyncClient) -> str:
    job_id = new_id("matrix-sleep")
    body = {"function": "sleep", "args": {"seconds": 3600}, "job_id": job_id}
    assert (await owner.post("/v1/jobs", json=body)).status_code == 202
    return job_id


async def ended_job(owner: httpx.AsyncClient) -> str:
    job_id = await running_sleep(owner)
    assert (await owner.delete(f"/v1/jobs/{job_id}")).status_code == 202
    await eventually(
        lambda: _status_is(owner, job_id, "aborted"), timeout=10, what=f"{job_id} aborted"
    )
    return job_id


async def _status_is(admin: httpx.AsyncClient, job_id: str, status: str) -> bool:
    return bool((await admin.get(f"/v1/jobs/{job_id}")).json()["status"] == status)


async def sweep_not_running(admin: httpx.AsyncClient) -> bool:
    crons = (await admin.get("/v1/cron")).json()
    return not next(c for c in crons if c["name"] == "cron:sweep")["running"]


def next_second(second: int) -> Callable[[], bool]:
    return lambda: int(time.time()) > second


async def send(client: httpx.AsyncClient, route: Route, path: str, who: Caller) -> httpx.Response:
    if route.stream:  # the status and headers only: the stream itself may not end
        async with client.stream(route.method, path, headers=who.headers) as response:
            if response.status_code != 200:
                await response.aread()
            return response
    return await client.request(route.method, path, json=route.body, headers=who.headers)


async def test_every_route_answers_every_caller_exactly(
    keyed: KeyedStack, admin: httpx.AsyncClient, owner: httpx.AsyncClient
) -> None:
    mismatches = []
    async with client_as(keyed.url) as client:
        for route in ROUTES:
            for who in CALLERS:
                want = expected(route, who)
                if want == 202 and "cron" in route.path:
                    # One run at a time, one manual run a second (409 otherwise).
                    await eventually(lambda: sweep_not_running(admin), timeout=10)
                    await eventually(next_second(int(time.time())), timeout=2)
                job_id = ""
                if route.names_a_job:
                    job = running_sleep if "{running}" in route.path else ended_job
                    job_id = await job(owner)
                    if who is ADMIN:  # an admin names another tenant's job by its stored id
                        job_id = f"acme~{job_id}"
                path = route.path.format(running=job_id, ended=job_id)
                response = await send(client, route, path, who)
                problem = _problem(response, want, route, who)
                if problem:
                    mismatches.append(f"{route.method} {route.path} as {who.name}: {problem}")
    assert mismatches == [], "\n".join(mismatches)
    assert len(ROUTES) * len(CALLERS) == 23 * 9


def _problem(response: httpx.Response, want: int, route: Route, who: Caller) -> str | None:
    got = response.status_code
    if got != want:
        return f"{got}, expected {want}: {response.text[:300]}"
    if got == 401:
        challenge = response.headers.get("www-authenticate")
        wanted = "Bearer" if who.token is None else 'Bearer error="invalid_token"'
        if challenge != wanted:
            return f"WWW-Authenticate {challenge!r}, expected {wanted!r}"
    if got == 404 and "'matrix-sleep-" not in response.text:
        return f"the 404 does not name the job as its caller knows it: {response.text!r}"
    if got == 403 and route.scope is not None:
        detail = response.json()["detail"]
        if f"'{route.scope.value}'" not in detail or f"'{who.name}'" not in detail:
            return f"the 403 does not name the scope and key: {detail!r}"
    return None


async def test_writes_are_audited_with_key_tenant_route_and_outcome_and_no_token(
    keyed: KeyedStack, admin: httpx.AsyncClient
) -> None:
    reader = next(c for c in SCOPED if c.scopes == {Scope.jobs_read})
    body = {"function": "echo", "args": {"message": "audited"}, "job_id": new_id("audited")}
    ok = await admin.post("/v1/jobs", json=body, headers={"X-Request-ID": "audit-ok-1"})
    assert ok.status_code == 202
    denied = await admin.post(
        "/v1/jobs", json=body, headers={**reader.headers, "X-Request-ID": "audit-denied-1"}
    )
    assert denied.status_code == 403

    def audit_lines() -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in keyed.api.log_text().splitlines() if line[:1] == "{"]
        return [line for line in lines if line["event"].startswith("audit.")]

    def by_request(request_id: str) -> dict[str, Any] | None:
        return next((line for line in audit_lines() if line["request_id"] == request_id), None)

    done = await eventually(lambda: by_request("audit-ok-1"), timeout=5)
    assert done["event"] == "audit.enqueue"
    assert (done["key"], done["tenant"], done["outcome"], done["status"]) == (
        ADMIN.name,
        "system",  # (an admin key's jobs are the system tenant's)
        "done",
        202,
    )
    assert done["route"] == "POST /v1/jobs"
    assert (done["job_id"], done["function"]) == (body["job_id"], "echo")
    refused = await eventually(lambda: by_request("audit-denied-1"), timeout=5)
    assert (refused["key"], refused["outcome"], refused["status"]) == (reader.name, "denied", 403)

    operator = ADMIN
    for action in ("pause", "resume"):
        headers = {**operator.headers, "X-Request-ID": f"audit-{action}-1"}
        answer = await admin.post(f"/v1/cron/cron:sweep/{action}", headers=headers)
        assert answer.status_code == 200
        paused = action == "pause"
        assert (answer.json()["paused"], answer.json()["paused_by"]) == (
            paused,
            operator.name if paused else None,
        )
        request_id = f"audit-{action}-1"
        line = await eventually(lambda: by_request(request_id), timeout=5)  # noqa: B023
        assert (line["event"], line["key"], line["outcome"]) == (
            f"audit.cron_{action}",
            operator.name,
            "done",
        )
    log = keyed.api.log_text()
    assert not [c.name for c in [*CALLERS, OWNER, LIMITED] if c.token and c.token in log]


# --- Rate limits ---------------------------------------------------------------------------------

ECHO = {"function": "echo", "args": {"message": "rated"}}


async def test_a_key_over_its_rate_gets_429_with_retry_after_then_passes_again(
    keyed: KeyedStack,
) -> None:
    async with client_as(keyed.url, LIMITED) as client:
        too_big = await client.post("/v1/jobs/batch", json={"jobs": [ECHO] * 5})
        assert too_big.status_code == 422  # more than its burst of 4: it could never pass
        assert too_big.json()["detail"][0]["loc"] == ["body", "jobs"]
        codes = [(await client.post("/v1/jobs", json=ECHO)).status_code for _ in range(6)]
        # A burst of 4, refilling at 2 a second: the 6 requests take well under 0.5 s.
        assert codes[:4] == [202] * 4
        assert 429 in codes[4:]
        refused = await client.post("/v1/jobs", json=ECHO)
        assert refused.status_code == 429
        assert "'limited'" in refused.json()["detail"]
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 1  # one token refills in half a second: rounded up, 1 s
        await asyncio.sleep(retry_after)
        assert (await client.post("/v1/jobs", json=ECHO)).status_code == 202
        # Reads are not rate limited.
        assert (await client.get("/v1/functions")).status_code == 200


# --- The keys file, re-read without a restart ----------------------------------------------------


@pytest.fixture
def lone_api(tmp_path: Path, keyed: KeyedStack) -> Iterator[tuple[str, Path, ServiceProcess]]:
    """An API of its own on the module's Redis, with a keys file of its own."""
    keys_file = tmp_path / "keys.toml"
    keys_file.write_text(keys_toml(ADMIN))
    env = {
        **service_env(keyed.redis_url),
        "JOBQUEUE_AUTH": "on",
        "JOBQUEUE_API_KEYS_FILE": str(keys_file),
    }
    api, url = start_api(env, tmp_path, name="lone-api")
    yield url, keys_file, api
    api.stop()


async def status_with(url: str, who: Caller) -> int:
    async with client_as(url) as client:
        return (await client.get("/v1/functions", headers=who.headers)).status_code


async def test_keys_file_changes_apply_without_a_restart_and_a_bad_file_keeps_the_last_keys(
    lone_api: tuple[str, Path, ServiceProcess],
) -> None:
    url, keys_file, api = lone_api
    newcomer = caller("newcomer", Scope.jobs_read)
    assert await status_with(url, newcomer) == 401
    keys_file.write_text(keys_toml(ADMIN, newcomer))
    await eventually(lambda: _is(status_with(url, newcomer), 200), timeout=5, what="key added")
    keys_file.write_text(keys_toml(newcomer))  # the admin key rotated out
    await eventually(lambda: _is(status_with(url, ADMIN), 401), timeout=5, what="key removed")
    keys_file.write_text('[[keys]]\nname = "broken"\n')  # no hash, no scopes: refused whole
    await eventually(
        lambda: "audit.keys_reload" in api.log_text() and '"refused"' in api.log_text(),
        timeout=5,
        what="the bad file reported",
    )
    assert await status_with(url, newcomer) == 200  # the keys read last stay in force
    assert "key 1 ('broken'), hash" in api.log_text()


async def _is(status: Any, wanted: int) -> bool:
    return bool(await status == wanted)


async def test_sighup_rereads_the_keys_file_at_once(
    lone_api: tuple[str, Path, ServiceProcess],
) -> None:
    url, keys_file, api = lone_api
    swapped = caller("swapped", Scope.jobs_read)
    before = keys_file.stat()
    # The same file, rewritten in place to the same size with the same mtime: a change that
    # only SIGHUP finds (a hash is as long as any other; the name is the admin's length).
    same_size = Caller(ADMIN.name, swapped.token, ADMIN.scopes, tenant=ADMIN.tenant)
    keys_file.write_text(keys_toml(same_size))
    os.utime(keys_file, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert keys_file.stat().st_size == before.st_size
    await asyncio.sleep(RECHECK_SECONDS * 1.5)  # past the change check: it must not see it
    assert await status_with(url, same_size) == 401
    api.process.send_signal(signal.SIGHUP)
    await eventually(lambda: _is(status_with(url, same_size), 200), timeout=5, what="SIGHUP")
    assert await status_with(url, ADMIN) == 401
    assert api.is_running()


# --- Refusals at start ---------------------------------------------------------------------------


def serve_exits(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run `python -m jobqueue serve` expecting it to exit; its code and output."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JOBQUEUE_", "UVICORN_"))}
    done = subprocess.run(
        [*API_COMMAND, "--port", str(free_port()), *args],
        env={**clean, "JOBQUEUE_REDIS_URL": "redis://127.0.0.1:1/0", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.returncode, done.stdout + done.stderr


def test_without_a_keys_file_the_api_refuses_to_start_and_says_how_to_make_one() -> None:
    code, output = serve_exits({})
    assert code != 0
    assert "JOBQUEUE_API_KEYS_FILE is not set" in output
    assert "python -m jobqueue keys create" in output
    assert "JOBQUEUE_AUTH=off" in output
    assert "Traceback" not in output


def test_an_unreadable_keys_file_refuses_the_start_naming_it(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.toml"
    keys_file.write_text("[[keys]]\nname = 'x'\nscopes = ['jobs:fly']\n")
    code, output = serve_exits({"JOBQUEUE_API_KEYS_FILE": str(keys_file)})
    assert code != 0
    assert str(keys_file) in output
    assert "key 1 ('x')" in output
    assert "Traceback" not in output


def test_with_auth_off_the_api_will_not_listen_beyond_loopback_unless_told() -> None:
    code, output = serve_exits({"JOBQUEUE_AUTH": "off"}, "--host", "0.0.0.0")  # noqa: S104
    assert code != 0
    assert "loopback only" in output
    assert "JOBQUEUE_ALLOW_REMOTE_WITHOUT_AUTH=true" in output


def test_with_auth_off_and_remote_allowed_it_starts_and_warns(tmp_path: Path) -> None:
    env = {
        "JOBQUEUE_REDIS_URL": "redis://127.0.0.1:1/0",
        "JOBQUEUE_AUTH": "off",
        "JOBQUEUE_ALLOW_REMOTE_WITHOUT_AUTH": "true",
        "JOBQUEUE_LOG_FORMAT": "json",
    }
    port = free_port()
    everywhere = "0.0.0.0"  # noqa: S104 (the point of the test)
    args = [*API_COMMAND, "--host", everywhere, "--port", str(port)]
    api = ServiceProcess("open-api", args, env, tmp_path)
    try:
        wait_until(lambda: "api.started" in api.log_text() or not api.is_running(), what="the API")
        assert api.is_running(), api.log_text()
        assert "api.auth_off" in api.log_text()
    finally:
        api.stop()


# --- Tenants -------------------------------------------------------------------------------------


async def test_two_tenants_may_use_the_same_job_id_without_seeing_each_other(
    owner: httpx.AsyncClient, rival: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    job_id = new_id("order")
    for client, message in ((owner, "acme's"), (rival, "rival's")):
        body = {"function": "echo", "args": {"message": message}, "job_id": job_id}
        created = await client.post("/v1/jobs", json=body)
        assert created.status_code == 202, created.text
        assert created.json()["job_id"] == job_id  # the caller's id, however it is stored
        assert created.headers["location"] == f"/v1/jobs/{job_id}"
    for client, message in ((owner, "acme's"), (rival, "rival's")):
        done = await client.get(f"/v1/jobs/{job_id}/result", params={"timeout": 10})
        assert done.status_code == 200
        assert (done.json()["job_id"], done.json()["result"]) == (job_id, {"message": message})
    # An admin sees both, by their stored ids.
    for tenant, message in (("acme", "acme's"), ("rival", "rival's")):
        seen = await admin.get(f"/v1/jobs/{tenant}~{job_id}")
        assert seen.json()["args"] == {"message": message}
    # The same id and args again: the tenant's own job (idempotent), not the other's.
    again = {"function": "echo", "args": {"message": "rival's"}, "job_id": job_id}
    assert (await rival.post("/v1/jobs", json=again)).status_code == 200
    assert (await owner.post("/v1/jobs", json=again)).status_code == 409  # acme's differs


async def test_another_tenants_job_is_not_found_on_every_route_and_no_id_leaks(
    owner: httpx.AsyncClient, rival: httpx.AsyncClient
) -> None:
    job_id = await ended_job(owner)  # acme's, aborted: retryable
    for method, path in [
        ("GET", f"/v1/jobs/{job_id}"),
        ("GET", f"/v1/jobs/{job_id}/result?timeout=1"),
        ("GET", f"/v1/jobs/{job_id}/events"),
        ("DELETE", f"/v1/jobs/{job_id}"),
        ("POST", f"/v1/jobs/{job_id}/retry"),
        ("GET", f"/v1/jobs/acme~{job_id}"),  # naming it by its stored id does not help
    ]:
        response = await rival.request(method, path)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["detail"].startswith(f"job '{path.split('/')[3].split('?')[0]}'")
    # The owner's retry runs in the owner's tenant, under an id the owner knows.
    retried = await owner.post(f"/v1/jobs/{job_id}/retry")
    assert retried.status_code == 202
    rerun = retried.json()
    assert "~" not in rerun["job_id"]
    assert rerun["retry_of"] == job_id
    assert (await owner.get(f"/v1/jobs/{rerun['job_id']}")).json()["retry_of"] == job_id
    assert (await owner.get(f"/v1/jobs/{job_id}")).json()["retried_as"] == rerun["job_id"]
    assert (await rival.get(f"/v1/jobs/{rerun['job_id']}")).status_code == 404


async def test_listings_and_bulk_retry_hold_the_callers_tenants_jobs_only(
    owner: httpx.AsyncClient, rival: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    function = "webhook"  # to a loopback name: the worker refuses it, the job fails
    body = {"function": function, "args": {"url": "http://localhost/hooks/t", "payload": {}}}
    ids = {}
    for name, client in (("acme", owner), ("rival", rival)):
        ids[name] = new_id(f"failing-{name}")
        assert (
            await client.post("/v1/jobs", json={**body, "job_id": ids[name]})
        ).status_code == 202
    for name, client in (("acme", owner), ("rival", rival)):
        await eventually(
            lambda c=client, j=ids[name]: _status_is(c, j, "failed"),  # type: ignore[misc]
            timeout=15,
            what=f"{name}'s webhook to fail",
        )
    listed = (await rival.get("/v1/jobs", params={"function": function, "limit": 500})).json()
    listed_ids = {job["job_id"] for job in listed["jobs"]}
    assert ids["rival"] in listed_ids
    assert ids["acme"] not in listed_ids
    assert not [i for i in listed_ids if "~" in i or i.startswith("failing-acme")]
    everything = (await admin.get("/v1/jobs", params={"function": function, "limit": 500})).json()
    assert {f"acme~{ids['acme']}", f"rival~{ids['rival']}"} <= {
        job["job_id"] for job in everything["jobs"]
    }
    # Bulk retry (ops:write): rival's failures only.
    bulk = await rival.post("/v1/jobs/retry", json={"function": function, "limit": 1000})
    assert bulk.status_code == 200
    assert (await owner.get(f"/v1/jobs/{ids['acme']}")).json()["retried_as"] is None
    rival_view = (await rival.get(f"/v1/jobs/{ids['rival']}")).json()
    assert rival_view["retried_as"] in bulk.json()["job_ids"]
    assert all("~" not in job_id for job_id in bulk.json()["job_ids"])


def depth(report: dict[str, Any]) -> tuple[int, int, int]:
    return report["queued"], report["deferred"], report["in_progress"]


async def queue_report(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/v1/queues")
    assert response.status_code == 200, response.text
    [report] = response.json()
    assert isinstance(report, dict)
    return report


async def test_queue_counts_and_series_are_the_callers_tenants_only(
    keyed: KeyedStack, admin: httpx.AsyncClient, rival: httpx.AsyncClient
) -> None:
    async with client_as(keyed.url, GAUGE) as gauge:
        assert depth(await queue_report(gauge)) == (0, 0, 0)  # a tenant with no job yet
        everyone, rivals = await queue_report(admin), await queue_report(rival)
        later = [
            (await enqueue(gauge, "echo", args={"message": "later"}, defer_by=3600))["job_id"]
            for _ in range(2)
        ]
        sleeping = (await enqueue(gauge, "sleep", args={"seconds": 3600}))["job_id"]
        await wait_for_status(gauge, sleeping, "in_progress")
        done = (await enqueue(gauge, "echo", args={"message": "now"}))["job_id"]
        assert (await outcome(gauge, done))["status"] == "succeeded"

        mine = await queue_report(gauge)
        assert depth(mine) == (0, 2, 1)
        assert mine["oldest_waiting_age_s"] is None  # (nothing of its due and waiting)
        assert mine["finished_last_minute"] == {"succeeded": 1, "failed": 0, "aborted": 0}
        assert (await queue_report(rival))["deferred"] == rivals["deferred"]
        assert (await queue_report(admin))["deferred"] == everyone["deferred"] + 2

        # The statistics cron (every second here) records the tenant's own series.
        async def series_shows_it() -> dict[str, Any] | None:
            series = (await queue_report(gauge))["series"]
            return series[0] if series and depth(series[0]) == (0, 2, 1) else None

        await eventually(series_shows_it, what="gauge's series to show its jobs")
        admin_series = (await queue_report(admin))["series"][0]
        assert admin_series["deferred"] >= 2

        for job_id in [*later, sleeping]:
            assert (await gauge.delete(f"/v1/jobs/{job_id}")).status_code in (200, 202)
        for job_id in [*later, sleeping]:
            await wait_for_status(gauge, job_id, "aborted")
        drained = await queue_report(gauge)
        assert depth(drained) == (0, 0, 0)
        assert drained["finished_last_minute"] == {"succeeded": 1, "failed": 0, "aborted": 3}


async def test_the_live_feed_carries_the_callers_tenants_events_only(
    keyed: KeyedStack, owner: httpx.AsyncClient, rival: httpx.AsyncClient
) -> None:
    acme_id, rival_id = new_id("feed-acme"), new_id("feed-rival")
    seen: list[dict[str, Any]] = []
    async with (
        client_as(keyed.url) as reader,
        reader.stream("GET", "/v1/events", headers=RIVAL.headers) as stream,
    ):
        assert stream.status_code == 200
        echo = {"function": "echo", "args": {"message": "feed"}}
        assert (await owner.post("/v1/jobs", json={**echo, "job_id": acme_id})).status_code == 202
        assert (await rival.post("/v1/jobs", json={**echo, "job_id": rival_id})).status_code == 202
        async with asyncio.timeout(15):
            async for event in read_sse(stream):
                seen.append(event.data)
                if event.data["job_id"] == rival_id and event.type == "succeeded":
                    break
    seen_ids = {data["job_id"] for data in seen}
    assert rival_id in seen_ids
    assert acme_id not in seen_ids  # (enqueued before rival's, it ran before it too)
    assert not [i for i in seen_ids if "~" in i]


async def test_a_jobs_view_and_events_say_which_key_enqueued_aborted_and_retried_it(
    keyed: KeyedStack, owner: httpx.AsyncClient
) -> None:
    writer = next(c for c in SCOPED if c.scopes == {Scope.jobs_write})
    job_id = await running_sleep(owner)
    view = (await owner.get(f"/v1/jobs/{job_id}")).json()
    assert (view["enqueued_by"], view["aborted_by"]) == (OWNER.name, None)
    aborted = await owner.delete(f"/v1/jobs/{job_id}", headers=writer.headers)
    assert aborted.json()["aborted_by"] == writer.name
    await eventually(lambda: _status_is(owner, job_id, "aborted"), timeout=10)
    rerun = (await owner.post(f"/v1/jobs/{job_id}/retry", headers=writer.headers)).json()
    assert rerun["enqueued_by"] == writer.name  # who retried it
    assert (await owner.get(f"/v1/jobs/{rerun['job_id']}")).json()["enqueued_by"] == writer.name
    original = (await owner.get(f"/v1/jobs/{job_id}")).json()
    assert (original["retried_as"], original["retried_by"]) == (rerun["job_id"], writer.name)
    async with owner.stream("GET", f"/v1/jobs/{job_id}/events") as stream:
        events = [event async for event in read_sse(stream)]  # (it ends: the job has)
    assert (events[0].type, events[0].data["by"]) == ("enqueued", OWNER.name)
    asked = [e for e in events if e.type == "abort_requested"]
    assert [(e.data["by"], e.data["job_id"]) for e in asked] == [(writer.name, job_id)]
    assert asked[0].data["status"] in ("queued", "in_progress")
    assert events[-1].type == "aborted"
    assert OWNER.token is not None
    assert OWNER.token not in json.dumps(view)


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/jobs/batch", "/v1/jobs/retry"])
@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b'{"jobs": 7}'])
async def test_a_write_is_refused_for_its_key_before_its_body_is_read(
    keyed: KeyedStack, path: str, body: bytes
) -> None:
    reader = next(c for c in SCOPED if c.scopes == {Scope.jobs_read})
    json_body = {"Content-Type": "application/json"}
    async with client_as(keyed.url) as client:
        anonymous = await client.post(path, content=body, headers=json_body)
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.headers["www-authenticate"] == "Bearer"
        headers = {**json_body, **reader.headers, "X-Request-ID": new_id("denied-body")}
        denied = await client.post(path, content=body, headers=headers)
        assert denied.status_code == 403, denied.text
    request_id = headers["X-Request-ID"]

    def audited() -> bool:
        return any(
            request_id in line and '"audit.' in line and '"denied"' in line
            for line in keyed.api.log_text().splitlines()
        )

    await eventually(audited, timeout=5, what="the refused write's audit line")


async def test_a_tenants_cursors_name_no_other_tenants_job_and_work_for_it_only(
    owner: httpx.AsyncClient, rival: httpx.AsyncClient
) -> None:
    echo = {"function": "echo", "args": {"message": "many"}}
    mine = new_id("cursor-rival")
    assert (await rival.post("/v1/jobs", json={**echo, "job_id": mine})).status_code == 202
    batch = {"jobs": [{**echo, "job_id": new_id("cursor-acme")} for _ in range(40)]}
    assert (await owner.post("/v1/jobs/batch", json=batch)).status_code == 200
    seen: list[str] = []
    cursor = None
    for _ in range(200):
        params: dict[str, str | int] = {"function": "echo", "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = (await rival.get("/v1/jobs", params=params)).json()
        seen += [job["job_id"] for job in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert "acme" not in cursor
        stolen = await owner.get("/v1/jobs", params={"cursor": cursor})
        assert stolen.status_code == 422  # another tenant's cursor is no cursor
    assert mine in seen
    assert not [job_id for job_id in seen if "acme" in job_id]
