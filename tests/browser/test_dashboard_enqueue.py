"""The dashboard's Enqueue page in a real browser: a job enqueued from the form generated from
its args schema, a bad value first shown beside its field; screenshots at 1280 and 390 px."""

import re

from playwright.async_api import BrowserContext, expect

from tests.browser.accessibility import serious_violations
from tests.browser.conftest import ADMIN_TOKEN, screenshot_path


async def test_a_job_is_enqueued_from_its_generated_form_after_a_bad_value_is_named(
    offline: BrowserContext, api_url: str
) -> None:
    page = await offline.new_page()
    await page.goto(f"{api_url}/dashboard/login")
    await page.get_by_label("API key").fill(ADMIN_TOKEN)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    await page.get_by_role("link", name="Enqueue").click()
    await expect(page.get_by_role("heading", name="Enqueue")).to_be_visible()
    assert await serious_violations(page) == []
    await page.get_by_role("link", name="sleep").click()
    await expect(page.get_by_role("heading", name="Enqueue sleep")).to_be_visible()
    seconds = page.get_by_label("Seconds (required)", exact=True)
    await expect(seconds).to_have_attribute("type", "number")

    await seconds.fill("-1")
    await page.get_by_role("button", name="Enqueue").click()
    message = page.locator("#field-args_seconds-error")
    await expect(message).to_have_text("Input should be greater than or equal to 0")
    await expect(seconds).to_have_attribute("aria-invalid", "true")
    await expect(seconds).to_have_accessible_description(re.compile("greater than or equal to 0"))
    await expect(seconds).to_have_value("-1")
    await expect(page.get_by_role("alert")).to_contain_text("Seconds")
    await page.screenshot(path=screenshot_path("enqueue-error-1280"), full_page=True)
    assert await serious_violations(page) == []
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=screenshot_path("enqueue-error-390"), full_page=True)
    assert await serious_violations(page) == []
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # (nothing wider than the phone)

    await page.get_by_role(
        "link", name="Seconds", exact=True
    ).click()  # (the summary's link to the field)
    await expect(seconds).to_be_focused()
    await seconds.fill("0.5")
    await page.get_by_role("button", name="Enqueue").click()
    await expect(page).to_have_url(
        re.compile(re.escape(f"{api_url}/dashboard/jobs/") + r"[\w.:-]+$")
    )
