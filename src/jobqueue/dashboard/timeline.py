"""A job's events as a timeline a person reads: one line an event, in words, with its try and
the retry's delay; progress reports are counted, not listed (a job may send thousands)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobqueue.history.streams import Event
from jobqueue.history.vocabulary import EventType


@dataclass(frozen=True)
class Moment:
    kind: str  # the event's type
    at: datetime | None
    text: str
    bad: bool = False  # a failure, shown as one


@dataclass(frozen=True)
class Timeline:
    moments: list[Moment]
    progress_reports: int
    last_event_id: str | None  # where a live follower picks up


def _error(data: dict[str, Any]) -> str:
    error = data.get("error")
    if isinstance(error, dict):
        return f"{error.get('type', 'Error')}: {error.get('message', '')}"
    return ""


def _try(data: dict[str, Any]) -> str:
    return f"try {data['try']} " if isinstance(data.get("try"), int) else ""


def _by(data: dict[str, Any]) -> str:
    return f" by {data['by']}" if isinstance(data.get("by"), str) else ""


def _time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def describe(event: Event) -> Moment:
    data, kind = event.data, event.type
    at = _time(data.get("at"))
    if kind == EventType.enqueued:
        due = _time(data.get("scheduled_for"))
        deferred = data.get("status") == "deferred" and due is not None
        made = f" by schedule {data['schedule']}" if isinstance(data.get("schedule"), str) else ""
        rerun = f", re-running {data['retry_of']}" if isinstance(data.get("retry_of"), str) else ""
        when = f", due {due:%Y-%m-%d %H:%M:%S} UTC" if due and deferred else ""
        return Moment(kind, at, f"enqueued{_by(data)}{made}{rerun}{when}")
    if kind == EventType.started:
        return Moment(kind, at, f"{_try(data)}started")
    if kind == EventType.retry_scheduled:
        delay = data.get("delay_s")
        wait = f"; retry in {delay:g} s" if isinstance(delay, int | float) else "; retry later"
        return Moment(kind, at, f"{_try(data)}failed: {_error(data)}{wait}", bad=True)
    if kind == EventType.interrupted:
        return Moment(kind, at, f"{_try(data)}interrupted (its worker stopped): waits again")
    if kind == EventType.abort_requested:
        return Moment(kind, at, f"abort requested{_by(data)}")
    if kind == EventType.succeeded:
        seconds = data.get("seconds")
        took = f" in {seconds:.2f} s" if isinstance(seconds, int | float) else ""
        return Moment(kind, at, f"{_try(data)}succeeded{took}")
    if kind == EventType.failed:
        return Moment(kind, at, f"{_try(data)}failed: {_error(data)}", bad=True)
    if kind == EventType.aborted:
        return Moment(kind, at, f"aborted{_by(data)}", bad=True)
    if kind == EventType.expired:
        return Moment(kind, at, "expired before a worker started it", bad=True)
    return Moment(kind, at, kind.replace("_", " "))


def timeline(events: list[Event]) -> Timeline:
    listed = [describe(e) for e in events if e.type != EventType.progress]
    reports = len(events) - len(listed)
    return Timeline(listed, reports, events[-1].id if events else None)
