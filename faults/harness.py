"""One run's shared stack: the durable Redis, the API, the ledger, and what every scenario
does at its end (re-send what was not acknowledged, drain, account, count the 500s)."""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from redis import Redis

from faults.accounting import Accounts, account, drain
from faults.figures import target
from faults.ledger import Ledger
from faults.load import Enqueuer
from faults.stack import WorkerPool, base_env, durable_redis, start_api
from scripts.processes import RedisServer, ServiceProcess

DRAIN_S = 30.0  # the bound: a job not finished 30 s after the faults end is stuck
RESEND_S = 20.0


@dataclass
class Harness:
    quick: bool
    workdir: Path
    redis: RedisServer
    api_process: ServiceProcess
    api_url: str
    api: httpx.AsyncClient
    ledger: Ledger
    pools: list[WorkerPool] = field(default_factory=list)

    def pool(self, name: str, **settings: str) -> WorkerPool:
        """A worker pool with the run's environment plus `settings` (JOBQUEUE_* overrides)."""
        logdir = self.workdir / name
        logdir.mkdir(exist_ok=True)
        created = WorkerPool({**base_env(self.redis.url), **settings}, logdir)
        self.pools.append(created)
        return created

    def worker_pids(self) -> list[int]:
        return [pid for pool in self.pools for pid in pool.pids()]

    def logged_end(self, pid: int, job_id: str) -> bool:
        return any(pool.logged_end(pid, job_id) for pool in self.pools)

    def admin(self) -> Redis:
        return Redis(port=self.redis.port, socket_timeout=10, client_name="faults-admin")

    def api_log_size(self) -> int:
        return self.api_process.log_path.stat().st_size

    def api_500s_since(self, offset: int) -> int:
        with self.api_process.log_path.open("rb") as log:
            log.seek(offset)
            return sum(1 for line in log if b'"status":500' in line)

    async def settle(
        self, enqueuer: Enqueuer, kills: list[tuple[int, float]]
    ) -> tuple[Accounts, dict[str, Any]]:
        """Every job acknowledged at last (re-sent with its id), drained for `DRAIN_S`, then
        accounted for; with the HTTP answers' figures."""
        await enqueuer.resend_unacknowledged(RESEND_S)
        acknowledged = list(enqueuer.tally.acknowledged)
        views, took = await drain(self.api, acknowledged, DRAIN_S)
        deliveries = self.ledger.deliveries(f"{enqueuer.prefix}-")
        accounts = account(acknowledged, views, deliveries, kills, took, self.logged_end)
        tally = enqueuer.tally
        http = {
            "enqueue_answers": {str(k): v for k, v in sorted(tally.statuses().items())},
            "never_acknowledged": len(tally.unacknowledged),
            "http_500s_to_the_harness": tally.server_errors(),
            "enqueue_503s_without_retry_after": tally.unavailable_without_retry_after(),
            "enqueues_without_an_http_answer": tally.transport_errors()[:20],
            "slowest_enqueue_answer_s": tally.slowest_s(),
            "unattributed_deliveries": sum(1 for d in deliveries if d.pid is None),
        }
        return accounts, http


def common_targets(
    accounts: Accounts, http_500s: int, *, duplicates: bool = True
) -> list[dict[str, Any]]:
    """Every scenario's: nothing lost, stuck or failed (every harness job can succeed), no 500;
    and, unless the scenario's fault makes a re-run after an answer possible (a deploy's grace
    deadline), no duplicated delivery."""
    targets = [
        target("acknowledged jobs lost", len(accounts.lost), 0),
        target("stuck after a 30 s drain", len(accounts.stuck), 0),
        target("acknowledged jobs that did not succeed", sum(accounts.failed.values()), 0),
        target("HTTP 500s", http_500s, 0),
    ]
    if duplicates:
        targets.append(target("duplicated deliveries", len(accounts.duplicated), 0))
    return targets


@contextlib.asynccontextmanager
async def open_harness(quick: bool, workdir: Path) -> AsyncIterator[Harness]:
    server = durable_redis(workdir / "redis")
    server.start()
    api_process: ServiceProcess | None = None
    pools: list[WorkerPool] = []
    ledger = Ledger(workdir / "ledger.jsonl", lambda: [p for pool in pools for p in pool.pids()])
    ledger.start()
    try:
        api_process, url = start_api(base_env(server.url), workdir)
        # An idle connection is dropped before uvicorn's 5 s keep-alive timeout would close
        # it under a reuse (a client-side race, not the service's).
        limits = httpx.Limits(
            max_connections=1100, max_keepalive_connections=1100, keepalive_expiry=4.0
        )
        async with httpx.AsyncClient(
            base_url=url, timeout=30, trust_env=False, limits=limits
        ) as api:
            harness = Harness(quick, workdir, server, api_process, url, api, ledger, pools)
            yield harness
    finally:
        for pool in pools:
            pool.stop_all(within_s=30)
        if api_process is not None:
            api_process.stop()
        ledger.stop()
        server.stop()
