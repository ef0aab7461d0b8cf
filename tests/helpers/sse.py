"""A minimal Server-Sent Events reader for tests (a real HTTP client on the wire)."""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class SseEvent:
    id: str
    type: str
    data: dict[str, Any]


async def read_sse(response: httpx.Response) -> AsyncIterator[SseEvent]:
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in fields:
                yield SseEvent(
                    fields.get("id", ""), fields.get("event", ""), json.loads(fields["data"])
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


class RawStream:
    """One HTTP GET on a bare asyncio socket, its body left unread until asked for: lighter
    than an httpx client when a test holds a thousand of them open."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.status = 0
        self.head = b""
        self.received = b""

    @classmethod
    async def send(cls, url: str, path: str, headers: dict[str, str] | None = None) -> "RawStream":
        """Sends the request; the answer is left unread."""
        host, _, port = url.removeprefix("http://").partition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        given = [f"{name}: {value}" for name, value in (headers or {}).items()]
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}", *given]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        return cls(reader, writer)

    @classmethod
    async def open(cls, url: str, path: str, headers: dict[str, str] | None = None) -> "RawStream":
        """Sends the request and reads the response's status line and headers."""
        stream = await cls.send(url, path, headers)
        await stream.read_head()
        return stream

    async def read_head(self) -> None:
        self.head = await self._reader.readuntil(b"\r\n\r\n")
        self.status = int(self.head.split(b" ", 2)[1])

    async def read_until(self, marker: bytes) -> bytes:
        """Reads the body until it holds `marker` (raises at the end of the stream)."""
        while marker not in self.received:
            chunk = await self._reader.read(65536)
            if not chunk:
                raise EOFError(f"the stream ended before {marker!r}")
            self.received += chunk
        return self.received

    async def ended(self) -> bool:
        """Reads the rest of the body; True once the server has closed or ended the stream."""
        while chunk := await self._reader.read(65536):
            self.received += chunk
            if self.received.endswith(b"0\r\n\r\n"):  # the chunked body's last chunk
                return True
        return True

    def close(self) -> None:
        self._writer.close()
