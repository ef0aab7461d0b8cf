"""The dashboard's login, session and overview (fakeredis, the app in-process): a key logs in to
an HttpOnly, SameSite=Strict session; a bad key, a cross-site form, a missing CSRF token and a
removed key are refused; a tenant's overview counts its own jobs; auth off needs no login."""

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from jobqueue.access import tokens
from jobqueue.access.cli import entry
from jobqueue.access.scopes import Scope
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from tests.helpers.dashboard import csrf_of, key, write_keys

OPS = tokens.mint()
READER = tokens.mint()
GONE = tokens.mint()
WATCHER = tokens.mint()
ROOT = tokens.mint()


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    return write_keys(
        tmp_path / "keys.toml",
        key("ops", OPS, Scope.ops_read, Scope.ops_write, Scope.jobs_read, tenant="acme"),
        key("reader", READER, Scope.jobs_read, tenant="acme"),
        key("watcher", WATCHER, Scope.ops_read, tenant="acme"),
        key("root", ROOT, Scope.admin),
    )


async def log_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/dashboard/login", data={"token": token})


async def test_a_visitor_without_a_session_is_sent_to_the_login_page(
    dashboard: httpx.AsyncClient,
) -> None:
    response = await dashboard.get("/dashboard")
    assert (response.status_code, response.headers["location"]) == (303, "/dashboard/login")
    page = await dashboard.get("/dashboard/login")
    assert page.status_code == 200
    assert 'name="token"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


