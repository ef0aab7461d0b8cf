"""The jobs pages in a real browser against a real worker: a job followed live from queued to
running (its progress bar moving) to succeeded; a failure found by filter, opened, retried and
linked to its re-run; a running job aborted; a read-only key with no buttons (403 if it posts);
another tenant's job not found; screenshots at 1280 and 390 px (build/browser/)."""

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.accessibility import serious_violations
from tests.browser.conftest import (
    ACME_TOKEN,
    ADMIN_TOKEN,
    GLOBEX_TOKEN,
    READER_TOKEN,
    log_in,
    screenshot_path,
)
from tests.helpers.webhook_target import WebhookTarget


@pytest.fixture(scope="module")
def webhook_target() -> Iterator[WebhookTarget]:
    target = WebhookTarget()
    target.start()
    yield target
    target.stop()


@pytest.fixture
async def acme(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {ACME_TOKEN}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=10) as client:
        yield client


async def enqueue(client: httpx.AsyncClient, function: str, **args: Any) -> str:
    response = await client.post("/v1/jobs", json={"function": function, "args": args})
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    return job_id


async def progress_value(page: Page) -> float:
    return float(await page.locator("#progress-bar").evaluate("bar => bar.value"))


async def test_a_job_is_followed_live_from_queued_through_running_to_succeeded(
    offline: BrowserContext, api_url: str, acme: httpx.AsyncClient
) -> None:
    """(A worker runs one of a tenant's jobs at a time: the second waits while the first runs.)"""
    page = await offline.new_page()
    await log_in(page, api_url, ACME_TOKEN)
    await page.get_by_role("link", name="Jobs").click()
    await expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    first = await enqueue(acme, "sleep", seconds=2)
    second = await enqueue(acme, "sleep", seconds=3)
    rows = page.locator("tbody#jobs tr")
    await expect(page.locator(f'tr[data-job="{second}"]')).to_be_visible()  # (no reload)
    await expect(page.locator(f'tr[data-job="{first}"]')).to_contain_text("in progress")
    assert await rows.count() == 2
    await page.screenshot(path=screenshot_path("jobs-1280"), full_page=True)
    assert await serious_violations(page) == []

    await page.locator(f'tr[data-job="{second}"]').get_by_role("link").click()
    heading = page.get_by_role("heading", name=f"Job {second}")
    await expect(heading).to_contain_text("queued")
    url = page.url
    await expect(heading).to_contain_text("in progress", timeout=10_000)
    bar = page.locator("#progress-bar")
    await expect(bar).to_be_visible()
    await expect(page.locator("#progress-text")).to_contain_text("slept 1.0 of 3s")
    seen = await progress_value(page)
    await expect(page.locator("#progress-text")).to_contain_text("slept 2.0 of 3s")
    assert await progress_value(page) > seen  # the bar moved
    await page.screenshot(path=screenshot_path("job-running-1280"), full_page=True)
    await expect(heading).to_contain_text("succeeded", timeout=10_000)
    await expect(page.locator(".timeline")).to_contain_text("try 1 succeeded")
    await expect(page.get_by_text('"slept": 3.0')).to_be_visible()
    assert page.url == url  # all of it without a reload
    await page.screenshot(path=screenshot_path("job-1280"), full_page=True)
    assert await serious_violations(page) == []
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=screenshot_path("job-390"), full_page=True)
    assert await serious_violations(page) == []
    await page.get_by_role("link", name="Jobs").click()
    await page.screenshot(path=screenshot_path("jobs-390"), full_page=True)
    assert await serious_violations(page) == []


async def test_a_failure_is_found_opened_retried_and_linked_to_its_rerun(
    offline: BrowserContext, api_url: str, acme: httpx.AsyncClient, webhook_target: WebhookTarget
) -> None:
    name = f"browser-{uuid.uuid4().hex[:8]}"
    webhook_target.script(name, [503, 404])  # a retry, then a refusal: it fails
    failed = await enqueue(acme, "webhook", url=webhook_target.url(name), payload={"n": 1})
    ok = await enqueue(acme, "echo", message="fine")
    async with httpx.AsyncClient(base_url=api_url, headers=acme.headers) as client:
        done = await client.get(f"/v1/jobs/{failed}/result", params={"timeout": 20})
        assert done.json()["status"] == "failed"
    page = await offline.new_page()
    await log_in(page, api_url, ACME_TOKEN)
    await page.goto(f"{api_url}/dashboard/jobs")
    await page.get_by_label("Status").select_option("failed")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator(f'tr[data-job="{failed}"]')).to_be_visible()
    await expect(page.locator(f'tr[data-job="{ok}"]')).to_have_count(0)
    await page.locator(f'tr[data-job="{failed}"]').get_by_role("link").click()
    await expect(page.get_by_role("heading", name=f"Job {failed}")).to_contain_text("failed")
    await expect(page.locator(".error")).to_contain_text("WebhookRejected")
    timeline = page.locator(".timeline")
    await expect(timeline).to_contain_text("try 1 failed")
    await expect(timeline).to_contain_text("retry in")
    await expect(timeline).to_contain_text("try 2 failed")

    webhook_target.script(name, [200])
    await page.get_by_role("button", name="Retry").click()
    heading = page.get_by_role("heading", name="Job")
    await expect(heading).not_to_contain_text(failed)
    rerun = page.url.rsplit("/", 1)[-1]
    await expect(heading).to_contain_text("succeeded", timeout=10_000)
    await page.get_by_role("link", name=failed).click()  # "Re-runs": back to the original
    await expect(page.get_by_role("heading", name=f"Job {failed}")).to_be_visible()
    await expect(page.get_by_role("link", name=rerun)).to_be_visible()  # "Re-run as"
    await expect(page.get_by_role("button", name="Retry")).to_have_count(0)  # (once only)
    await page.screenshot(path=screenshot_path("job-failed-1280"), full_page=True)
    assert await serious_violations(page) == []


