"""What is kept of each schedule (cron job) in Redis, shared by every worker and API process:
whether it is paused (by whom, since when), and its latest runs (the last two job ids and the
slot of the newest scheduled one). A hash per schedule, `jobqueue:schedule:{name}`.

A hash of the wrong type reads as a schedule neither paused nor run (logged), and a pause or
resume of it is refused (`JobConflict`): the operator learns it could not be acted on."""

from dataclasses import dataclass

from arq.connections import ArqRedis
from redis.exceptions import ResponseError

from jobqueue.errors import JobConflict
from jobqueue.store import keys, malformed


@dataclass(frozen=True)
class ScheduleState:
    paused_by: str | None = None  # "" when paused with auth off
    paused_at_ms: int | None = None
    last_run: str | None = None  # the newest run's job id
    prior_run: str | None = None  # the one before it
    last_slot_ms: int | None = None  # the slot of the newest scheduled (not manual) run

    @property
    def paused(self) -> bool:
        return self.paused_at_ms is not None


async def read_states(redis: ArqRedis, names: list[str]) -> dict[str, ScheduleState]:
    schedule_keys = [keys.schedule(name) for name in names]
    async with redis.pipeline(transaction=False) as pipe:
        for key in schedule_keys:
            pipe.hgetall(key)
        replies = await malformed.replies(pipe, schedule_keys)
    return {
        name: _state(reply) if isinstance(reply, dict) else ScheduleState()
        for name, reply in zip(names, replies, strict=True)
    }


def _state(raw: dict[bytes, bytes]) -> ScheduleState:
    fields = {malformed.text(k): malformed.text(v) for k, v in raw.items()}

    def number(name: str) -> int | None:
        value = fields.get(name, "")
        return int(value) if value.isdigit() else None

    return ScheduleState(
        paused_by=fields.get("paused_by"),
        paused_at_ms=number("paused_at_ms"),
        last_run=fields.get("last_run") or None,
        prior_run=fields.get("prior_run") or None,
        last_slot_ms=number("last_slot_ms"),
    )


async def pause(redis: ArqRedis, name: str, by: str, at_ms: int) -> None:
    await _write(redis, name, {"paused_by": by, "paused_at_ms": str(at_ms)})


async def resume(redis: ArqRedis, name: str) -> None:
    key = keys.schedule(name)
    try:
        await redis.hdel(key, "paused_by", "paused_at_ms")  # type: ignore[misc]
    except ResponseError as error:
        malformed.wrong_type(key, error)
        reason = "its state in Redis is malformed"
        raise JobConflict(f"{name} cannot be resumed now: {reason}") from None


async def note_run(redis: ArqRedis, name: str, job_id: str, slot_ms: int | None) -> None:
    """A run of the schedule was enqueued (`slot_ms`: its slot; None for a manual run)."""
    key = keys.schedule(name)
    try:
        previous = await redis.hget(key, "last_run")  # type: ignore[misc]
        fields = {"last_run": job_id, "prior_run": malformed.text(previous) if previous else ""}
        if slot_ms is not None:
            fields["last_slot_ms"] = str(slot_ms)
        await redis.hset(key, mapping=fields)  # type: ignore[misc]
    except ResponseError as error:  # (the run goes ahead; only its note is lost)
        malformed.wrong_type(key, error)


async def note_slot(redis: ArqRedis, name: str, slot_ms: int) -> None:
    """The schedule's slot `slot_ms` is taken care of (by a run enqueued for an earlier one)."""
    key = keys.schedule(name)
    try:
        await redis.hset(key, "last_slot_ms", str(slot_ms))  # type: ignore[misc]
    except ResponseError as error:
        malformed.wrong_type(key, error)


async def _write(redis: ArqRedis, name: str, fields: dict[str, str]) -> None:
    key = keys.schedule(name)
    try:
        await redis.hset(key, mapping=fields)  # type: ignore[misc]
    except ResponseError as error:
        malformed.wrong_type(key, error)
        raise JobConflict(f"{name} cannot be paused now: its state in Redis is malformed") from None
