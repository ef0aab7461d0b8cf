"""Recording every job transition: history record, index and events, written with arq's keys.

- Enqueue: `TrackedRedis.enqueue_job` replaces arq's WATCH/EXISTS/MULTI (3 round trips) with one
  Lua script that writes arq's own job payload (made by `arq.jobs.serialize_job`) plus our
  record, index entries and `enqueued` event. arq's cron and any job enqueueing others use it too.
- Finish: every way a job ends in arq (success, failure, timeout, abort, tries exhausted, expired,
  undecodable) writes `arq:result:{id}` in a MULTI; `TrackedPipeline` appends the transition to
  that same MULTI, so the record can never disagree with arq, and no hook arq lacks is needed.
- Started, retry scheduled and progress are written by the worker's job wrapper.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Any

import orjson
import structlog
from arq.connections import ArqRedis
from arq.constants import default_queue_name, job_key_prefix, result_key_prefix
from arq.jobs import Job, serialize_job
from arq.utils import timestamp_ms, to_ms, to_unix_ms
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError

from jobqueue import keys
from jobqueue.records import WAITING, ms_to_datetime, now_ms, public_status
from jobqueue.serialization import ABORTED_ERROR_TYPE, deserialize
from jobqueue.settings import Settings

log = structlog.get_logger("jobqueue.tracking")

_ENQUEUE = (files("jobqueue") / "lua" / "enqueue.lua").read_text()
_TRANSITION = (files("jobqueue") / "lua" / "transition.lua").read_text()

REQUEST_ID_ARG = "_request_id"
EXPIRED_MESSAGE = "job expired"  # arq's JobExecutionFailed message for a job whose data expired
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)
COUNT_TTL_SECONDS = 2 * 3600  # the finished counters' buckets cover the last hour


def _iso(ms: int) -> str:
    when = ms_to_datetime(ms)
    assert when is not None
    return when.isoformat()


def _eval(client: Any, script: str, script_keys: list[str], args: list[Any]) -> Any:
    """`EVAL` with the script's text (not EVALSHA): correct even right after Redis restarts
    with an empty script cache, and valid inside MULTI."""
    return client.execute_command("EVAL", script, len(script_keys), *script_keys, *args)


def public_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k != REQUEST_ID_ARG}


@dataclass(frozen=True)
class EnqueueOutcome:
    job_id: str
    created: bool
    enqueue_ms: int
    score: int
    already_retried_as: str | None = None


class JobTracker:
    """Builds the transition writes; holds the retention settings they need.

    A worker notes a job's start in memory (`note_started`) and writes it together with the
    job's next write: its end (in arq's result transaction), a retry, or its first progress.
    A job still running after `START_WRITE_DELAY_S` gets its start written on its own. Short
    jobs thus cost no extra round trip for their `started` record.
    """

    def __init__(self, settings: Settings) -> None:
        self.history_ttl_ms = settings.history_ttl * 1000
        self.events_max_length = settings.events_max_length
        self._pending_starts: dict[str, tuple[int, int]] = {}  # job id -> (try, at ms)

    def add_transition(
        self,
        client: Any,
        job_id: str,
        *,
        status: str,
        event: str,
        data: dict[str, Any],
        fields: dict[str, Any] | None = None,
        counts: dict[str, Any] | None = None,
    ) -> Any:
        """`EVAL` the transition script on `client`: a pipeline (queued) or a client
        (returns the awaitable reply). A pending start of the job travels with it."""
        events: list[Any] = [event, orjson.dumps(data)]
        fields = dict(fields or {})
        start = self._pending_starts.pop(job_id, None)
        if start is not None:
            job_try, at = start
            started = {"status": "in_progress", "at": _iso(at), "try": job_try}
            events = ["started", orjson.dumps(started), *events]
            fields = {"start_ms": at, "tries": job_try, **fields}
            status = status or "in_progress"
        flat = [item for pair in fields.items() for item in pair]
        return _eval(
            client, _TRANSITION,
            [keys.record(job_id), keys.EVENTS, keys.job_events(job_id)],
            [job_id, status, self.history_ttl_ms, self.events_max_length, keys.INDEX_PREFIX,
             orjson.dumps(counts) if counts else "", len(events) // 2, *events, *flat],
        )  # fmt: skip

    async def record(
        self,
        redis: ArqRedis,
        job_id: str,
        *,
        status: str,
        event: str,
        data: dict[str, Any],
        fields: dict[str, Any] | None = None,
    ) -> None:
        async with redis.pipeline(transaction=True) as pipe:
            self.add_transition(pipe, job_id, status=status, event=event, data=data, fields=fields)
            await pipe.execute()

    # --- starts

    def note_started(self, job_id: str, job_try: int) -> None:
        self._pending_starts[job_id] = (job_try, now_ms())

    async def write_started_if_pending(self, redis: ArqRedis, job_id: str) -> None:
        if job_id in self._pending_starts:
            async with redis.pipeline(transaction=True) as pipe:
                self._add_pending_start(pipe, job_id)
                await pipe.execute()

    async def started(self, redis: ArqRedis, job_id: str, job_try: int) -> None:
        """Record a start now."""
        self.note_started(job_id, job_try)
        await self.write_started_if_pending(redis, job_id)

    def _add_pending_start(self, client: Any, job_id: str) -> None:
        start = self._pending_starts.pop(job_id, None)
        if start is None:
            return
        job_try, at = start
        self.add_transition(
            client, job_id, status="in_progress", event="started",
            data={"status": "in_progress", "at": _iso(at), "try": job_try},
            fields={"start_ms": at, "tries": job_try, "finish_ms": ""},
        )  # fmt: skip

    # --- the rest of a job's life

    async def retry_scheduled(
        self, redis: ArqRedis, job_id: str, function: str, job_try: int, delay_s: float,
        error: dict[str, str],
    ) -> None:  # fmt: skip
        at = now_ms()
        due = at + int(delay_s * 1000)
        data = {
            "status": "deferred", "at": _iso(at), "try": job_try, "delay_s": round(delay_s, 3),
            "scheduled_for": _iso(due), "error": error,
        }  # fmt: skip
        fields = {"scheduled_ms": due, "error": orjson.dumps(error), "tries": job_try}
        async with redis.pipeline(transaction=True) as pipe:
            self.add_transition(
                pipe, job_id, status=WAITING, event="retry_scheduled", data=data, fields=fields
            )
            pipe.hincrby(keys.METRICS_PREFIX + "retried", function, 1)
            await pipe.execute()

    async def progress(
        self, redis: ArqRedis, job_id: str, current: float, total: float | None, message: str | None
    ) -> None:
        progress = {"current": current, "total": total, "message": message}
        await self.record(
            redis, job_id, status="", event="progress",
            data={"status": "in_progress", "at": _iso(now_ms()), "progress": progress},
            fields={"progress": orjson.dumps(progress)},
        )  # fmt: skip

    async def expired(self, redis: ArqRedis, job_id: str) -> None:
        """A waiting job whose data expired before a worker took it (found by the sweep)."""
        at = now_ms()
        error = {"type": "JobExpired", "message": "the job was not started before it expired"}
        await self.record(
            redis, job_id, status="failed", event="expired",
            data={"status": "failed", "at": _iso(at), "error": error},
            fields={"finish_ms": at, "error": orjson.dumps(error)},
        )  # fmt: skip

    def add_finished(self, pipe: Pipeline, payload: bytes) -> None:
        """Append the end of a job to `pipe`, from the result arq is writing in it."""
        try:
            result = deserialize(payload)
        except ValueError:
            return
        job_id, function, success = result["id"], result["f"], result["s"]
        error = None if success else result["r"]
        if success:
            status = event = "succeeded"
        elif isinstance(error, dict) and error.get("type") == ABORTED_ERROR_TYPE:
            status = event = "aborted"
        else:
            if not isinstance(error, dict):
                error = {"type": "JobExecutionFailed", "message": str(error)}
            status = "failed"
            event = "expired" if error["message"] == EXPIRED_MESSAGE else "failed"
        finish_ms, tries = result["ft"], result["t"]
        fields: dict[str, Any] = {"finish_ms": finish_ms, "tries": tries}
        if tries:
            fields["start_ms"] = result["st"]
        fields["error"] = orjson.dumps(error) if error is not None else ""
        data: dict[str, Any] = {"status": status, "at": _iso(finish_ms), "try": tries}
        if error is not None:
            data["error"] = error
        counts: dict[str, Any] = {
            "prefix": keys.METRICS_PREFIX,
            "function": function,
            "status": status,
            "bucket_key": keys.finished_count(
                result.get("q", default_queue_name), status,
                finish_ms // (keys.COUNT_BUCKET_SECONDS * 1000),
            ),
            "bucket_ttl": COUNT_TTL_SECONDS,
        }  # fmt: skip
        if tries:
            seconds = (finish_ms - result["st"]) / 1000
            counts["seconds"] = seconds
            counts["duration_bucket"] = next(
                (str(b) for b in DURATION_BUCKETS if seconds <= b), "+Inf"
            )
        self.add_transition(
            pipe, job_id, status=status, event=event, data=data, fields=fields, counts=counts
        )


class TrackedPipeline(Pipeline):
    """A pipeline that records a job's end in the same MULTI as arq's result write.

    Its callers (arq among them) see only their own commands' results and errors.
    """

    def __init__(self, tracker: JobTracker, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tracker = tracker

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        own = len(self.command_stack)
        for command, _ in self.command_stack[:own]:
            name, *rest = command
            if name == "SET" and str(rest[0]).startswith(result_key_prefix):
                payload = rest[1]
                if isinstance(payload, bytes):
                    self._tracker.add_finished(self, payload)
        if len(self.command_stack) == own:
            results: list[Any] = await super().execute(raise_on_error)
            return results
        results = await super().execute(raise_on_error=False)
        for extra in results[own:]:
            if isinstance(extra, Exception):
                log.error("tracking.write_failed", error=repr(extra))
        results = results[:own]
        if raise_on_error:
            for outcome in results:
                if isinstance(outcome, Exception):
                    raise outcome
        return results


class TrackedRedis(ArqRedis):
    """arq's Redis client, with every enqueue and every job end recorded (see module doc)."""

    def __init__(self, *args: Any, tracker: JobTracker, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracker = tracker
        self._enqueue_script = self.register_script(_ENQUEUE)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> TrackedPipeline:
        return TrackedPipeline(
            self.tracker, self.connection_pool, self.response_callbacks, transaction, shard_hint
        )

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
        """One job, by EVALSHA (redis-py loads the script again if Redis lost it)."""
        call = self._enqueue_call(spec)
        return call.outcome(await self._enqueue_script(keys=call.keys, args=call.args))

    async def enqueue_many(self, specs: list["EnqueueSpec"]) -> list[EnqueueOutcome]:
        """Enqueue each job (same rules as `enqueue_tracked`) in one pipelined round trip, by
        EVALSHA: 1,000 jobs would otherwise send the script's text 1,000 times."""
        calls = [self._enqueue_call(spec) for spec in specs]
        sha = self._enqueue_script.sha
        async with super().pipeline(transaction=False) as pipe:
            for call in calls:
                pipe.evalsha(sha, len(call.keys), *call.keys, *call.args)
            replies = await pipe.execute(raise_on_error=False)
        if any(isinstance(r, NoScriptError) for r in replies):  # Redis restarted meanwhile
            await self.script_load(_ENQUEUE)
            return await self.enqueue_many(specs)  # nothing ran: NOSCRIPT fails every call
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return [call.outcome(reply) for call, reply in zip(calls, replies, strict=True)]

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
        event = {"status": status.value, "at": _iso(enqueue_ms), "scheduled_for": _iso(score)}
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
