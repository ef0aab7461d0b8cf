"""Bytes on and off a pooled connection faster and more safely than redis-py 5's asyncio client.

All three replace redis-py 5.3 internals (listed in docs/seams.md, pinned by
tests/unit/test_seams.py):
- `HiredisPacking` packs commands with hiredis's C packer, as redis-py's own sync client does;
  its asyncio client (5.x) packs them in Python, which was a tenth of a busy worker's CPU.
  Remove once redis-py's asyncio connection packs with hiredis itself.
- `ReadinessCheckedParser` answers the pool's "is this connection clean?" from the buffers.
  Remove once arq allows redis-py ≥ 8 (redis/redis-py#4063 made the same change).
- `CancellableWrites` bounds a write with `asyncio.timeout` where redis-py has
  `asyncio.wait_for`, which on Python 3.11 swallows a cancellation that lands as the write
  completes (CPython gh-86296): a worker told to stop (arq cancels its main task once) then
  went on claiming jobs until it was killed. Remove on Python ≥ 3.12 (its `wait_for` is
  `asyncio.timeout`) or once redis-py stops using `wait_for` there.
"""

import asyncio
import builtins
from collections.abc import Iterable
from typing import Any

from redis._parsers import _AsyncHiredisParser
from redis._parsers.socket import SERVER_CLOSED_CONNECTION_ERROR
from redis.connection import HiredisRespSerializer
from redis.exceptions import ConnectionError, TimeoutError


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


class CancellableWrites:
    """A mixin for a redis-py asyncio `Connection` class (see the module docstring): its
    `send_packed_command`, as redis-py 5.3 writes it, with `asyncio.timeout` for `wait_for`."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        connection: Any = self  # (the attributes below are the Connection's)
        if not connection.is_connected:
            await connection.connect()
        elif check_health:
            await connection.check_health()
        try:
            if isinstance(command, str):
                command = command.encode()
            if isinstance(command, bytes):
                command = [command]
            if connection.socket_timeout:
                async with asyncio.timeout(connection.socket_timeout):
                    await connection._send_packed_command(command)
            else:
                connection._writer.writelines(command)
                await connection._writer.drain()
        except builtins.TimeoutError:
            await connection.disconnect(nowait=True)
            raise TimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            await connection.disconnect(nowait=True)
            number, message = ("UNKNOWN", exc.args[0]) if len(exc.args) == 1 else exc.args[:2]
            raise ConnectionError(f"Error {number} while writing to socket. {message}.") from exc
        except BaseException:
            # As redis-py: a write cut short leaves the connection unusable.
            await connection.disconnect(nowait=True)
            raise
