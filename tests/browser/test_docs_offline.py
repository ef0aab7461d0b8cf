"""`/docs` and `/redoc` render in a real browser with every request beyond loopback blocked."""

from playwright.async_api import BrowserContext, Request

from tests.browser.conftest import screenshot_path

REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


async def test_swagger_ui_renders_the_api_with_the_network_blocked(
    offline: BrowserContext, api_url: str
) -> None:
    page = await offline.new_page()
    failed: list[str] = []

    def note(request: Request) -> None:
        failed.append(request.url)

    page.on("requestfailed", note)
    await page.goto(f"{api_url}/docs")
    title = page.locator(".swagger-ui .info .title")
    await title.wait_for(timeout=15_000)
    assert "jobqueue" in await title.inner_text()
    await page.locator(".opblock-tag", has_text="jobs").first.wait_for(timeout=15_000)
    assert await page.locator(".btn.authorize").count() == 1  # Authorize takes a bearer token
    await page.screenshot(path=screenshot_path("docs"), full_page=False)
    assert failed == []


async def test_redoc_renders_the_api_with_the_network_blocked(
    offline: BrowserContext, api_url: str
) -> None:
    page = await offline.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    await page.goto(f"{api_url}/redoc")
    heading = page.locator("h1", has_text="jobqueue")
    await heading.first.wait_for(timeout=15_000)
    await page.get_by_text("/v1/jobs/{job_id}", exact=False).first.wait_for(timeout=15_000)
    await page.screenshot(path=screenshot_path("redoc"), full_page=False)
    # ReDoc's bundle asks for its "powered by" logo from its CDN, and leaves it out when that
    # fails (an `onError` in the bundle): the one request the page makes beyond the API.
    assert failed in ([], [REDOC_LOGO])
