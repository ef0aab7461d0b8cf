"""`/docs` and `/redoc` load nothing from outside the API: every script, style sheet and icon
their pages name is served by the app itself (from the `fastapi-offline` package)."""

import re

import httpx
import pytest

ASSET_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
async def test_a_docs_page_names_only_assets_the_app_serves(
    client: httpx.AsyncClient, page: str, assets: set[str]
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    html = response.text
    assert "cdn" not in html.lower()
    assert "fonts.googleapis" not in html
    referenced = {a or b for a, b in ASSET_REFERENCE.findall(html)}
    assert {r.rsplit("/", 1)[-1] for r in referenced if r.startswith("/docs-assets/")} == assets
    for url in referenced:
        assert url.startswith("/"), f"{page} loads {url} from outside the API"
        served = await client.get(url)
        assert served.status_code == 200, url
        if url.endswith(".js"):
            assert len(served.content) > 100_000  # the real bundle, not a stub
            assert "javascript" in served.headers["content-type"]


async def test_the_spec_the_pages_load_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert "/docs-assets" not in response.text  # (the pages and their assets are not API routes)
    assert "/docs" not in response.json()["paths"]
