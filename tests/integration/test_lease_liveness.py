"""Who may release whose leases, against a real redis-server: a stall of Redis longer than the
liveness window (here CLIENT PAUSE: calls queued meanwhile run when it ends, every alive key
run out) never makes one live worker release another's lease; a worker that stops renewing is
released by the other within a window and a tick or two. Two `Leases`, each with its own pool,
as two worker processes have, their calls made in a chosen order."""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio

from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.worker.leases import Leases
from scripts.processes import RedisServer
from tests.helpers.services import connect

LEASE_S, TICK_S, WINDOW_S = 5.0, 0.5, 1.5
STALL_S = 2.5  # longer than the window (every alive key runs out), shorter than a lease
SETTINGS = {
    "worker_lease": LEASE_S,
    "worker_heartbeat_interval": TICK_S,
    "worker_liveness_window": WINDOW_S,
    # calls outwait the stall: as when Redis has read them before it stalls (a slow command,
    # a fork); a paused client that gives up and disconnects loses its queued call instead
    "redis_timeout": 10.0,
}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


async def test_a_redis_stall_never_releases_a_live_workers_lease(server: RedisServer) -> None:
    admin = redis.asyncio.Redis(port=server.port)
    pools = [connect(server.url, **SETTINGS) for _ in range(2)]
    a, b = (Leases(owner, Settings(**SETTINGS)) for owner in ("A", "B"))  # type: ignore[arg-type]
    job = keys.in_progress("j1")
    await admin.set(job, "A", px=int(LEASE_S * 1000))
    await admin.sadd(keys.leases("A"), job)  # type: ignore[misc]
    a.hold("j1")
    try:
        for _ in range(int(WINDOW_S / TICK_S) + 2):  # both prompt for a whole window
            await a.renew_now(pools[0])
            await b.renew_now(pools[1])
            await asyncio.sleep(TICK_S)
        await admin.client_pause(int(STALL_S * 1000))
        # B's call waits out the stall ahead of A's: when Redis goes on, A's alive key has run
        # out (so has B's, and B's shows that Redis has not seen B for that long either)
        b_call = asyncio.create_task(b.renew_now(pools[1]))
        await asyncio.sleep(TICK_S)
        await a.renew_now(pools[0])
        await b_call
        assert await admin.get(job) == b"A"

        stopped = time.monotonic()  # A stops renewing, as a killed worker does
        while await admin.exists(job) and time.monotonic() - stopped < WINDOW_S + 4 * TICK_S:
            await b.renew_now(pools[1])
            await asyncio.sleep(TICK_S)
        assert await admin.exists(job) == 0  # released by B: it has been prompt since the stall
    finally:
        for pool in (*pools, admin):
            await pool.aclose()
