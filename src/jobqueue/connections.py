"""Building the arq Redis pool each process uses, with the JSON codec and outage behaviour.

The API must answer 503 within a few seconds when Redis is down, so it retries a failed command
once. The worker instead rides out an outage: arq's poll loop dies on the first Redis error, so
its pool retries (with capped backoff) until Redis is back, and the worker carries on unrestarted.
"""

from collections.abc import Iterable
from typing import Any

import structlog
from redis._parsers import _AsyncHiredisParser
from redis._parsers.socket import SERVER_CLOSED_CONNECTION_ERROR
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.connection import HiredisRespSerializer
from redis.exceptions import ConnectionError, TimeoutError

from jobqueue.client import TrackedRedis
from jobqueue.serialization import deserialize, serialize
from jobqueue.settings import Settings
from jobqueue.tracking import JobTracker

# OSError: a refused connect surfaces as a bare OSError inside redis-py's connect retry loop.
_RETRYABLE: list[type[Exception]] = [ConnectionError, TimeoutError, OSError]

log = structlog.get_logger("jobqueue.redis")


class _LoggedBackoff(ExponentialBackoff):
    """redis-py retries silently; say so (on the first failure, then every tenth)."""

    def compute(self, failures: int) -> float:
        delay: float = super().compute(failures)
        if failures == 1 or failures % 10 == 0:
            log.warning("redis.retrying", attempt=failures, retry_in_s=round(delay, 3))
        return delay


class _HiredisPacking:
    """Packs commands with hiredis's C packer, as redis-py's own sync client does; its asyncio
    client (5.x) packs them in Python, which was a tenth of a busy worker's CPU."""

    _packer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        packed: list[bytes] = self._packer.pack(*args)
        return packed

    def pack_commands(self, commands: Iterable[Iterable[Any]]) -> list[bytes]:
        return [b"".join(chunk for command in commands for chunk in self._packer.pack(*command))]


class _ReadinessCheckedParser(_AsyncHiredisParser):
    """redis-py's hiredis reply parser, checking a pooled connection's readiness without I/O.

    On every checkout the pool asks whether the connection holds unread data (a reply left
    behind by a cancelled command) or was closed. redis-py 5 answers by reading the socket
    under a zero timeout: a timer, a cancellation and an extra event-loop pass per command,
    about a third of a round trip's CPU. redis-py 8 looks at the buffers instead
    (redis/redis-py#4063); arq pins redis-py below 6, so this makes the same check here.
    """

    async def can_read_destructive(self) -> bool:
        reader: Any = self._reader  # a hiredis.Reader once connected
        stream = self._stream
        if not self._connected or stream is None:
            raise ConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
        # (StreamReader has no public way to peek; redis-py 8 reads `_buffer` too.)
        buffered: bytearray = stream._buffer  # type: ignore[attr-defined]
        return bool(reader.has_data() or stream.at_eof() or buffered)


def create_redis(settings: Settings, *, ride_out_outages: bool = False) -> TrackedRedis:
    """A lazily-connecting pool: nothing touches the network until the first command."""
    retry = (
        Retry(_LoggedBackoff(cap=5.0, base=0.1), retries=-1)
        if ride_out_outages
        else Retry(ExponentialBackoff(cap=0.5, base=0.1), retries=1)
    )
    pool = ConnectionPool.from_url(
        settings.redis_url,
        socket_connect_timeout=settings.redis_timeout,
        # Nothing blocks longer than this: arq sends no blocking commands, and our stream
        # reads block for at most a second. A hung socket becomes a retry.
        socket_timeout=settings.redis_timeout,
        retry=retry,
        retry_on_error=_RETRYABLE,
        parser_class=_ReadinessCheckedParser,
    )
    base = pool.connection_class  # plain, TLS or Unix socket, as the URL says
    pool.connection_class = type(base.__name__, (_HiredisPacking, base), {})
    return client_over(pool, settings)


def client_over(pool: ConnectionPool, settings: Settings) -> TrackedRedis:
    """The service's Redis client over `pool`: JSON codec, history tracking, queue name."""
    return TrackedRedis(
        pool,
        tracker=JobTracker(settings),
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=settings.queue_name,
    )
