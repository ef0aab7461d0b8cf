"""Keeping a worker's claims (`renew.lua`): one call, every tick, says the worker is alive
(a key with a TTL on Redis's clock), renews its leases, and releases the leases of workers that
are not alive once Redis has seen this one's calls promptly for a whole liveness window. A
worker that stops says it is gone (`retire`)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis

from jobqueue.store import keys
from jobqueue.store.scripts import LuaScript

RENEW = LuaScript("renew")


@dataclass(frozen=True)
class Released:
    worker_id: str  # the gone worker that held it
    job_id: str


@dataclass(frozen=True)
class Renewal:
    renewed: int  # leases this worker still held
    lost: list[str]  # jobs it runs that another worker holds now (its lease ran out)
    released: list[Released]  # gone workers' leases released


async def renew(
    redis: ArqRedis,
    owner: str,
    job_ids: Sequence[str],
    *,
    lease_ms: int,
    alive_ms: int,
    prompt_gap_ms: int,
) -> Renewal:
    """`owner` is alive for `alive_ms`; another lease for each of `job_ids` it still holds; if
    Redis has seen its calls at most `prompt_gap_ms` apart for `alive_ms`, the leases of the
    workers whose alive key has run out are released."""
    reply: list[Any] = await RENEW.run(
        redis,
        [
            keys.leases(owner),
            keys.alive(owner),
            keys.LEASE_HOLDERS,
            *(keys.in_progress(job_id) for job_id in job_ids),
        ],
        [owner, lease_ms, alive_ms, prompt_gap_ms, keys.ALIVE_PREFIX, keys.LEASES_PREFIX],
    )
    renewed, lost, pairs = reply
    prefix = keys.in_progress("")
    released = [
        Released(worker.decode(), key.decode().removeprefix(prefix))
        for worker, key in zip(pairs[::2], pairs[1::2], strict=True)
    ]
    lost_ids = [key.decode().removeprefix(prefix) for key in lost]
    return Renewal(int(renewed), lost_ids, released)


async def retire(redis: ArqRedis, owner: str) -> None:
    """`owner` is stopping: it is gone at once (another worker releases what it still holds)."""
    await redis.delete(keys.alive(owner))
