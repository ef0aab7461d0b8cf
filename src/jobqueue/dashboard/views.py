"""What each page shows, gathered from the facades as the viewer may see it (its tenant's jobs
only: `TenantQueue`, `Operations` with the viewer's tenant)."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobqueue.ops.stats import QueueReport, QueueSnapshot
from jobqueue.ops.workers import WorkerInfo

if TYPE_CHECKING:
    from jobqueue.api.dependencies import Services
    from jobqueue.dashboard.sessions import Viewer

SERIES_LENGTH = 60
SPARK_WIDTH, SPARK_HEIGHT = 240, 40


@dataclass(frozen=True)
class Overview:
    queue: QueueReport
    sparkline: str  # SVG polyline points: waiting + running, oldest first
    workers_alive: int
    workers_gone: int
    running: int


def sparkline(series: list[QueueSnapshot]) -> str:
    depths = [s.queued + s.deferred + s.in_progress for s in reversed(series)]
    if len(depths) < 2:
        return ""
    top = max(depths) or 1
    step = SPARK_WIDTH / (len(depths) - 1)
    return " ".join(
        f"{i * step:.1f},{SPARK_HEIGHT - 2 - (d / top) * (SPARK_HEIGHT - 4):.1f}"
        for i, d in enumerate(depths)
    )


async def overview(services: "Services", viewer: "Viewer") -> Overview:
    tenant = viewer.principal.tenancy.tenant
    [queue] = await services.operations.queues(SERIES_LENGTH, tenant)
    workers: list[WorkerInfo] = await services.operations.workers()
    alive = [w for w in workers if w.status == "alive"]
    return Overview(
        queue=queue,
        sparkline=sparkline(queue.series),
        workers_alive=len(alive),
        workers_gone=len(workers) - len(alive),
        running=sum(w.running for w in alive),
    )
