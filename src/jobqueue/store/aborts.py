"""Aborting a job: before any worker takes it (we write arq's result ourselves), or by arq's
abort request, which the worker running it acts on. A job key of the wrong type is left to the
worker (which fails the job); an abort set of the wrong type refuses the request (`JobConflict`:
it could not be acted on)."""

from arq.connections import ArqRedis
from redis.exceptions import ResponseError, WatchError

from jobqueue.clock import now_ms
from jobqueue.errors import JobConflict
from jobqueue.store import keys, malformed
from jobqueue.store.arq_format import MalformedPayload, aborted_result, decode_job


async def request_abort(redis: ArqRedis, queue: str, job_id: str) -> None:
    """arq's abort request; the queue's workers are woken to act on it now."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(keys.ABORTS, {job_id: now_ms()})
        pipe.publish(keys.wake_channel(queue), "1")
        [added, _] = await pipe.execute(raise_on_error=False)
    if isinstance(added, ResponseError):
        malformed.wrong_type(keys.ABORTS, added)
        raise JobConflict(f"job {job_id!r} cannot be aborted now: arq's abort set is malformed")


async def abort_before_start(redis: ArqRedis, queue: str, job_id: str, result_ttl_ms: int) -> bool:
    """End a job no worker has taken as aborted, as arq would have; False if a worker has it
    (or takes it meanwhile), or its data is gone or unreadable (a worker fails it then)."""
    in_progress, job_key = keys.in_progress(job_id), keys.job(job_id)
    async with redis.pipeline(transaction=True) as pipe:
        await pipe.watch(in_progress, job_key)
        try:
            raw = await pipe.get(job_key)
        except ResponseError as error:
            malformed.wrong_type(job_key, error)
            return False
        if raw is None or await pipe.exists(in_progress):
            return False
        try:
            job = decode_job(raw)
        except MalformedPayload:
            return False
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.zrem(queue, job_id)
        pipe.delete(job_key, keys.retry(job_id))
        pipe.zrem(keys.ABORTS, job_id)
        # The tracked pipeline records the `aborted` transition along with this result.
        pipe.set(
            keys.result(job_id), aborted_result(job, job_id, queue, now_ms()), px=result_ttl_ms
        )
        try:
            await pipe.execute()
        except WatchError:
            return False  # a worker took it meanwhile
        except ResponseError as error:  # (a MULTI applies the rest: the job has ended)
            malformed.wrong_type(keys.ABORTS, error)
    return True