async def test_a_key_logs_in_to_an_http_only_strict_session_stored_by_its_hash(
    dashboard: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    response = await log_in(dashboard, OPS)
    assert (response.status_code, response.headers["location"]) == (303, "/dashboard")
    cookie = response.headers["set-cookie"]
    assert "jq_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/dashboard" in cookie
    overview = await dashboard.get("/dashboard")
    assert overview.status_code == 200
    assert "ops · tenant acme" in overview.text
    # Redis holds the session under its cookie's hash, with the key's hash: no token, no cookie.
    [stored] = [k async for k in redis.scan_iter(match=keys.session("*"))]
    fields = await redis.hgetall(stored)  # type: ignore[misc]
    raw = b" ".join([stored, *fields.keys(), *fields.values()])
    assert OPS.encode() not in raw
    assert dashboard.cookies["jq_session"].encode() not in raw


async def test_a_bad_key_is_refused_on_the_login_page(dashboard: httpx.AsyncClient) -> None:
    response = await log_in(dashboard, GONE)
    assert response.status_code == 401
    assert "not valid" in response.text
    assert "set-cookie" not in response.headers


async def test_a_login_form_from_another_site_is_refused(dashboard: httpx.AsyncClient) -> None:
    response = await dashboard.post(
        "/dashboard/login", data={"token": OPS}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    cross = await dashboard.post(
        "/dashboard/login", data={"token": OPS}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 403


async def test_logging_out_needs_the_pages_csrf_token_and_ends_the_session(
    dashboard: httpx.AsyncClient,
) -> None:
    await log_in(dashboard, OPS)
    assert (await dashboard.post("/dashboard/logout", data={"csrf": "forged"})).status_code == 403
    assert (await dashboard.get("/dashboard")).status_code == 200
    page = (await dashboard.get("/dashboard")).text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    out = await dashboard.post("/dashboard/logout", data={"csrf": csrf})
    assert (out.status_code, out.headers["location"]) == (303, "/dashboard/login")
    assert (await dashboard.get("/dashboard")).status_code == 303


async def test_a_session_ends_when_its_key_is_removed(
    dashboard: httpx.AsyncClient, keys_file: Path, app: FastAPI
) -> None:
    await log_in(dashboard, READER)
    assert (await dashboard.get("/dashboard")).status_code == 200
    keys_file.write_text(entry(key("ops", OPS, Scope.ops_read)) + "\n")  # noqa: ASYNC240
    app.state.services.gate.reload(force=True)
    assert (await dashboard.get("/dashboard")).status_code == 303


async def test_a_key_without_ops_read_sees_no_figures(dashboard: httpx.AsyncClient) -> None:
    await log_in(dashboard, READER)
    page = await dashboard.get("/dashboard")
    assert "lacks the scope <code>ops:read</code>" in page.text
    assert 'data-stat="queued"' not in page.text


async def test_a_tenants_overview_counts_its_own_jobs_only(
    dashboard: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    await redis.enqueue_job("echo", _job_id="acme~a", message="x")
    await redis.enqueue_job("echo", _job_id="acme~b", message="x")
    await redis.enqueue_job("echo", _job_id="rival~c", message="x")
    await log_in(dashboard, OPS)
    page = (await dashboard.get("/dashboard")).text
    assert '<dd data-stat="queued">2</dd>' in page


async def test_with_auth_off_the_dashboard_opens_at_once_with_a_session(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/dashboard")
    assert response.status_code == 200
    assert "jq_session=" in response.headers["set-cookie"]
    assert (await client.get("/dashboard/login")).status_code == 303


async def test_an_admin_pauses_resumes_and_runs_a_schedule_from_its_page(
    dashboard: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    await log_in(dashboard, ROOT)
    page = (await dashboard.get("/dashboard/schedules")).text
    assert 'data-schedule="cron:sweep"' in page
    assert 'aria-label="Pause cron:sweep"' in page
    csrf = csrf_of(page)
    paused = await dashboard.post("/dashboard/schedules/cron:sweep/pause", data={"csrf": csrf})
    assert (paused.status_code, paused.headers["location"]) == (303, "/dashboard/schedules")
    page = (await dashboard.get("/dashboard/schedules")).text
    assert "paused</span> by root" in page
    assert 'aria-label="Resume cron:sweep"' in page
    ran = await dashboard.post("/dashboard/schedules/cron:sweep/run", data={"csrf": csrf})
    assert ran.status_code == 303
    state = await redis.hgetall(keys.schedule("cron:sweep"))  # type: ignore[misc]
    assert state[b"last_run"].startswith(b"cron:sweep:manual:")
    again = await dashboard.post("/dashboard/schedules/cron:sweep/resume", data={"csrf": csrf})
    assert again.status_code == 303
    assert b"paused_at_ms" not in await redis.hgetall(keys.schedule("cron:sweep"))  # type: ignore[misc]
    missing = await dashboard.post("/dashboard/schedules/cron:nope/pause", data={"csrf": csrf})
    assert missing.status_code == 404
    assert "no cron job named &#39;cron:nope&#39;" in missing.text


async def test_an_action_without_the_pages_token_or_from_another_site_is_refused(
    dashboard: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    await log_in(dashboard, OPS)
    csrf = csrf_of((await dashboard.get("/dashboard/schedules")).text)
    forged = await dashboard.post("/dashboard/schedules/cron:sweep/pause", data={"csrf": "x"})
    assert forged.status_code == 403
    cross = await dashboard.post(
        "/dashboard/schedules/cron:sweep/pause",
        data={"csrf": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    assert await redis.hgetall(keys.schedule("cron:sweep")) == {}  # type: ignore[misc]


async def test_a_read_only_key_sees_no_action_buttons_and_is_refused_if_it_posts(
    dashboard: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    await log_in(dashboard, WATCHER)
    page = (await dashboard.get("/dashboard/schedules")).text
    assert 'data-schedule="cron:sweep"' in page
    assert '<button type="submit" aria-label' not in page
    refused = await dashboard.post(
        "/dashboard/schedules/cron:sweep/run", data={"csrf": csrf_of(page)}
    )
    assert refused.status_code == 403
    assert "lacks the scope &#39;ops:write&#39;" in refused.text
    assert await redis.hgetall(keys.schedule("cron:sweep")) == {}  # type: ignore[misc]


async def test_a_tenants_operator_runs_schedules_but_may_not_pause_them_for_everyone(
    dashboard: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    await log_in(dashboard, OPS)
    page = (await dashboard.get("/dashboard/schedules")).text
    assert 'aria-label="Run now cron:sweep"' in page
    assert 'aria-label="Pause cron:sweep"' not in page
    refused = await dashboard.post(
        "/dashboard/schedules/cron:sweep/pause", data={"csrf": csrf_of(page)}
    )
    assert refused.status_code == 403
    assert "lacks the scope &#39;admin&#39;" in refused.text
    assert await redis.hgetall(keys.schedule("cron:sweep")) == {}  # type: ignore[misc]


async def test_odd_forms_are_refused_with_a_4xx_never_a_500(dashboard: httpx.AsyncClient) -> None:
    many = "&".join(f"f{i}=1" for i in range(70))
    form = {"content-type": "application/x-www-form-urlencoded"}
    login = await dashboard.post("/dashboard/login", content=many, headers=form)
    assert login.status_code == 413
    huge = await dashboard.post("/dashboard/login", content="token=" + "x" * 70_000, headers=form)
    assert huge.status_code == 413  # (here the service's body limit, 10 kB, says so first)
    empty = await dashboard.post("/dashboard/login", data={"token": " "})
    assert (empty.status_code, "paste an API key" in empty.text) == (401, True)
    await log_in(dashboard, ROOT)
    for token in ("é", "\u0000", "x" * 5000):
        response = await dashboard.post(
            "/dashboard/schedules/cron:sweep/pause", data={"csrf": token}
        )
        assert response.status_code == 403, token


async def test_an_action_without_a_session_is_a_401_with_a_login_form(
    dashboard: httpx.AsyncClient,
) -> None:
    response = await dashboard.post("/dashboard/schedules/cron:sweep/run", data={"csrf": "x"})
    assert response.status_code == 401
    assert "your session has ended" in response.text
    assert 'name="token"' in response.text


async def test_a_logged_in_visitor_is_sent_from_the_login_page_to_the_overview(
    dashboard: httpx.AsyncClient,
) -> None:
    await log_in(dashboard, OPS)
    response = await dashboard.get("/dashboard/login")
    assert (response.status_code, response.headers["location"]) == (303, "/dashboard")
