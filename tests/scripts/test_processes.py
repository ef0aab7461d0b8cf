"""The process plumbing shared by tests, benchmarks and `make run`."""

import asyncio
import os
import signal
import sys
from pathlib import Path

from scripts.processes import REPO_ROOT
from tests.helpers import eventually

STARTS_REDIS_THEN_WAITS = """
import sys, time
from pathlib import Path
from scripts.processes import RedisServer
server = RedisServer(Path(sys.argv[1]))
server.start()
print(server.process.pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return status != "Z"  # a zombie has exited


async def test_a_redis_server_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        STARTS_REDIS_THEN_WAITS,
        str(tmp_path),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert parent.stdout is not None
    try:
        redis_pid = int(await parent.stdout.readline())
        assert _alive(redis_pid)
    finally:
        parent.send_signal(signal.SIGKILL)  # no clean-up runs in the parent
        await parent.wait()
    await eventually(lambda: not _alive(redis_pid), timeout=5, what="redis-server to exit")
