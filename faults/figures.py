"""Small figures: percentiles and targets with their verdicts."""

import math
from typing import Any


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (no interpolation: p99 of 20 values is the largest)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def spread(values: list[float]) -> dict[str, Any]:
    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {
        "n": len(values),
        "p50": rounded(percentile(values, 0.5)),
        "p99": rounded(percentile(values, 0.99)),
        "max": rounded(max(values) if values else None),
    }


def target(name: str, measured: float | None, at_most: float) -> dict[str, Any]:
    """A target "at most `at_most`"; unmeasured (None) is a miss, never a pass."""
    return {
        "name": name,
        "target": f"≤ {at_most:g}",
        "measured": measured,
        "met": measured is not None and measured <= at_most,
    }


def at_least(name: str, measured: float | None, minimum: float) -> dict[str, Any]:
    """A target "at least `minimum`": that the fault was injected at all (a scenario whose
    fault never bit must not pass)."""
    return {
        "name": name,
        "target": f"≥ {minimum:g}",
        "measured": measured,
        "met": measured is not None and measured >= minimum,
    }
