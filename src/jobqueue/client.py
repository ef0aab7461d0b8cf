"""The service's Redis client: arq's `ArqRedis`, with every enqueue and job end recorded.

- Enqueue: `TrackedRedis.enqueue_job` replaces arq's WATCH/EXISTS/MULTI (3 round trips) with one
  Lua script that writes arq's own job payload (made by `arq.jobs.serialize_job`) plus our
  record, index entries and `enqueued` event. arq's cron and any job enqueueing others use it too.
  Enqueues made at the same moment share one script call (`MicroBatcher`).
- Finish: every way a job ends in arq (success, failure, timeout, abort, tries exhausted, expired,
  undecodable) writes `arq:result:{id}` in a MULTI; `TrackedPipeline` appends the transition to
  that same MULTI, so the record can never disagree with arq, and no hook arq lacks is needed.
- Started, retry scheduled and progress are written by the worker's job wrapper (`JobTracker`).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Any

import orjson
import structlog
from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import Job, serialize_job
from arq.utils import timestamp_ms, to_ms, to_unix_ms
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError

from jobqueue import keys
from jobqueue.batching import MicroBatcher
from jobqueue.records import WAITING, public_status
from jobqueue.tracking import TRANSITION, TRANSITION_SHA, JobTracker, iso, public_args

log = structlog.get_logger("jobqueue.client")

# A pipeline's commands (as queued) -> the replies to give instead of sending them.
PreparedReplies = dict[tuple[tuple[Any, ...], ...], list[Any]]

_ENQUEUE = (files("jobqueue") / "lua" / "enqueue.lua").read_text()
ENQUEUE_CHUNK = 100  # jobs per script call


@dataclass(frozen=True)
class EnqueueOutcome:
    job_id: str
    created: bool
    enqueue_ms: int
    score: int
    already_retried_as: str | None = None


class TrackedPipeline(Pipeline):
    """A pipeline that records a job's end in the same MULTI as arq's result write.

    Its callers (arq among them) see only their own commands' results and errors.
    """

    def __init__(
        self, tracker: JobTracker, prepared: "PreparedReplies", *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._tracker = tracker
        self._prepared = prepared

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        if self._prepared:
            replies = self._prepared.pop(tuple(c for c, _ in self.command_stack), None)
            if replies is not None:
                await self.reset()  # type: ignore[no-untyped-call]
                return replies
        own = len(self.command_stack)
        for command, _ in self.command_stack[:own]:
            name, *rest = command
            if name == "SET" and str(rest[0]).startswith(result_key_prefix):
                payload = rest[1]
                if isinstance(payload, bytes):
                    self._tracker.add_finished(self, payload)
        stack = self.command_stack  # execute() starts a new list; this one stays as sent
        results: list[Any] = await super().execute(raise_on_error=False)
        if any(isinstance(outcome, NoScriptError) for outcome in results):
            results = await self._without_script_cache([c for c, _ in stack], results)
        for extra in results[own:]:
            if isinstance(extra, Exception):
                log.error("tracking.write_failed", error=repr(extra))
        results = results[:own]
        if raise_on_error:
            for outcome in results:
                if isinstance(outcome, Exception):
                    raise outcome
        return results

    async def _without_script_cache(self, commands: list[Any], results: list[Any]) -> list[Any]:
        """Redis lost its scripts (a restart): the transitions sent by EVALSHA did nothing, the
        rest of the MULTI ran. Send those transitions again, with the script's text."""
        failed = [
            i for i, (command, outcome) in enumerate(zip(commands, results, strict=True))
            if isinstance(outcome, NoScriptError) and command[:2] == ("EVALSHA", TRANSITION_SHA)
        ]  # fmt: skip
        for i in failed:
            self.execute_command("EVAL", TRANSITION, *commands[i][2:])
        redone = await super().execute(raise_on_error=False)
        results = list(results)
        for i, outcome in zip(failed, redone, strict=True):
            results[i] = outcome
        return results


