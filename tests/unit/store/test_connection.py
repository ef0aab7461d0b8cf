"""The Redis pool each process builds."""

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
