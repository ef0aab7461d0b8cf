"""axe-core (vendored) run inside a page: its serious and critical violations, if any."""

from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SERIOUS = ("serious", "critical")


async def serious_violations(page: Page) -> list[str]:
    """Each serious or critical violation on the page as "rule: target, …" (none: [])."""
    # (evaluated, not added as a <script>: the dashboard's CSP rightly refuses inline scripts)
    await page.evaluate(AXE.read_text())
    found: list[dict[str, Any]] = await page.evaluate(
        "async () => (await axe.run(document)).violations"
    )
    return [
        f"{v['id']}: {', '.join(str(n['target']) for n in v['nodes'])}"
        for v in found
        if v.get("impact") in SERIOUS
    ]
