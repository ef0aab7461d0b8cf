"""Browser tests: real headless Chromium (Debian's `chromium`, or `CHROMIUM_PATH`) driven by
Playwright's Python package through `executable_path` (Playwright's own browser download is not
used). Without a Chromium they are skipped, and the run ends with a line saying how to enable
them. Screenshots go to `build/browser/` (not committed)."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright, expect

from jobqueue.access import tokens
from jobqueue.access.cli import entry
from jobqueue.access.keyring import ApiKey
from jobqueue.access.scopes import Scope
from tests.browser.chromium import ENABLE_HINT, chromium_path
from tests.helpers.services import REPO_ROOT, RedisServer, service_env, start_api, start_worker

ARTIFACTS = REPO_ROOT / "build" / "browser"
LOOPBACK = ("http://127.0.0.1", "http://localhost", "http://[::1]")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if chromium_path() is not None:
        return
    skip = pytest.mark.skip(reason=ENABLE_HINT)
    browser_dir = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(browser_dir):
            item.add_marker(skip)


def _key(name: str, token: str, *scopes: Scope, tenant: str | None = None) -> ApiKey:
    return ApiKey(name=name, hash=tokens.hash_of(token), scopes=frozenset(scopes), tenant=tenant)


ADMIN_TOKEN = tokens.mint()
READER_TOKEN = tokens.mint()  # reads tenant acme's jobs and the service's state, may do nothing
ACME_TOKEN = tokens.mint()  # tenant acme's jobs: read and write
GLOBEX_TOKEN = tokens.mint()  # tenant globex's
KEYS = (
    _key("browser-admin", ADMIN_TOKEN, Scope.admin),
    _key("browser-reader", READER_TOKEN, Scope.jobs_read, Scope.ops_read, tenant="acme"),
    _key("acme-dev", ACME_TOKEN, Scope.jobs_read, Scope.jobs_write, tenant="acme"),
    _key("globex-dev", GLOBEX_TOKEN, Scope.jobs_read, Scope.jobs_write, tenant="globex"),
)


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server, worker and API, with auth on and the keys of `KEYS`. A worker runs
    one job of a tenant's at a time (so a tenant's second job is seen waiting)."""
    workdir = tmp_path_factory.mktemp("browser")
    server = RedisServer(workdir / "redis")
    server.start()
    keys_file = workdir / "keys.toml"
    keys_file.write_text("\n\n".join(entry(key) for key in KEYS) + "\n")
    env = {
        **service_env(server.url),
        "JOBQUEUE_AUTH": "on",
        "JOBQUEUE_API_KEYS_FILE": str(keys_file),
        "JOBQUEUE_WORKER_TENANT_MAX_JOBS": "1",
    }
    worker = start_worker(env, workdir)
    api, url = start_api(env, workdir)
    yield url
    api.stop()
    worker.stop()
    server.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    assert executable is not None  # (skipped otherwise)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        await launched.close()


async def _loopback_only(route: Route) -> None:
    if route.request.url.startswith(LOOPBACK):
        await route.continue_()
    else:
        await route.abort("internetdisconnected")


@pytest.fixture
async def offline(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A browser context whose every request beyond loopback fails, as with no network."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.route("**/*", _loopback_only)
    yield context
    await context.close()


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"


async def log_in(page: Page, api_url: str, token: str) -> None:
    """Through the login page, as a person would."""
    await page.goto(f"{api_url}/dashboard/login")
    await page.get_by_label("API key").fill(token)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
