"""Job records (`jobqueue:record:{id}` hashes), read as plain `dict[str, str]`.

Written by the enqueue and transition scripts; what the fields mean is the history's business
(`jobqueue.history.records`). An empty dict means there is no record.
"""

from arq.connections import ArqRedis

from jobqueue.store import keys


def decode_hash(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


async def read_records(
    redis: ArqRedis, job_ids: list[str]
) -> list[tuple[dict[str, str], bytes | None]]:
    """Each job's record and arq's raw result (None once it has expired), in one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hgetall(keys.record(job_id))
            pipe.get(keys.result(job_id))
        replies = await pipe.execute()
    return [(decode_hash(r), result) for r, result in zip(replies[::2], replies[1::2], strict=True)]
