"""Job records (`jobqueue:record:{id}` hashes), read as plain `dict[str, str]`.

Written by the enqueue and transition scripts; what the fields mean is the history's business
(`jobqueue.history.records`). An empty dict means there is no record. A record or a result key
of the wrong type reads as none, and says so (`StoredJob.wrong_type`), so that one spoilt key
spoils one job of a page, not the page.
"""

from dataclasses import dataclass

from arq.connections import ArqRedis

from jobqueue.store import keys
from jobqueue.store.malformed import WRONG_TYPE, replies, text


@dataclass(frozen=True)
class StoredJob:
    record: dict[str, str]
    result: bytes | None  # arq's raw result, None once it has expired
    wrong_type: tuple[str, ...] = ()  # which of "record", "result" is a key of another type


def decode_hash(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {text(k): text(v) for k, v in raw.items()}


def stored_job(record: object, result: object) -> StoredJob:
    """One job's replies to HGETALL record and GET result, a key of the wrong type included."""
    wrong = tuple(
        name for name, reply in (("record", record), ("result", result)) if reply is WRONG_TYPE
    )
    return StoredJob(
        record=decode_hash(record) if isinstance(record, dict) else {},
        result=result if isinstance(result, bytes) else None,
        wrong_type=wrong,
    )


async def read_records(redis: ArqRedis, job_ids: list[str]) -> list[StoredJob]:
    """Each job's record and arq's raw result, in one round trip."""
    read_keys = []
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hgetall(keys.record(job_id))
            pipe.get(keys.result(job_id))
            read_keys += [keys.record(job_id), keys.result(job_id)]
        answers = await replies(pipe, read_keys)
    return [stored_job(r, result) for r, result in zip(answers[::2], answers[1::2], strict=True)]
