"""The dashboard in a real browser: logging in with a key, the overview (following the queue
live), keyboard access, a schedule paused (no run in its slots), resumed and run now, the
workers, and screenshots at 1280 and 390 px (build/browser/)."""

import time

import httpx
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.accessibility import serious_violations
from tests.browser.conftest import ACME_TOKEN, ADMIN_TOKEN, READER_TOKEN, log_in, screenshot_path

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_a_key_logs_in_and_sees_the_overview_at_both_widths(
    offline: BrowserContext, api_url: str
) -> None:
    page = await offline.new_page()
    await page.goto(f"{api_url}/dashboard")
    await expect(page).to_have_url(f"{api_url}/dashboard/login")
    assert await serious_violations(page) == []
    await page.get_by_label("API key").fill("jq_not-a-key")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_contain_text("not valid")
    await page.get_by_label("API key").fill(ADMIN_TOKEN)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    await expect(page.locator('[data-stat="queued"]')).to_have_text("0")
    await expect(page.get_by_text("browser-admin")).to_be_visible()
    await page.screenshot(path=screenshot_path("overview-1280"), full_page=True)
    assert await serious_violations(page) == []
    await page.set_viewport_size({"width": 390, "height": 844})
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()
    await page.screenshot(path=screenshot_path("overview-390"), full_page=True)
    assert await serious_violations(page) == []

    await page.keyboard.press("Tab")  # the first stop: the skip link, visible when focused
    skip = page.get_by_role("link", name="Skip to content")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_in_viewport()

    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.get_by_role("link", name="Schedules").click()
    sweep = page.locator('tr[data-schedule="cron:sweep"]')
    await page.get_by_role("button", name="Pause cron:sweep").click()
    await expect(sweep).to_contain_text("paused by browser-admin")
    await page.screenshot(path=screenshot_path("schedules-1280"), full_page=True)
    assert await serious_violations(page) == []
    await page.get_by_role("button", name="Resume cron:sweep").click()
    await expect(page.get_by_role("button", name="Pause cron:sweep")).to_be_visible()
    await expect(sweep).not_to_contain_text("paused")  # (active, or running: it runs each second)

    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(f"{api_url}/dashboard/login")
    await page.goto(f"{api_url}/dashboard")
    await expect(page).to_have_url(f"{api_url}/dashboard/login")  # the session has ended


async def test_the_accessibility_check_finds_a_planted_violation(
    offline: BrowserContext, api_url: str
) -> None:
    """(So that "no serious violations" above is a check that can fail.)"""
    page = await offline.new_page()
    await page.goto(f"{api_url}/dashboard/login")
    await page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=\"/x.png\">')")
    assert [v for v in await serious_violations(page) if v.startswith("image-alt")]


async def test_the_overview_follows_the_queue_live(offline: BrowserContext, api_url: str) -> None:
    """(A tenant's overview: the per-second crons, enqueued a second ahead, are not counted.)"""
    page = await offline.new_page()
    await log_in(page, api_url, READER_TOKEN)
    deferred = page.locator('[data-stat="deferred"]')
    before = int(await deferred.inner_text())
    headers = {"Authorization": f"Bearer {ACME_TOKEN}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers) as acme:
        job = {"function": "echo", "args": {"message": "later"}, "defer_by": 300}
        assert (await acme.post("/v1/jobs", json=job)).status_code == 202
    await expect(deferred).to_have_text(str(before + 1))  # without a reload
    await expect(page.locator('[data-stat="per_minute"]')).to_be_visible()
    await page.screenshot(path=screenshot_path("overview-live-1280"), full_page=True)


async def _last_run(page: Page) -> str:
    return await page.locator(
        'tr[data-schedule="cron:sweep"] [data-cell="last-run"] a'
    ).inner_text()


async def _sweep_runs(api_url: str) -> str:
    async with httpx.AsyncClient(base_url=api_url, headers=ADMIN_HEADERS) as admin:
        crons = (await admin.get("/v1/cron")).json()
    [sweep] = [c for c in crons if c["name"] == "cron:sweep"]
    return str(sweep["last_run"]["job_id"])


async def test_a_paused_schedule_skips_its_slots_until_resumed_and_runs_now(
    offline: BrowserContext, api_url: str
) -> None:
    """(cron:sweep runs every second here.)"""
    page = await offline.new_page()
    await log_in(page, api_url, ADMIN_TOKEN)
    await page.get_by_role("link", name="Schedules").click()
    await page.get_by_role("button", name="Pause cron:sweep").click()
    row = page.locator('tr[data-schedule="cron:sweep"]')
    await expect(row).to_contain_text("paused by browser-admin")
    await page.wait_for_timeout(1200)  # (arq enqueues a slot up to 1 s ahead: that one runs)
    await page.reload()
    paused_at = await _last_run(page)
    deadline = time.monotonic() + 2.5  # two and a half of its slots
    while time.monotonic() < deadline:
        assert await _sweep_runs(api_url) == paused_at  # no run in a slot while paused
        await page.wait_for_timeout(250)
    await page.reload()
    assert await _last_run(page) == paused_at

    await page.get_by_role("button", name="Resume cron:sweep").click()
    await expect(row).not_to_contain_text("paused")
    for _ in range(40):  # its next slot runs it
        if await _sweep_runs(api_url) != paused_at:
            break
        await page.wait_for_timeout(250)
    await page.reload()
    assert await _last_run(page) != paused_at

    await page.get_by_role("button", name="Run now cron:sweep").click()
    await expect(row.locator('[data-cell="last-run"] a')).to_contain_text("cron:sweep:manual:")
    await row.locator('[data-cell="last-run"] a').click()  # the run's own page
    await expect(page.get_by_role("heading", name="Job cron:sweep:manual:")).to_be_visible()
    await expect(page.get_by_text("cron:sweep", exact=True).first).to_be_visible()


async def test_the_workers_page_shows_the_worker_alive(
    offline: BrowserContext, api_url: str
) -> None:
    page = await offline.new_page()
    await log_in(page, api_url, ADMIN_TOKEN)
    await page.get_by_role("link", name="Workers").click()
    await expect(page.locator("tr[data-worker]")).to_have_count(1)
    await expect(page.locator("tr[data-worker]")).to_contain_text("alive")
    await page.screenshot(path=screenshot_path("workers-1280"), full_page=True)
    assert await serious_violations(page) == []
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=screenshot_path("workers-390"), full_page=True)
    assert await serious_violations(page) == []
