"""TODO"""

from typing import Any

from faults.harness import Harness


async def run(harness: Harness) -> dict[str, Any]:
    raise NotImplementedError
