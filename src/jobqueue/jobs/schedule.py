"""Cron expressions, turned into the field sets arq's `cron()` takes; and `Schedule`, a job's
own schedule as its author declares it (`jobqueue.jobs.schedules` resolves and checks them).

Standard 5 fields (minute hour day month weekday) run at second 0; an optional 6th field gives
the seconds, e.g. `* * * * * */10` every ten seconds.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from croniter import croniter

Overlap = Literal["skip", "allow"]
Missed = Literal["skip", "run_once"]


@dataclass(frozen=True)
class Schedule:
    """`@job(..., schedules=[Schedule("0 * * * *", name="hourly", args={...})])`: run the job on
    `cron` with `args`; `name` defaults to the job's. `overlap` and `missed`: see
    `jobqueue.jobs.schedules`."""

    cron: str
    name: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict)
    overlap: Overlap = "skip"
    missed: Missed = "skip"


_FIELDS = ("minute", "hour", "day", "month", "weekday", "second")


def cron_fields(expression: str) -> dict[str, Any]:
    """`{"minute": {0, 30}, "hour": None, ...}` for `arq.cron.cron(**fields)`."""
    expanded, _ = croniter.expand(expression)
    fields: dict[str, Any] = {"second": 0}
    for name, values in zip(_FIELDS, expanded, strict=False):
        if values == ["*"]:
            fields[name] = None
            continue
        numbers = [v for v in values if isinstance(v, int)]
        if len(numbers) != len(values):
            raise ValueError(f"unsupported cron field {name}={values!r} in {expression!r}")
        if name == "weekday":  # cron: 0 or 7 = Sunday; arq (Python): 0 = Monday
            fields[name] = {(v - 1) % 7 for v in numbers}
        else:
            fields[name] = set(numbers)
    return fields
