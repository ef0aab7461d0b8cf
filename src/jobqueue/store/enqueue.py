"""Enqueueing: arq's job written exactly as arq writes it, with its history, in one script call.

`enqueue.lua` replaces arq's WATCH/EXISTS/MULTI (3 round trips) with one call that writes arq's
own job payload (made by `arq.jobs.serialize_job`, so arq reads it as its own) plus the record,
index entries and first event the `Recorder` asks for. Enqueues made at the same moment share
one script call (`MicroBatcher`); a batch request sends all its jobs in one round trip.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from arq.jobs import serialize_job
from arq.utils import timestamp_ms, to_ms, to_unix_ms
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from jobqueue.history.vocabulary import EventType, StoredStatus
from jobqueue.serialization import serialize
from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.store.arq_format import public_kwargs, with_request_id
from jobqueue.store.batching import MicroBatcher
from jobqueue.store.recording import NewJob, Recorder
from jobqueue.store.scripts import Command, LuaScript, rerun_unloaded

ENQUEUE = LuaScript("enqueue")
ENQUEUE_CHUNK = 100  # jobs per script call: a longer script would hold Redis up for others


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
    request_id: str | None = None  # the enqueuing request's, for the worker's log lines
    by: str | None = None  # the API key's name, for the job's record and first event
    schedule: str | None = None  # the schedule that produced it (a cron job's name)


@dataclass(frozen=True)
class EnqueueOutcome:
    job_id: str
    created: bool
    enqueue_ms: int
    score: int
    already_retried_as: str | None = None
    rejected: str | None = None  # why the script refused this job (nothing of it was written)


class Enqueuer:
    def __init__(
        self,
        pipeline: Callable[[], Pipeline],
        recorder: Recorder,
        settings: Settings,
        *,
        expires_extra_ms: int,
    ) -> None:
        self._pipeline = pipeline  # a plain (untracked, non-transactional) pipeline
        self._recorder = recorder
        self._queue = settings.queue_name
        self._history_ttl_ms = settings.history_ttl * 1000
        self._events_max_length = settings.events_max_length
        self._expires_extra_ms = expires_extra_ms
        self._batcher: MicroBatcher[_EnqueueCall, Any] = MicroBatcher(self._send)

    async def one(self, spec: EnqueueSpec) -> EnqueueOutcome:
        call = self._call(spec)
        return call.outcome(await self._batcher.submit(call))

    async def many(self, specs: list[EnqueueSpec]) -> list[EnqueueOutcome]:
        calls = [self._call(spec) for spec in specs]
        replies = await self._send(calls)
        return [call.outcome(reply) for call, reply in zip(calls, replies, strict=True)]

    async def _send(self, calls: list["_EnqueueCall"]) -> list[Any]:
        """The script for `calls`, ENQUEUE_CHUNK jobs a call, the calls pipelined."""
        header = [StoredStatus.waiting, EventType.enqueued, keys.INDEXED_FUNCTIONS, keys.TENANTS]
        commands: list[Command] = []
        for i in range(0, len(calls), ENQUEUE_CHUNK):
            chunk = calls[i : i + ENQUEUE_CHUNK]
            chunk_keys = [key for call in chunk for key in call.keys]
            chunk_args = [arg for call in chunk for arg in call.args]
            commands.append(ENQUEUE.command(chunk_keys, [*header, *chunk_args]))
        replies = await self._execute(commands)
        replies = await rerun_unloaded(self._execute, [ENQUEUE], commands, replies)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return [result for reply in replies for result in reply]

    async def _execute(self, commands: list[Command]) -> list[Any]:
        async with self._pipeline() as pipe:
            for command in commands:
                pipe.execute_command(*command)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies

    def _schedule(self, spec: EnqueueSpec, enqueue_ms: int) -> tuple[int, int]:
        """The job's due time and its data's time to live (ms), as arq computes them; a due
        time in the past means now (arq would give it a TTL that ends before it is enqueued)."""
        if spec.defer_until is not None:
            score = to_unix_ms(spec.defer_until)
        else:
            score = enqueue_ms + (to_ms(spec.defer_by) or 0)
        score = max(score, enqueue_ms)
        expires_ms = to_ms(spec.expires) or score - enqueue_ms + self._expires_extra_ms
        if expires_ms < 1:
            raise ValueError(f"expires must be positive, not {spec.expires!r}")
        return score, expires_ms

    def _call(self, spec: EnqueueSpec) -> "_EnqueueCall":
        if spec.defer_until is not None and spec.defer_by:
            raise RuntimeError("use either 'defer_until' or 'defer_by' or neither, not both")
        job_id = spec.job_id or uuid.uuid4().hex
        queue = spec.queue_name or self._queue
        enqueue_ms = timestamp_ms()
        score, expires_ms = self._schedule(spec, enqueue_ms)
        stored = with_request_id(spec.kwargs, spec.request_id)
        payload = serialize_job(
            spec.function, spec.args, stored, spec.job_try, enqueue_ms, serializer=serialize
        )
        new = NewJob(
            job_id,
            spec.function,
            public_kwargs(spec.kwargs),
            queue,
            enqueue_ms,
            score,
            spec.retry_of,
            spec.by,
            spec.schedule,
        )
        write = self._recorder.enqueue_record(new)
        return _EnqueueCall(
            keys=_script_keys(job_id, queue, spec.retry_of),
            args=[  # in the order of enqueue.lua's header
                job_id,
                payload,
                score,
                expires_ms,
                self._history_ttl_ms,
                self._events_max_length,
                keys.INDEX_PREFIX,
                keys.index_member(enqueue_ms, job_id),
                spec.function,
                orjson.dumps(write.event),
                "1" if spec.retry_of else "0",
                "1" if score <= enqueue_ms else "0",
                orjson.dumps(write.fields),
                keys.tenant_of(job_id) or "",
            ],
            template=EnqueueOutcome(job_id, False, enqueue_ms, score),
        )


def _script_keys(job_id: str, queue: str, retry_of: str | None) -> list[str]:
    """enqueue.lua's KEYS for one job, in the order of its header."""
    tenant = keys.tenant_of(job_id)
    return [
        keys.job(job_id),
        keys.result(job_id),
        queue,
        keys.record(job_id),
        keys.EVENTS,
        keys.job_events(job_id),
        keys.record(retry_of or job_id),
        keys.wake_channel(queue),
        keys.tenant_queue(queue, tenant) if tenant is not None else queue,
    ]


@dataclass(frozen=True)
class _EnqueueCall:
    keys: list[str]
    args: list[Any]
    template: EnqueueOutcome

    def outcome(self, reply: Any) -> EnqueueOutcome:
        t = self.template
        if isinstance(reply, bytes):  # the job being retried was already re-run as `reply`
            return EnqueueOutcome(t.job_id, False, t.enqueue_ms, t.score, reply.decode())
        if isinstance(reply, ResponseError):  # this job's arguments, refused before any write
            return EnqueueOutcome(t.job_id, False, t.enqueue_ms, t.score, rejected=str(reply))
        return EnqueueOutcome(t.job_id, reply == 1, t.enqueue_ms, t.score)
