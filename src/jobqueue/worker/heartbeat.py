"""Each worker's own heartbeat: who it is, whether it is alive, what it has done.

arq's health key is shared by every worker of a queue and refreshed hourly by default; operators
need one entry per worker with a short interval. A worker writes its hash every
`worker_heartbeat_interval` seconds; readers call it `gone` once `last_seen` is older than
`worker_liveness_window`, and keep listing it for `worker_gone_retention` seconds.
"""

import asyncio
import os
import socket
import time
import uuid
from dataclasses import dataclass, field

import structlog
from arq.connections import ArqRedis

from jobqueue.settings import Settings
from jobqueue.store.heartbeats import write_heartbeat
from jobqueue.worker.throttle import ThrottledLog

log = structlog.get_logger("jobqueue.worker")


@dataclass
class WorkerStats:
    """Counted by the job wrapper; shared through arq's ctx (each job's ctx is a copy, but it
    holds this same object)."""

    worker_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    )
    started_at: float = field(default_factory=time.time)
    running: int = 0
    completed: int = 0
    failed: int = 0
    retried: int = 0
    held: int = 0  # jobs its last poll left queued for their tenant's cap (`TenantSlots`)


async def beat(
    redis: ArqRedis, settings: Settings, stats: WorkerStats, *, stopped: bool = False
) -> None:
    now = time.time()
    fields: dict[str, str | int | float] = {
        "worker_id": stats.worker_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "queue": settings.queue_name,
        "started_at": stats.started_at,
        "last_seen": now,
        "stopped": int(stopped),
        "running": stats.running,
        "completed": stats.completed,
        "failed": stats.failed,
        "retried": stats.retried,
        "held": stats.held,
    }
    await write_heartbeat(
        redis,
        stats.worker_id,
        fields,
        at=now,
        retention_s=settings.worker_gone_retention,
        key_ttl_s=settings.worker_gone_retention + int(settings.worker_liveness_window),
    )


async def keep_beating(redis: ArqRedis, settings: Settings, stats: WorkerStats) -> None:
    """Run until cancelled; a failed beat (Redis down, a key of the wrong type) is logged (once a
    minute at most) and retried next interval."""
    failures = ThrottledLog()
    while True:
        try:
            await beat(redis, settings, stats)
        except Exception as exc:  # never let the heartbeat task die
            failures.error("worker.heartbeat_failed", about=repr(exc), error=repr(exc))
        else:
            failures.recovered("worker.heartbeat_failed", "worker.heartbeat_recovered")
        await asyncio.sleep(settings.worker_heartbeat_interval)
