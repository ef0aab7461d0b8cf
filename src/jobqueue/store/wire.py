"""Bytes on and off a pooled connection faster than redis-py 5's asyncio client does.

Both replace redis-py 5.3 internals (listed in docs/seams.md, pinned by
tests/unit/test_seams.py):
- `HiredisPacking` packs commands with hiredis's C packer, as redis-py's own sync client does;
  its asyncio client (5.x) packs them in Python, which was a tenth of a busy worker's CPU.
  Remove once redis-py's asyncio connection packs with hiredis itself.
- `ReadinessCheckedParser` answers the pool's "is this connection clean?" from the buffers.
  Remove once arq allows redis-py ≥ 8 (redis/redis-py#4063 made the same change).
"""

from collections.abc import Iterable
from typing import Any

from redis._parsers import _AsyncHiredisParser
from redis._parsers.socket import SERVER_CLOSED_CONNECTION_ERROR
from redis.connection import HiredisRespSerializer
from redis.exceptions import ConnectionError


class HiredisPacking:
    """A mixin for a redis-py asyncio `Connection` class (see the module docstring)."""

    _packer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        packed: list[bytes] = self._packer.pack(*args)
        return packed

    def pack_commands(self, commands: Iterable[Iterable[Any]]) -> list[bytes]:
        return [b"".join(chunk for command in commands for chunk in self._packer.pack(*command))]


class ReadinessCheckedParser(_AsyncHiredisParser):
    """redis-py's hiredis reply parser, checking a pooled connection's readiness without I/O.

    On every checkout the pool asks whether the connection holds unread data (a reply left
    behind by a cancelled command) or was closed. redis-py 5 answers by reading the socket
    under a zero timeout: a timer, a cancellation and an extra event-loop pass per command,
    about a third of a round trip's CPU. redis-py 8 looks at the buffers instead.
    """

    async def can_read_destructive(self) -> bool:
        reader: Any = self._reader  # a hiredis.Reader once connected
        stream = self._stream
        if not self._connected or stream is None:
            raise ConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
        # (StreamReader has no public way to peek; redis-py 8 reads `_buffer` too.)
        buffered: bytearray = stream._buffer  # type: ignore[attr-defined]
        return bool(reader.has_data() or stream.at_eof() or buffered)
