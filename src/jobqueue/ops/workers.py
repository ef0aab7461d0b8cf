"""The workers as operators see them, from their heartbeats (`jobqueue.worker.heartbeat`)."""

import time
from datetime import UTC, datetime
from typing import Literal

from arq.connections import ArqRedis
from pydantic import BaseModel

from jobqueue.settings import Settings
from jobqueue.store.heartbeats import read_heartbeats


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


def _when(seconds: str) -> datetime:
    return datetime.fromtimestamp(float(seconds), UTC)


async def list_workers(redis: ArqRedis, settings: Settings) -> list[WorkerInfo]:
    """Alive workers and those gone within the retention, most recently seen first.

    A worker is `gone` once it said it stopped, or has not beaten within the liveness window.
    """
    now = time.time()
    workers = []
    for beat in await read_heartbeats(redis, seen_since=now - settings.worker_gone_retention):
        if not beat.get("worker_id"):
            continue  # expired between the two reads
        alive = beat["stopped"] == "0" and now - float(beat["last_seen"]) <= (
            settings.worker_liveness_window
        )
        workers.append(
            WorkerInfo(
                worker_id=beat["worker_id"],
                host=beat["host"],
                pid=int(beat["pid"]),
                queue=beat["queue"],
                started_at=_when(beat["started_at"]),
                last_seen=_when(beat["last_seen"]),
                status="alive" if alive else "gone",
                running=int(beat["running"]),
                completed=int(beat["completed"]),
                failed=int(beat["failed"]),
                retried=int(beat["retried"]),
            )
        )
    return workers
