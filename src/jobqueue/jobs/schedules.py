"""Schedules: a registered job run on a cron schedule with fixed args.

Two ways to declare one, both checked when either process starts (`resolve_schedules`, which
raises `ScheduleInvalid` naming the schedule and what is wrong):

- with the job, in code: `@job(..., schedules=[Schedule("0 * * * *", name="hourly-report",
  args={"day": "today"})])`;
- in the TOML file `JOBQUEUE_SCHEDULES_FILE`, for any registered job (an operator's choice):

      [[schedules]]
      name = "nightly-echo"
      function = "echo"
      cron = "0 3 * * *"
      args = { message = "good night" }
      overlap = "skip"     # or "allow"
      missed = "run_once"  # or "skip"

A schedule named `hourly-report` is listed (and run now, paused, resumed) as
`cron:hourly-report`, beside the built-in maintenance crons; each run is a job of its function
with its args, its view naming the schedule. Per schedule:

- `overlap`: `skip` (the default) leaves a slot out while the previous run is still going (not
  finished, and started or due for over a second); `allow` runs it anyway.
- `missed`: what happens to slots that passed while no worker ran: `skip` (the default) forgets
  them; `run_once` runs the schedule once when a worker starts, for the latest missed slot.
"""

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from croniter import croniter
from pydantic import BaseModel, ConfigDict, ValidationError

from jobqueue.access.secrets import cipher_for
from jobqueue.jobs.declaration import JobDefinition, JobRegistry
from jobqueue.jobs.maintenance import scheduled_jobs
from jobqueue.jobs.schedule import Missed, Overlap, cron_fields
from jobqueue.jobs.secret_args import SecretsKeyMissing, seal_args
from jobqueue.settings import Settings

CRON_PREFIX = "cron:"  # (a reserved job id prefix: clients cannot choose one)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class ScheduleInvalid(ValueError):
    """A declared schedule cannot run as declared (the message names it and why)."""


@dataclass(frozen=True)
class ScheduledJob:
    """A schedule as both processes run and show it."""

    name: str  # `cron:{declared name}`, as listed
    definition: JobDefinition
    cron: str
    args: dict[str, Any]  # validated, as stored (secrets sealed)
    overlap: Overlap
    missed: Missed
    builtin: bool = False

    @property
    def function(self) -> str:
        return self.definition.name


class _FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    function: str
    cron: str
    args: dict[str, Any] = {}
    overlap: Overlap = "skip"
    missed: Missed = "skip"


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schedules: list[_FileEntry] = []


def resolve_schedules(settings: Settings, registry: JobRegistry) -> list[ScheduledJob]:
    """Every schedule: the built-in maintenance crons, then those declared with jobs, then the
    file's; raises `ScheduleInvalid` for the first that cannot run."""
    resolved = [
        ScheduledJob(d.name, d, cron, {}, overlap="allow", missed="skip", builtin=True)
        for d, cron in scheduled_jobs(settings)
    ]
    declared = [
        (s.name or d.name, d.name, s.cron, dict(s.args), s.overlap, s.missed)
        for d in registry
        for s in d.schedules
    ]
    declared += [
        (e.name, e.function, e.cron, e.args, e.overlap, e.missed)
        for e in _read_file(settings.schedules_file)
    ]
    for name, function, cron, args, overlap, missed in declared:
        definition = registry.get(function)
        if definition is None:
            raise ScheduleInvalid(f"schedule {name!r}: no job named {function!r} is registered")
        resolved.append(
            _resolved(name, definition, cron, args, overlap, missed, settings, resolved)
        )
    return resolved


def _resolved(
    name: str,
    definition: JobDefinition,
    cron: str,
    args: dict[str, Any],
    overlap: Overlap,
    missed: Missed,
    settings: Settings,
    known: list[ScheduledJob],
) -> ScheduledJob:
    def invalid(why: str) -> ScheduleInvalid:
        return ScheduleInvalid(f"schedule {name!r}: {why}")

    if not _NAME.match(name):
        raise invalid("a name is 1-64 of a-z, 0-9, '_', '.', '-', starting with a letter or digit")
    listed = f"{CRON_PREFIX}{name}"
    if any(s.name == listed for s in known):
        raise invalid("the name is taken (by another schedule, or a built-in)")
    if not croniter.is_valid(cron):
        raise invalid(f"not a cron expression: {cron!r}")
    try:
        cron_fields(cron)
        validated = definition.validate_args(args, settings)
        stored = seal_args(validated, cipher_for(settings))
    except ValueError as exc:  # (pydantic's ValidationError too)
        raise invalid(_reason(exc)) from None
    except SecretsKeyMissing as exc:
        raise invalid(f"its args hold secrets ({exc}); set JOBQUEUE_SECRETS_KEY") from None
    return ScheduledJob(listed, definition, cron, stored, overlap, missed)


def _reason(exc: ValueError, within: str = "args") -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, (within, *e['loc'])))}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)


def _read_file(path: Path | None) -> list[_FileEntry]:
    if path is None:
        return []
    try:
        return _File.model_validate(tomllib.loads(path.read_text())).schedules
    except OSError as exc:
        raise ScheduleInvalid(f"JOBQUEUE_SCHEDULES_FILE {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScheduleInvalid(f"JOBQUEUE_SCHEDULES_FILE {path}: not TOML ({exc})") from None
    except ValidationError as exc:
        raise ScheduleInvalid(f"JOBQUEUE_SCHEDULES_FILE {path}: {_reason(exc, 'file')}") from None
