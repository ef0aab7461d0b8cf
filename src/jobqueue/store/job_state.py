"""Everything Redis holds about one job, read in one round trip."""

from dataclasses import dataclass

from arq.connections import ArqRedis

from jobqueue.store import keys
from jobqueue.store.malformed import WRONG_TYPE, replies
from jobqueue.store.records import stored_job


@dataclass(frozen=True)
class JobState:
    result: bytes | None  # arq's result payload, once finished (see `arq_format`)
    job: bytes | None  # arq's job payload, while waiting or running
    score: float | None  # its due time (ms) in the queue
    in_progress: bool  # a worker holds it
    tries: int  # arq's try counter
    record: dict[str, str]  # our history record; {} when none
    # Which of its keys ("result", "job", "queue", "record") are of the wrong type: read as none.
    wrong_type: tuple[str, ...] = ()


async def read_job_state(redis: ArqRedis, queue: str, job_id: str) -> JobState:
    read_keys = [
        keys.result(job_id),
        keys.job(job_id),
        queue,
        keys.in_progress(job_id),
        keys.retry(job_id),
        keys.record(job_id),
    ]
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(keys.result(job_id))
        pipe.get(keys.job(job_id))
        pipe.zscore(queue, job_id)
        pipe.exists(keys.in_progress(job_id))
        pipe.get(keys.retry(job_id))
        pipe.hgetall(keys.record(job_id))
        result, job, score, in_progress, tries, record = await replies(pipe, read_keys)
    stored = stored_job(record, result)
    wrong = [name for name, reply in (("job", job), ("queue", score)) if reply is WRONG_TYPE]
    return JobState(
        result=stored.result,
        job=job if isinstance(job, bytes) else None,
        score=score if isinstance(score, float) else None,
        in_progress=bool(in_progress),
        tries=int(tries) if isinstance(tries, bytes) and tries.isdigit() else 0,
        record=stored.record,
        wrong_type=(*stored.wrong_type, *wrong),
    )


async def any_in_progress(redis: ArqRedis, job_ids: list[str]) -> bool:
    """A worker holds one of these jobs."""
    if not job_ids:
        return False
    held: int = await redis.exists(*(keys.in_progress(job_id) for job_id in job_ids))
    return held > 0
