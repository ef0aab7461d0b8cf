"""The workers as operators see them, from their heartbeats (`jobqueue.worker.heartbeat`).

A heartbeat with a field missing or not as a worker writes it is left out, with a warning.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from arq.connections import ArqRedis
from pydantic import BaseModel, Field

from jobqueue.settings import Settings
from jobqueue.store.heartbeats import read_heartbeats, warn_malformed


class WorkerInfo(BaseModel):
    worker_id: str
    host: str
    pid: int
    queue: str
    started_at: datetime
    last_seen: datetime
    status: Literal["alive", "gone"]
    running: int
    completed: int
    failed: int
    retried: int
    held: int = Field(
        default=0,
        description="jobs its last poll left queued because their tenant had "
        "JOBQUEUE_WORKER_TENANT_MAX_JOBS running in it (some may run in other workers)",
    )


def _when(text: str) -> datetime:
    """Epoch seconds as a worker writes them: a finite time a datetime can hold."""
    seconds = float(text)
    if not 0 <= seconds <= MAX_EPOCH_S:  # (also refuses NaN)
        raise ValueError("not a time")
    return datetime.fromtimestamp(seconds, UTC)


MAX_EPOCH_S = 253_402_300_799  # the end of the year 9999
# How each field of a heartbeat is read (`beat` writes them all).
_FIELDS: dict[str, Callable[[str], object]] = {
    "worker_id": str,
    "host": str,
    "queue": str,
    "stopped": str,
    "pid": int,
    "started_at": _when,
    "last_seen": _when,
    "running": int,
    "completed": int,
    "failed": int,
    "retried": int,
}
_OPTIONAL_FIELDS = {"held": int}  # (a worker of an older release writes none)


async def list_workers(redis: ArqRedis, settings: Settings) -> list[WorkerInfo]:
    """Alive workers and those gone within the retention, most recently seen first.

    A worker is `gone` once it said it stopped, or has not beaten within the liveness window.
    """
    now = datetime.now(UTC)
    workers = []
    seen_since = now.timestamp() - settings.worker_gone_retention
    for worker_id, beat in await read_heartbeats(redis, seen_since=seen_since):
        if not beat:
            continue  # expired between the two reads
        fields = _read(worker_id, beat)
        if fields is None:
            continue
        last_seen: datetime = fields["last_seen"]
        alive = fields.pop("stopped") == "0" and (now - last_seen).total_seconds() <= (
            settings.worker_liveness_window
        )
        workers.append(WorkerInfo(**fields, status="alive" if alive else "gone"))
    return workers


def _read(worker_id: str, beat: dict[str, str]) -> dict[str, Any] | None:
    """A heartbeat's fields, read; None (logged) if one is missing or not as a worker writes it."""
    fields: dict[str, Any] = {}
    for field, read in _FIELDS.items():
        try:
            fields[field] = read(beat.get(field) or "")
            if fields[field] == "":
                raise ValueError("missing")
        except ValueError:
            warn_malformed(worker_id, field)
            return None
    for field, read in _OPTIONAL_FIELDS.items():
        if field in beat:
            try:
                fields[field] = read(beat[field])
            except ValueError:
                warn_malformed(worker_id, field)
                return None
    return fields