class TrackedRedis(ArqRedis):
    """arq's Redis client, with every enqueue and every job end recorded (see module doc)."""

    def __init__(self, *args: Any, tracker: JobTracker, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracker = tracker
        self._enqueue_script = self.register_script(_ENQUEUE)
        self._prepared: PreparedReplies = {}
        self._enqueues: MicroBatcher[_EnqueueCall, Any] = MicroBatcher(self._send_enqueues)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> TrackedPipeline:
        return TrackedPipeline(
            self.tracker, self._prepared, self.connection_pool, self.response_callbacks,
            transaction, shard_hint,
        )  # fmt: skip

    def prepare(self, commands: tuple[tuple[Any, ...], ...], replies: list[Any]) -> None:
        """The next pipeline of exactly `commands` returns `replies` without a round trip:
        they were already read atomically by a script (the worker's pickup, for arq's
        `run_job` opening). Used once."""
        self._prepared[commands] = replies

    def forget(self, commands: tuple[tuple[Any, ...], ...]) -> None:
        self._prepared.pop(commands, None)

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
        """arq's `enqueue_job`, same arguments and result, in one round trip."""
        outcome = await self.enqueue_tracked(
            function, kwargs, args=args, job_id=_job_id, queue_name=_queue_name,
            defer_until=_defer_until, defer_by=_defer_by, expires=_expires, job_try=_job_try,
        )  # fmt: skip
        if not outcome.created:
            return None
        queue = _queue_name or self.default_queue_name
        return Job(outcome.job_id, self, _queue_name=queue, _deserializer=self.job_deserializer)

    async def enqueue_tracked(
        self,
        function: str,
        kwargs: dict[str, Any],
        *,
        args: tuple[Any, ...] = (),
        job_id: str | None = None,
        queue_name: str | None = None,
        defer_until: datetime | None = None,
        defer_by: Any = None,
        expires: Any = None,
        job_try: int | None = None,
        retry_of: str | None = None,
    ) -> EnqueueOutcome:
        spec = EnqueueSpec(
            function, kwargs, args=args, job_id=job_id, queue_name=queue_name,
            defer_until=defer_until, defer_by=defer_by, expires=expires, job_try=job_try,
            retry_of=retry_of,
        )  # fmt: skip
        return await self.enqueue_one(spec)

    async def enqueue_one(self, spec: "EnqueueSpec") -> EnqueueOutcome:
        """One job, in one script call with the enqueues made at the same moment."""
        call = self._enqueue_call(spec)
        return call.outcome(await self._enqueues.submit(call))

    async def enqueue_many(self, specs: list["EnqueueSpec"]) -> list[EnqueueOutcome]:
        """Enqueue each job (same rules as `enqueue_tracked`) in one round trip."""
        calls = [self._enqueue_call(spec) for spec in specs]
        replies = await self._send_enqueues(calls)
        return [call.outcome(reply) for call, reply in zip(calls, replies, strict=True)]

    async def _send_enqueues(self, calls: list["_EnqueueCall"]) -> list[Any]:
        """Run the enqueue script for `calls`, ENQUEUE_CHUNK jobs a call (a longer script would
        hold Redis up for other clients), the calls pipelined, by EVALSHA."""
        sha = self._enqueue_script.sha
        chunks = [calls[i : i + ENQUEUE_CHUNK] for i in range(0, len(calls), ENQUEUE_CHUNK)]
        async with super().pipeline(transaction=False) as pipe:
            for chunk in chunks:
                keys = [key for call in chunk for key in call.keys]
                pipe.execute_command(
                    "EVALSHA", sha, len(keys), *keys, *(arg for call in chunk for arg in call.args)
                )
            replies = await pipe.execute(raise_on_error=False)
        if any(isinstance(r, NoScriptError) for r in replies):  # Redis restarted meanwhile
            await self.script_load(_ENQUEUE)
            return await self._send_enqueues(calls)  # nothing ran: NOSCRIPT fails every call
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return [result for reply in replies for result in reply]

    def _enqueue_call(self, spec: "EnqueueSpec") -> "_EnqueueCall":
        if spec.defer_until is not None and spec.defer_by:
            raise RuntimeError("use either 'defer_until' or 'defer_by' or neither, not both")
        job_id = spec.job_id or uuid.uuid4().hex
        queue = spec.queue_name or self.default_queue_name
        enqueue_ms = timestamp_ms()
        if spec.defer_until is not None:
            score = to_unix_ms(spec.defer_until)
        else:
            score = enqueue_ms + (to_ms(spec.defer_by) or 0)
        expires_ms = to_ms(spec.expires) or score - enqueue_ms + self.expires_extra_ms
        payload = serialize_job(
            spec.function, spec.args, spec.kwargs, spec.job_try, enqueue_ms,
            serializer=self.job_serializer,
        )  # fmt: skip
        status = public_status(WAITING, score, enqueue_ms)
        event = {"status": status.value, "at": iso(enqueue_ms), "scheduled_for": iso(score)}
        if spec.retry_of:
            event["retry_of"] = spec.retry_of
        fields = {  # strings: Lua would print large numbers in exponent form
            "job_id": job_id,
            "function": spec.function,
            "args": orjson.dumps(public_args(spec.kwargs)).decode(),
            "queue": queue,
            "enqueue_ms": str(enqueue_ms),
            "scheduled_ms": str(score),
            "tries": "0",
            "retry_of": spec.retry_of or "",
        }
        source = keys.record(spec.retry_of or job_id)
        return _EnqueueCall(
            keys=[job_key_prefix + job_id, result_key_prefix + job_id, queue, keys.record(job_id),
                  keys.EVENTS, keys.job_events(job_id), source, keys.wake_channel(queue)],
            args=[job_id, payload, score, expires_ms, self.tracker.history_ttl_ms,
                  self.tracker.events_max_length, keys.INDEX_PREFIX,
                  keys.index_member(enqueue_ms, job_id), spec.function, orjson.dumps(event),
                  "1" if spec.retry_of else "0", "1" if score <= enqueue_ms else "0",
                  orjson.dumps(fields)],
            template=EnqueueOutcome(job_id, False, enqueue_ms, score),
        )  # fmt: skip


@dataclass(frozen=True)
class EnqueueSpec:
    """One job to enqueue; the fields mirror arq's `enqueue_job` parameters."""

    function: str
    kwargs: dict[str, Any]
    args: tuple[Any, ...] = ()
    job_id: str | None = None
    queue_name: str | None = None
    defer_until: datetime | None = None
    defer_by: Any = None
    expires: Any = None
    job_try: int | None = None
    retry_of: str | None = None


@dataclass(frozen=True)
class _EnqueueCall:
    keys: list[str]
    args: list[Any]
    template: EnqueueOutcome

    def outcome(self, reply: Any) -> EnqueueOutcome:
        t = self.template
        if isinstance(reply, bytes):  # the job being retried was already re-run as `reply`
            return EnqueueOutcome(t.job_id, False, t.enqueue_ms, t.score, reply.decode())
        return EnqueueOutcome(t.job_id, reply == 1, t.enqueue_ms, t.score)
