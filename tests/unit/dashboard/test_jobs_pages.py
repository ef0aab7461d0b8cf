"""The dashboard's jobs pages (fakeredis, the app in-process, no worker): the list is the
tenant's own, filtered and paged, with a 422 for a bad filter or cursor; a job's page masks its
secrets and shows its timeline; abort, retry and bulk retry need their scopes, the page's token
and a same-origin form; another tenant's job is not found anywhere; the workers page."""

from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest

from jobqueue.access import tokens
from jobqueue.access.scopes import Scope
from jobqueue.dashboard.routes.jobs import PAGE_SIZE
from tests.helpers.dashboard import csrf_of, key, write_keys

WRITER = tokens.mint()  # tenant acme: read and write its jobs
READER = tokens.mint()  # tenant acme: read only
OPERATOR = tokens.mint()  # tenant acme: its jobs and the operations
RIVAL = tokens.mint()  # tenant globex


KEYS = (
    key("writer", WRITER, Scope.jobs_read, Scope.jobs_write, tenant="acme"),
    key("reader", READER, Scope.jobs_read, tenant="acme"),
    key("operator", OPERATOR, *(s for s in Scope if s is not Scope.admin), tenant="acme"),
    key("rival", RIVAL, Scope.jobs_read, Scope.jobs_write, tenant="globex"),
)


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    return write_keys(tmp_path / "keys.toml", *KEYS)


async def log_in(client: httpx.AsyncClient, token: str) -> None:
    client.cookies.clear()
    response = await client.post("/dashboard/login", data={"token": token})
    assert response.status_code == 303


