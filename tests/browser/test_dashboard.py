"""The dashboard in a real browser: logging in with a key, the overview, keyboard access, and
screenshots at 1280 and 390 px (build/browser/)."""

from playwright.async_api import BrowserContext, expect

from tests.browser.accessibility import serious_violations
from tests.browser.conftest import ADMIN_TOKEN, screenshot_path


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
    await expect(sweep).to_contain_text("active")

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
