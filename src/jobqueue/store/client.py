"""The service's Redis client: arq's `ArqRedis`, with every enqueue and job end recorded.

- Enqueue: `TrackedRedis.enqueue_job` (arq's signature, also used by arq's cron) writes arq's own
  job payload plus our history in one Lua script call (see `enqueue`).
- Finish: every way a job ends in arq (success, failure, timeout, abort, tries exhausted, expired,
  undecodable) writes `arq:result:{id}` in a MULTI; `TrackedPipeline` hands that payload to the
  `Recorder`, which appends the transition to the same MULTI, so the record can never disagree
  with arq, and no hook arq lacks is needed. This intercepts arq's result write: a seam, listed
  in docs/seams.md.
- Cron enqueues: arq's scheduler calls `enqueue_job` (nothing else of ours does); with a
  `CronPlanner` set (the worker's schedules), each such enqueue is planned first: skipped (a
  paused schedule, a run still going), or turned into the schedule's own function and args.
- Prepared replies: the worker's claim script has already read what arq's `run_job` opens with;
  `prepare` makes the next pipeline of exactly those commands return those replies without a
  round trip (also a seam: it relies on the exact commands `run_job` sends).
"""

import asyncio
from datetime import datetime
from typing import Any, Protocol

import structlog
from arq.connections import ArqRedis
from arq.jobs import Job
from redis.asyncio import ConnectionPool
from redis.asyncio.client import Pipeline

from jobqueue.serialization import deserialize, serialize
from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.store.arq_format import MalformedPayload, decode_result
from jobqueue.store.enqueue import EnqueueOutcome, Enqueuer, EnqueueSpec
from jobqueue.store.outages import Circuit
from jobqueue.store.recording import Recorder
from jobqueue.store.scripts import Command, rerun_unloaded
from jobqueue.store.transitions import TRANSITION, TransitionWriter

log = structlog.get_logger("jobqueue.store")

# A pipeline's commands (as queued) -> the replies to give instead of sending them.
PreparedReplies = dict[tuple[Command, ...], list[Any]]


class CronPlanner(Protocol):
    async def plan(self, spec: EnqueueSpec) -> EnqueueSpec | None:
        """What to enqueue for arq's cron enqueue `spec` (None: nothing, the slot is skipped)."""
        ...

    async def enqueued(self, spec: EnqueueSpec, job_id: str) -> None:
        """The planned `spec` was enqueued as a new job."""
        ...


