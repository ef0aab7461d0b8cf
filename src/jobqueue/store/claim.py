"""Claiming due jobs for a worker in one script call (`claim.lua`), with arq's `run_job` opening
and the jobs' recorded start (`jobqueue.store.leases` keeps the claims).

arq claims each job with its own optimistic transaction (WATCH, EXISTS, ZSCORE, MULTI/PSETEX/EXEC
and UNWATCH), then `run_job` opens with one more round trip (GET the job, INCR/EXPIRE its try
counter, ZREM it from the abort set). `claim.lua` applies arq's rule (still queued, due, not in
progress elsewhere; then set the in-progress key) and runs that opening for every job offered,
atomically. `run_job_opening` is the exact command list arq 0.28's `run_job` pipelines (a seam,
pinned by tests/unit/test_seams.py): the claim's replies are given for it (`TrackedRedis.prepare`).
The claim also records each job's start (so it shows in progress, with its try, from the claim)
and counts a stall for a job whose last run never ended.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from jobqueue.history.vocabulary import EventType, StoredStatus
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from jobqueue.store.scripts import Command, LuaScript

CLAIM = LuaScript("claim")
RETRY_KEY_TTL_S = 88400  # arq's, in run_job


@dataclass(frozen=True)
class Claimed:
    job_id: str
    score: int
    opening: tuple[Command, ...]  # run_job's first pipeline, already answered
    stalls: int  # runs of this job that never ended (their worker died or lost the lease)
    # Its keys of another type than arq or we write, left alone (see claim.lua): to be logged.
    wrong_type: tuple[str, ...] = ()


def run_job_opening(job_id: str, *, aborts: bool) -> tuple[Command, ...]:
    """The commands arq's `run_job` starts with, as its pipeline queues them."""
    commands: tuple[Command, ...] = (
        ("GET", keys.job(job_id)),
        ("INCRBY", keys.retry(job_id), 1),
        ("EXPIRE", keys.retry(job_id), RETRY_KEY_TTL_S),
    )
    return (*commands, ("ZREM", keys.ABORTS, job_id)) if aborts else commands


async def claim(
    redis: TrackedRedis,
    queue: str,
    job_ids: list[str],
    *,
    now_ms: int,
    lease_ms: int,
    owner: str,
    aborts: bool,
    limit: int,
    events_max_length: int,
    max_tries: Mapping[str, int],
    history_ttl_ms: int,
    tenants: Sequence[str | None] = (),
    tenant_slots: Mapping[str, int] | None = None,
) -> list[Claimed]:
    """Claim up to `limit` of `job_ids` (in queue order), each leased to `owner` (a worker id)
    for `lease_ms`; each claimed job's `run_job` opening is prepared on `redis`. `max_tries`:
    each function's (arq fails a job past it without running it: no start is recorded);
    `history_ttl_ms`: how long the events of a job without a record are kept. `tenants`: each
    job's tenant (None for one not capped; empty when none is), `tenant_slots`: how many jobs of
    each such tenant may be claimed; a job of a tenant with none left is passed over."""
    per_job = (
        key
        for job_id in job_ids
        for key in (
            keys.in_progress(job_id),
            keys.job(job_id),
            keys.retry(job_id),
            keys.record(job_id),
            keys.job_events(job_id),
        )
    )
    claimed: list[Any] = await CLAIM.run(
        redis,
        [queue, keys.ABORTS, keys.EVENTS, keys.leases(owner), keys.METRICS_STALLED, *per_job],
        [
            now_ms,
            lease_ms,
            int(aborts),
            limit,
            RETRY_KEY_TTL_S,
            owner,
            keys.INDEX_PREFIX,
            events_max_length,
            StoredStatus.waiting,
            StoredStatus.in_progress,
            EventType.started,
            orjson.dumps(max_tries),
            history_ttl_ms,
            orjson.dumps(tenant_slots or {}),
            orjson.dumps(list(tenants)),
            *job_ids,
        ],
    )
    found = []
    for i in range(0, len(claimed), 7):
        job_id_b, score, data, job_try, aborted, stalls, wrong_type = claimed[i : i + 7]
        job_id = job_id_b.decode()
        opening = run_job_opening(job_id, aborts=aborts)
        redis.prepare(opening, [data or None, job_try, True, aborted][: len(opening)])
        wrong = tuple(wrong_type.decode().split())
        found.append(Claimed(job_id, _due_ms(score, now_ms), opening, int(stalls), wrong))
    return found


def _due_ms(score: bytes, now_ms: int) -> int:
    """A queue score as arq's `run_job` takes it (a planted infinite one reads as now)."""
    due = float(score)
    return int(due) if math.isfinite(due) else now_ms


async def due_jobs(
    redis: TrackedRedis, queue: str, start: int, count: int, now_ms: int
) -> tuple[list[str], bool]:
    """The ids of the queue's jobs at ranks `start` to `start + count - 1` that are due by
    `now_ms`, in queue order, and whether due jobs may follow. By rank: reaching it costs
    O(log N), where ZRANGEBYSCORE's offset walks every job before it."""
    page = await redis.zrange(queue, start, start + count - 1, withscores=True)
    due = [member.decode() for member, score in page if score <= now_ms]
    return due, len(due) == count
