"""The Redis pool each process builds."""

import asyncio
import sys
from typing import Any

import pytest
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection

from jobqueue.settings import Settings
from jobqueue.store.connection import create_pool

COMMANDS: list[tuple[Any, ...]] = [
    ("SET", "key", b"\x80bytes", 1, 0.25, float("-inf"), "é"),
    ("CLIENT SETNAME", "name"),  # a two-word command name, split as redis-py does
    ("EVALSHA", "0" * 40, 2, "k1", "k2", "x" * 10_000),  # longer than redis-py's buffer cutoff
]


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("redis://127.0.0.1:1/0", Connection),
        ("rediss://127.0.0.1:1/0", SSLConnection),
        ("unix:///tmp/redis.sock", UnixDomainSocketConnection),
    ],
)
def test_commands_are_packed_by_hiredis_exactly_as_redis_py_would(
    url: str, base: type[Connection]
) -> None:
    pool = create_pool(Settings(redis_url=url))
    ours: Any = pool.make_connection()  # type: ignore[no-untyped-call]
    reference = base()
    assert isinstance(ours, base)
    for command in COMMANDS:
        assert b"".join(ours.pack_command(*command)) == b"".join(reference.pack_command(*command))
    assert b"".join(ours.pack_commands(COMMANDS)) == b"".join(reference.pack_commands(COMMANDS))


class _Writer:
    """A socket write that completes when the test says so."""

    def __init__(self) -> None:
        self.written = asyncio.get_running_loop().create_future()

    def writelines(self, data: Any) -> None:
        pass

    async def drain(self) -> None:
        await self.written

    def close(self) -> None:  # (a write cut short closes the connection)
        pass

    async def wait_closed(self) -> None:
        pass


async def _cancel_as_the_write_completes(connection: Any) -> str:
    writer = _Writer()
    connection._writer = writer
    connection._reader = object()  # (connected, as far as the write is concerned)
    task = asyncio.create_task(connection.send_packed_command(b"PING", check_health=False))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    writer.written.set_result(None)  # the write completes...
    task.cancel()  # ...and the cancel lands in the same loop step
    try:
        await task
    except asyncio.CancelledError:
        return "cancelled"
    finally:
        connection._writer = connection._reader = None  # (nothing real to close)
    return "swallowed"


async def test_a_cancel_landing_as_a_write_completes_is_not_swallowed() -> None:
    """redis-py 5 bounds writes with `asyncio.wait_for`, which on Python 3.11 loses such a
    cancel: a worker told to stop kept working (issue #10)."""
    ours: Any = create_pool(Settings(redis_url="redis://127.0.0.1:1/0")).make_connection()  # type: ignore[no-untyped-call]
    assert await _cancel_as_the_write_completes(ours) == "cancelled"
    if sys.version_info < (3, 12):  # the bug it works around, still there
        assert await _cancel_as_the_write_completes(Connection(socket_timeout=2)) == "swallowed"