class TrackedPipeline(Pipeline):
    """A pipeline that records a job's end in the same MULTI as arq's result write, and answers
    prepared commands without sending them. Its callers (arq among them) see only their own
    commands' results and errors.

    Matches arq 0.28.0 (every job end is a SET of `arq:result:{id}` in a MULTI) and redis-py 5's
    `Pipeline` (`command_stack` of `(args, options)`); both pinned by tests/unit/test_seams.py.
    Remove when arq offers a hook for every way a job ends.
    """

    def __init__(self, client: "TrackedRedis", *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client = client
        self._prepared = client.prepared

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        if self._prepared:
            replies = self._prepared.pop(tuple(c for c, _ in self.command_stack), None)
            if replies is not None:
                await self.reset()  # type: ignore[no-untyped-call]
                return replies
        own = len(self.command_stack)
        for command, _ in self.command_stack[:own]:
            name, *rest = command
            if name == "SET" and str(rest[0]).startswith(keys.result("")):
                self._record_finished(str(rest[0]), rest[1])
        commands = [c for c, _ in self.command_stack]  # execute() empties the stack
        results: list[Any] = await super().execute(raise_on_error=False)
        results = await rerun_unloaded(self._send, [TRANSITION], commands, results)
        for extra in results[own:]:
            if isinstance(extra, Exception):
                log.error("tracking.write_failed", error=repr(extra))
        results = results[:own]
        if raise_on_error:
            for outcome in results:
                if isinstance(outcome, Exception):
                    raise outcome
        return results

    def _record_finished(self, key: str, payload: object) -> None:
        try:
            if not isinstance(payload, bytes):
                raise MalformedPayload(f"not bytes but {type(payload).__name__}")
            result = decode_result(payload)
        except MalformedPayload as exc:  # arq's write goes ahead; the history cannot follow it
            log.error("tracking.result_unreadable", key=key, error=str(exc))
            return
        client = self._client
        client.transitions.add(self, result.job_id, client.recorder.finished(result))

    async def _send(self, commands: list[Command]) -> list[Any]:
        for command in commands:
            self.execute_command(*command)
        replies: list[Any] = await super().execute(raise_on_error=False)
        return replies


class TrackedRedis(ArqRedis):
    """arq's Redis client, with every enqueue and every job end recorded (see module doc)."""

    def __init__(self, pool: ConnectionPool, settings: Settings, recorder: Recorder) -> None:
        super().__init__(
            pool,
            job_serializer=serialize,
            job_deserializer=deserialize,
            default_queue_name=settings.queue_name,
        )
        self.auto_close_connection_pool = True  # it owns its pool, as `Redis.from_pool` makes it
        self.circuit = Circuit(lambda: probe(pool, settings.redis_timeout))
        self.recorder = recorder
        self.transitions = TransitionWriter(settings)
        self.prepared: PreparedReplies = {}
        self.cron_planner: CronPlanner | None = None
        self.enqueuer = Enqueuer(
            lambda: super(TrackedRedis, self).pipeline(transaction=False),
            recorder,
            settings,
            expires_extra_ms=self.expires_extra_ms,
        )

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await self.circuit.aclose()
        await super().aclose(close_connection_pool)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> TrackedPipeline:
        return TrackedPipeline(
            self,
            self.connection_pool,
            self.response_callbacks,
            transaction,
            shard_hint,
        )

    def prepare(self, commands: tuple[Command, ...], replies: list[Any]) -> None:
        """The next pipeline of exactly `commands` returns `replies` without a round trip:
        they were already read atomically by a script (the worker's claim answers the opening
        of arq 0.28's `run_job` so; see `claim`). Used once."""
        self.prepared[commands] = replies

    def forget(self, commands: tuple[Command, ...]) -> None:
        self.prepared.pop(commands, None)

    async def enqueue_job(
        self,
        function: str,
        *args: Any,
        _job_id: str | None = None,
        _queue_name: str | None = None,
        _defer_until: datetime | None = None,
        _defer_by: Any = None,
        _expires: Any = None,
        _job_try: int | None = None,
        **kwargs: Any,
    ) -> Job | None:
        """arq's `enqueue_job`, same arguments and result, in one round trip (planned first by
        the `cron_planner`, when set: arq's cron is its one caller)."""
        spec = EnqueueSpec(
            function,
            kwargs,
            args=args,
            job_id=_job_id,
            queue_name=_queue_name,
            defer_until=_defer_until,
            defer_by=_defer_by,
            expires=_expires,
            job_try=_job_try,
        )
        planner = self.cron_planner
        if planner is not None:
            planned = await planner.plan(spec)
            if planned is None:
                return None
            spec = planned
        outcome = await self.enqueue_one(spec)
        if outcome.rejected is not None:
            raise ValueError(outcome.rejected)
        if not outcome.created:
            return None
        if planner is not None:
            await planner.enqueued(spec, outcome.job_id)
        queue = _queue_name or self.default_queue_name
        return Job(outcome.job_id, self, _queue_name=queue, _deserializer=self.job_deserializer)

    async def enqueue_one(self, spec: EnqueueSpec) -> EnqueueOutcome:
        """One job, in one script call with the enqueues made at the same moment."""
        return await self.enqueuer.one(spec)

    async def enqueue_many(self, specs: list[EnqueueSpec]) -> list[EnqueueOutcome]:
        """Each job (same rules as `enqueue_one`), in one round trip."""
        return await self.enqueuer.many(specs)


async def probe(pool: ConnectionPool, timeout: float) -> None:
    """PING Redis on a new connection made as the pool makes its own (its own may all be busy,
    or stuck), within `timeout`; raises if Redis cannot be reached."""
    connection = pool.make_connection()  # type: ignore[no-untyped-call]
    try:
        async with asyncio.timeout(timeout):
            await connection.connect()
            await connection.send_command("PING")
            await connection.read_response()
    finally:
        await connection.disconnect()
