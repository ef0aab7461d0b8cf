"""The dashboard's login sessions in Redis, shared by every API process: a hash per session,
`jobqueue:session:{sha256 of its cookie}` (a Redis dump holds no usable cookie), with the key
hash it logged in with and its CSRF token, expiring on its own."""

from arq.connections import ArqRedis
from redis.exceptions import ResponseError

from jobqueue.store import keys, malformed


async def save(redis: ArqRedis, session: str, fields: dict[str, str], ttl_s: int) -> None:
    key = keys.session(session)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping=fields)
        pipe.expire(key, ttl_s)
        await pipe.execute()


async def load(redis: ArqRedis, session: str) -> dict[str, str] | None:
    """The session's fields; None if there is none (expired, ended, or of the wrong type)."""
    key = keys.session(session)
    try:
        raw: dict[bytes, bytes] = await redis.hgetall(key)  # type: ignore[misc]
    except ResponseError as error:
        malformed.wrong_type(key, error)
        return None
    if not raw:
        return None
    return {malformed.text(k): malformed.text(v) for k, v in raw.items()}


async def drop(redis: ArqRedis, session: str) -> None:
    await redis.delete(keys.session(session))
