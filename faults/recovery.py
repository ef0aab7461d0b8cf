"""Recovery from a killed worker, read from the ledger: per delivery a kill cut, the time from
the kill to the job's next delivery."""

from faults.ledger import CUT, Delivery

CUT_WINDOW_S = 1.0


def busy_workers(deliveries: list[Delivery], pids: set[int]) -> set[int]:
    """Those of `pids` holding a delivery open now (a kill of one cuts a job)."""
    return {d.pid for d in deliveries if d.outcome is None and d.pid in pids}


def recoveries(
    deliveries: list[Delivery], kills: list[tuple[int, float]]
) -> tuple[list[float], list[str], int]:
    """Per delivery a kill cut: seconds to the job's next delivery; the jobs never delivered
    again; how many next deliveries came from the killed worker itself (impossible)."""
    by_job: dict[str, list[Delivery]] = {}
    for delivery in sorted(deliveries, key=lambda d: d.arrived):
        by_job.setdefault(delivery.job_id, []).append(delivery)
    recovery: list[float] = []
    unrecovered: list[str] = []
    same_worker = 0
    for pid, killed_at in kills:
        # Cut by this kill: its worker's connection ended near the kill. (Not "arrived before
        # it": the ledger's thread may read a request the worker sent just before dying only
        # after the kill; nor always with a pid: a socket opened as its worker died has none.)
        cut = [
            d
            for d in deliveries
            if d.outcome == CUT
            and d.pid in (pid, None)
            and abs((d.ended or 0) - killed_at) <= CUT_WINDOW_S
        ]
        for delivery in cut:
            runs = by_job[delivery.job_id]
            later = runs[runs.index(delivery) + 1 :]
            if not later:
                unrecovered.append(delivery.job_id)
                continue
            recovery.append(later[0].arrived - killed_at)
            same_worker += later[0].pid == pid
    return recovery, unrecovered, same_worker