async def test_a_running_job_is_aborted_from_its_page(
    offline: BrowserContext, api_url: str
) -> None:
    page = await offline.new_page()
    await log_in(page, api_url, ADMIN_TOKEN)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers) as admin:
        job = await enqueue(admin, "sleep", seconds=60)
    await page.goto(f"{api_url}/dashboard/jobs/{job}")
    heading = page.get_by_role("heading", name=f"Job {job}")
    await expect(heading).to_contain_text("in progress")
    await page.get_by_role("button", name="Abort").click()
    await expect(heading).to_contain_text("aborted", timeout=10_000)
    await expect(page.locator(".timeline")).to_contain_text("abort requested by browser-admin")
    await expect(page.get_by_role("button", name="Abort")).to_have_count(0)
    await page.get_by_role("link", name="Overview").click()  # (with the jobs above in it)
    await expect(page.locator('[data-stat="aborted"]')).not_to_have_text("0")
    await page.screenshot(path=screenshot_path("overview-busy-1280"), full_page=True)


async def test_a_read_only_key_sees_no_buttons_and_is_refused_if_it_posts(
    offline: BrowserContext, api_url: str, acme: httpx.AsyncClient
) -> None:
    job = await enqueue(acme, "sleep", seconds=30)
    page = await offline.new_page()
    await log_in(page, api_url, READER_TOKEN)
    await page.goto(f"{api_url}/dashboard/jobs/{job}")
    await expect(page.get_by_role("heading", name=f"Job {job}")).to_be_visible()
    await expect(page.get_by_role("button", name="Abort")).to_have_count(0)
    await page.goto(f"{api_url}/dashboard/schedules")
    await expect(page.locator('tr[data-schedule="cron:sweep"]')).to_be_visible()
    await expect(page.locator("table button")).to_have_count(0)
    csrf = await page.locator('input[name="csrf"]').first.get_attribute("value")
    assert csrf  # (the logout form's: a post carries the session's own token)
    for action in (f"jobs/{job}/abort", "schedules/cron:sweep/pause", "schedules/cron:sweep/run"):
        refused = await page.request.post(
            f"{api_url}/dashboard/{action}", form={"csrf": csrf}, max_redirects=0
        )
        assert refused.status == 403, action
        assert "lacks the scope" in await refused.text()
    assert (await acme.get(f"/v1/jobs/{job}")).json()["status"] in ("queued", "in_progress")
    await acme.delete(f"/v1/jobs/{job}")


async def test_another_tenants_job_is_not_found(
    offline: BrowserContext, api_url: str, acme: httpx.AsyncClient
) -> None:
    job = await enqueue(acme, "echo", message="acme's")
    page = await offline.new_page()
    await log_in(page, api_url, GLOBEX_TOKEN)
    response = await page.goto(f"{api_url}/dashboard/jobs/{job}")
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_role("alert")).to_contain_text("not found")
    await page.goto(f"{api_url}/dashboard/jobs")
    await expect(page.locator(f'tr[data-job="{job}"]')).to_have_count(0)
    await expect(page.locator("#no-jobs")).to_be_visible()


async def test_a_live_page_goes_to_the_login_page_once_its_session_ends(
    offline: BrowserContext, api_url: str, acme: httpx.AsyncClient
) -> None:
    job = await enqueue(acme, "sleep", seconds=20)
    watching = await offline.new_page()
    await log_in(watching, api_url, ACME_TOKEN)
    await watching.goto(f"{api_url}/dashboard/jobs/{job}")
    await expect(watching.get_by_role("heading", name=f"Job {job}")).to_be_visible()
    other = await offline.new_page()  # (the same browser: the same session)
    await other.goto(f"{api_url}/dashboard")
    await other.get_by_role("button", name="Log out").click()
    await expect(other).to_have_url(f"{api_url}/dashboard/login")
    # The job's feed ends at its next progress report; the page finds its session gone.
    await expect(watching).to_have_url(f"{api_url}/dashboard/login", timeout=15_000)
    await acme.delete(f"/v1/jobs/{job}")