async def enqueue(client: httpx.AsyncClient, token: str, function: str, **args: Any) -> str:
    response = await client.post(
        "/v1/jobs",
        json={"function": function, "args": args},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    return job_id


async def test_the_list_holds_the_tenants_jobs_filtered_and_paged(
    dashboard: httpx.AsyncClient,
) -> None:
    sleeps = [await enqueue(dashboard, WRITER, "sleep", seconds=1) for _ in range(PAGE_SIZE + 2)]
    echo = await enqueue(dashboard, WRITER, "echo", message="hi")
    rivals = await enqueue(dashboard, RIVAL, "echo", message="mine")
    await log_in(dashboard, READER)
    first = await dashboard.get("/dashboard/jobs", params={"function": "sleep"})
    assert first.status_code == 200
    assert first.text.count("<tr data-job=") == PAGE_SIZE
    assert f'data-job="{sleeps[-1]}"' in first.text  # newest first
    assert f'data-job="{echo}"' not in first.text
    assert 'data-live="jobs"' in first.text  # the first page follows the feed
    older = first.text.split('rel="next"', 1)[0].rsplit('href="', 1)[1].split('"', 1)[0]
    second = await dashboard.get(older.replace("&amp;", "&"))
    assert second.text.count("<tr data-job=") == 2
    assert f'data-job="{sleeps[0]}"' in second.text
    assert 'data-live="jobs"' not in second.text  # (an older page stays as it is)
    everything = (await dashboard.get("/dashboard/jobs")).text
    assert f'data-job="{echo}"' in everything
    assert f'data-job="{rivals}"' not in everything
    waiting = (await dashboard.get("/dashboard/jobs", params={"status": "queued"})).text
    assert f'data-job="{echo}"' in waiting
    done = (await dashboard.get("/dashboard/jobs", params={"status": "succeeded"})).text
    assert "No jobs match the filter." in done


async def test_a_bad_filter_or_cursor_is_a_422_saying_why(dashboard: httpx.AsyncClient) -> None:
    await log_in(dashboard, READER)
    bad = await dashboard.get("/dashboard/jobs", params={"status": "lost"})
    assert bad.status_code == 422
    assert "status must be one of" in bad.text
    assert "&#39;lost&#39;" in bad.text
    cursor = await dashboard.get("/dashboard/jobs", params={"cursor": "not-a-cursor"})
    assert cursor.status_code == 422
    assert 'role="alert"' in cursor.text


async def test_a_jobs_page_masks_its_secrets_and_shows_its_timeline(
    dashboard: httpx.AsyncClient,
) -> None:
    job = await enqueue(
        dashboard,
        WRITER,
        "webhook",
        url="http://127.0.0.1:9/hook",
        payload={"n": 1},
        headers={"Authorization": "Bearer hook-secret-123"},
    )
    await log_in(dashboard, READER)
    page = await dashboard.get(f"/dashboard/jobs/{job}")
    assert page.status_code == 200
    assert "hook-secret-123" not in page.text
    assert "**********" in page.text
    assert f"Job <code>{job}</code>" in page.text
    assert 'data-event="enqueued"' in page.text
    assert "enqueued by writer" in page.text
    assert 'data-live="job"' in page.text  # (it has not finished: the page follows it)
    panel = await dashboard.get(f"/dashboard/jobs/{job}/panel")
    assert "hook-secret-123" not in panel.text
    assert "<html" not in panel.text
    row = await dashboard.get(f"/dashboard/jobs/{job}/row")
    assert row.text.strip().startswith("<tr")
    assert 'button type="submit" class="danger">Abort' not in page.text  # (a reader)


async def test_abort_and_retry_need_the_scope_the_token_and_our_origin(
    dashboard: httpx.AsyncClient,
) -> None:
    job = await enqueue(dashboard, WRITER, "sleep", seconds=30)
    await log_in(dashboard, READER)
    csrf = csrf_of((await dashboard.get(f"/dashboard/jobs/{job}")).text)
    refused = await dashboard.post(f"/dashboard/jobs/{job}/abort", data={"csrf": csrf})
    assert refused.status_code == 403
    assert "lacks the scope &#39;jobs:write&#39;" in refused.text

    await log_in(dashboard, WRITER)
    page = (await dashboard.get(f"/dashboard/jobs/{job}")).text
    assert ">Abort</button>" in page
    csrf = csrf_of(page)
    stale = await dashboard.post(f"/dashboard/jobs/{job}/abort", data={"csrf": "stale"})
    assert stale.status_code == 403
    foreign = await dashboard.post(
        f"/dashboard/jobs/{job}/abort", data={"csrf": csrf}, headers={"Origin": "https://x.test"}
    )
    assert foreign.status_code == 403
    aborted = await dashboard.post(f"/dashboard/jobs/{job}/abort", data={"csrf": csrf})
    assert (aborted.status_code, aborted.headers["location"]) == (303, f"/dashboard/jobs/{job}")
    page = (await dashboard.get(f"/dashboard/jobs/{job}")).text
    assert "status-aborted" in page
    assert "abort requested by writer" in page or "aborted by writer" in page
    again = await dashboard.post(f"/dashboard/jobs/{job}/abort", data={"csrf": csrf})
    assert again.status_code == 409  # (as the API: it has ended)

    retried = await dashboard.post(f"/dashboard/jobs/{job}/retry", data={"csrf": csrf})
    assert retried.status_code == 303
    rerun_page = (await dashboard.get(retried.headers["location"])).text
    assert f'href="/dashboard/jobs/{job}" rel="prev"' in rerun_page
    original = (await dashboard.get(f"/dashboard/jobs/{job}")).text
    rerun = retried.headers["location"].rsplit("/", 1)[1]
    assert f'rel="next"><code>{rerun}</code></a> by writer' in original
    assert ">Retry</button>" not in original  # (re-run once)


async def test_bulk_retry_is_confirmed_first_and_needs_ops_write(
    dashboard: httpx.AsyncClient,
) -> None:
    jobs = [await enqueue(dashboard, WRITER, "sleep", seconds=30) for _ in range(3)]
    await log_in(dashboard, WRITER)
    csrf = csrf_of((await dashboard.get("/dashboard/jobs")).text)
    for job in jobs[:2]:
        await dashboard.post(f"/dashboard/jobs/{job}/abort", data={"csrf": csrf})
    listed = (await dashboard.get("/dashboard/jobs", params={"status": "aborted"})).text
    assert "Retry these aborted jobs" not in listed  # (it lacks ops:write)
    refused = await dashboard.post(
        "/dashboard/retry-jobs", data={"csrf": csrf, "status": "aborted"}
    )
    assert refused.status_code == 403

    await log_in(dashboard, OPERATOR)
    listed = (await dashboard.get("/dashboard/jobs", params={"status": "aborted"})).text
    assert "Retry these aborted jobs" in listed
    confirm = await dashboard.get("/dashboard/retry-jobs", params={"status": "aborted"})
    assert "Yes, retry them" in confirm.text
    csrf = csrf_of(confirm.text)
    done = await dashboard.post("/dashboard/retry-jobs", data={"csrf": csrf, "status": "aborted"})
    assert done.status_code == 303
    assert "retried=2" in done.headers["location"]
    again = await dashboard.post("/dashboard/retry-jobs", data={"csrf": csrf, "status": "aborted"})
    assert "retried=0&already=2" in again.headers["location"]
    note = (await dashboard.get(again.headers["location"])).text
    assert "Re-ran 0 jobs (2 already re-run)." in note
    wrong = await dashboard.post("/dashboard/retry-jobs", data={"csrf": csrf, "status": "queued"})
    assert wrong.status_code == 422


async def test_a_job_named_retry_opens_as_any_other(dashboard: httpx.AsyncClient) -> None:
    """(The bulk re-run's page is at /retry-jobs: no job id can take its path.)"""
    response = await dashboard.post(
        "/v1/jobs",
        json={"function": "echo", "args": {"message": "x"}, "job_id": "retry"},
        headers={"Authorization": f"Bearer {WRITER}"},
    )
    assert response.status_code == 202
    await log_in(dashboard, READER)
    assert "Job <code>retry</code>" in (await dashboard.get("/dashboard/jobs/retry")).text


async def test_another_tenants_job_is_not_found_anywhere(dashboard: httpx.AsyncClient) -> None:
    job = await enqueue(dashboard, RIVAL, "sleep", seconds=30)
    await log_in(dashboard, WRITER)
    csrf = csrf_of((await dashboard.get("/dashboard/jobs")).text)
    for path in ("", "/panel", "/row", "/events"):
        response = await dashboard.get(f"/dashboard/jobs/{job}{path}")
        assert response.status_code == 404, path
        assert "not found" in response.text
    for action in ("abort", "retry"):
        response = await dashboard.post(f"/dashboard/jobs/{job}/{action}", data={"csrf": csrf})
        assert response.status_code == 404, action


async def test_a_finished_jobs_events_stream_to_its_end(dashboard: httpx.AsyncClient) -> None:
    job = await enqueue(dashboard, WRITER, "sleep", seconds=30)
    assert (await dashboard.get(f"/dashboard/jobs/{job}/events")).status_code == 401
    await log_in(dashboard, WRITER)
    csrf = csrf_of((await dashboard.get("/dashboard/jobs")).text)
    await dashboard.post(f"/dashboard/jobs/{job}/abort", data={"csrf": csrf})
    events = await dashboard.get(f"/dashboard/jobs/{job}/events")
    assert events.headers["content-type"].startswith("text/event-stream")
    assert "event: enqueued" in events.text
    assert "event: aborted" in events.text
    bad = await dashboard.get(f"/dashboard/jobs/{job}/events", params={"after": "nope"})
    assert bad.status_code == 422


async def test_the_workers_page_says_none_has_reported_in(dashboard: httpx.AsyncClient) -> None:
    await log_in(dashboard, READER)
    page = (await dashboard.get("/dashboard/workers")).text
    assert "lacks the scope <code>ops:read</code>" in page
    await log_in(dashboard, OPERATOR)
    page = (await dashboard.get("/dashboard/workers")).text
    assert "No worker has reported in" in page


async def test_with_redis_unreachable_a_page_says_so_with_a_503(
    dashboard: httpx.AsyncClient, fake_server: fakeredis.FakeServer
) -> None:
    await log_in(dashboard, OPERATOR)
    fake_server.connected = False
    for path in ("/dashboard", "/dashboard/jobs", "/dashboard/workers", "/dashboard/schedules"):
        response = await dashboard.get(path)
        assert response.status_code == 503, path
        assert response.headers["retry-after"] == "5"
        assert response.headers["content-type"].startswith("text/html")
        assert "Redis" in response.text
    fake_server.connected = True  # (healing is the circuit's, shown by the API's outage tests)
