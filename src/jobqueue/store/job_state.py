"""Everything Redis holds about one job, read in one round trip."""

from dataclasses import dataclass

from arq.connections import ArqRedis

from jobqueue.store import keys
from jobqueue.store.records import decode_hash


@dataclass(frozen=True)
class JobState:
    result: bytes | None  # arq's result payload, once finished (see `arq_format`)
    job: bytes | None  # arq's job payload, while waiting or running
    score: float | None  # its due time (ms) in the queue
    in_progress: bool  # a worker holds it
    tries: int  # arq's try counter
    record: dict[str, str]  # our history record; {} when none


async def read_job_state(redis: ArqRedis, queue: str, job_id: str) -> JobState:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(keys.result(job_id))
        pipe.get(keys.job(job_id))
        pipe.zscore(queue, job_id)
        pipe.exists(keys.in_progress(job_id))
        pipe.get(keys.retry(job_id))
        pipe.hgetall(keys.record(job_id))
        result, job, score, in_progress, tries, record = await pipe.execute()
    return JobState(
        result=result,
        job=job,
        score=score,
        in_progress=bool(in_progress),
        tries=int(tries) if tries and tries.isdigit() else 0,
        record=decode_hash(record),
    )


async def any_in_progress(redis: ArqRedis, job_ids: list[str]) -> bool:
    """A worker holds one of these jobs."""
    if not job_ids:
        return False
    held: int = await redis.exists(*(keys.in_progress(job_id) for job_id in job_ids))
    return held > 0
