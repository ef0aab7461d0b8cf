"""How repeated figures are summed up: per-round ratios, and median with range."""

from statistics import median


def cell(values: list[float], digits: int = 0) -> str:
    """Median, with the range (min to max) when there is more than one value."""
    text = f"{median(values):,.{digits}f}"
    if len(values) > 1:
        text += f" ({min(values):,.{digits}f} to {max(values):,.{digits}f})"
    return text


def per_round(ours: list[float], theirs: list[float]) -> list[float]:
    """Round i's ratio: both measured in the same round, next to each other."""
    return [a / b for a, b in zip(ours, theirs, strict=True)]


def met(met: bool) -> str:
    return "met" if met else "**missed** in this run"


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
