"""HTTP load: wrk when it is there (C, lower overhead), else a Python generator.

The Python generator keeps N HTTP/1.1 keep-alive connections busy with one request each at a
time, for a fixed duration or a fixed number of requests, over raw asyncio streams on uvloop
(httpx costs several times more CPU per request, which the server would then lack).
It shares the two cores with the server and Redis, so it caps what it can measure lower
than wrk does: its figures compare servers with each other, within one run.
"""

import asyncio
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import uvloop

from bench.harness import percentile

POST_SCRIPT = Path(__file__).with_name("post_job.lua")
WRK = "wrk"
PYTHON = "python"


@dataclass
class _Tally:
    budget: float  # requests left to send (inf: until the deadline)
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0  # non-2xx responses


def _request(url: str, body: bytes) -> bytes:
    parts = urlsplit(url)
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connection(url: str, request: bytes, deadline: float, tally: _Tally) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        while tally.budget > 0 and time.perf_counter() < deadline:
            tally.budget -= 1
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if length is None:  # uvicorn sends Content-Length for every response we load
                raise RuntimeError(f"response without Content-Length: {head!r}")
            await reader.readexactly(int(length.group(1)))
            tally.latencies_ms.append((time.perf_counter() - started) * 1000)
            if not head.startswith(b"HTTP/1.1 2"):
                tally.errors += 1
    finally:
        writer.close()


async def _load(url: str, body: bytes, connections: int, seconds: float, budget: float) -> _Tally:
    tally = _Tally(budget)
    deadline = time.perf_counter() + seconds
    request = _request(url, body)
    await asyncio.gather(*(_connection(url, request, deadline, tally) for _ in range(connections)))
    return tally


def python_load(
    url: str, body: bytes, *, connections: int, seconds: float, requests: float = float("inf")
) -> dict[str, float]:
    """POST `body` to `url` over `connections` connections for `seconds` (or until
    `requests` have been sent, whichever comes first)."""
    started = time.perf_counter()
    tally = uvloop.run(_load(url, body, connections, seconds, requests))
    elapsed = time.perf_counter() - started
    latencies = tally.latencies_ms or [0.0]
    return {
        "requests": float(len(tally.latencies_ms)),
        "rps": len(tally.latencies_ms) / elapsed,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "errors": float(tally.errors),
    }


def wrk_load(url: str, *, connections: int, seconds: float) -> dict[str, float]:
    """Run wrk (one thread, leaving the other core to the server) with `post_job.lua`."""
    args = [WRK, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    output = subprocess.run(
        [*args, "-s", str(POST_SCRIPT), url], capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    latency = dict(re.findall(r"\s+(50|99)%\s+([\d.]+\w+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": float(total),
        "rps": rps,
        "p50_ms": _ms(latency["50"]),
        "p99_ms": _ms(latency["99"]),
        "errors": float(non_2xx.group(1)) if non_2xx else 0.0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def choose(preference: str) -> str:
    """`auto`: wrk if it is on PATH, else the Python generator."""
    if preference == "auto":
        return WRK if shutil.which(WRK) else PYTHON
    if preference == WRK and shutil.which(WRK) is None:
        raise RuntimeError("--load-generator wrk, but wrk is not on PATH (apt-get install wrk)")
    return preference


# The body post_job.lua sends: the Python generator sends the same.
ECHO_BODY = b'{"function": "echo", "args": {"message": "hello"}}'


def load(generator: str, url: str, *, connections: int, seconds: float) -> dict[str, float]:
    if generator == WRK:
        return wrk_load(url, connections=connections, seconds=seconds)
    return python_load(url, ECHO_BODY, connections=connections, seconds=seconds)
