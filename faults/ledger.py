"""The delivery ledger: a loopback HTTP server, outside Redis, that the `webhook` job calls.

Each call is one delivery of a job: the payload names the job and how long to hold the call
open (the job's "work"). The ledger notes when it arrived, which worker sent it (by the socket's
owner), and how it ended: `answered` (the 200 was written) or `cut` (the worker went away
first: killed, or its job cancelled). It runs on its own thread and event loop so the load the
harness generates does not delay its clock, and appends every delivery to a JSON-lines file as
the run's evidence.
"""

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from faults.owners import owner_of, socket_inode
from scripts.processes import free_port

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
ANSWERED, CUT = "answered", "cut"


@dataclass
class Delivery:
    job_id: str
    pid: int | None  # the worker that sent it, if it could be told
    arrived: float  # time.monotonic(), as the harness's own timestamps
    ended: float | None = None
    outcome: str | None = None  # ANSWERED or CUT, None while held


class Ledger:
    """`deliveries(prefix)`: every delivery of the jobs whose id starts with `prefix`."""

    def __init__(self, path: Path, worker_pids: Callable[[], Iterable[int]]) -> None:
        self.port = free_port()
        self.path = path
        self._worker_pids = worker_pids
        self._deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="ledger", daemon=True)
        self._ready = threading.Event()
        self._file = path.open("a")

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/deliver"

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the ledger did not start")

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._file.close()

    def deliveries(self, prefix: str = "") -> list[Delivery]:
        with self._lock:
            return [d for d in self._deliveries if d.job_id.startswith(prefix)]

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", self.port, backlog=1024)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer_port = writer.get_extra_info("peername")[1]
        inode = socket_inode(peer_port, self.port)
        pid = owner_of(inode, self._worker_pids()) if inode is not None else None
        try:
            while await self._one_request(reader, writer, pid):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pid: int | None
    ) -> bool:
        """Serve one call; False once the connection is done."""
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        body = json.loads(await reader.readexactly(length))
        delivery = Delivery(str(body["job_id"]), pid, time.monotonic())
        with self._lock:
            self._deliveries.append(delivery)
        # Held open for the job's "work"; an end of file meanwhile is the worker going away.
        gone = asyncio.ensure_future(reader.read(1))
        done, _ = await asyncio.wait({gone}, timeout=float(body.get("hold", 0)))
        if done:
            self._end(delivery, CUT)
            return False
        gone.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await gone
        try:
            writer.write(ANSWER)
            await writer.drain()
        except ConnectionError:
            self._end(delivery, CUT)
            return False
        self._end(delivery, ANSWERED)
        return True

    def _end(self, delivery: Delivery, outcome: str) -> None:
        with self._lock:
            delivery.ended, delivery.outcome = time.monotonic(), outcome
            self._file.write(json.dumps(asdict(delivery)) + "\n")
