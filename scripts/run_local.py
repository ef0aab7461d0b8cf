"""`make run`: the whole service on this machine — API, worker and, unless
`JOBQUEUE_REDIS_URL` is set, a private redis-server (data kept in `.run/redis/`).

Everything stops together on Ctrl-C, or as soon as any one of the processes exits.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def start_private_redis() -> tuple[subprocess.Popen[bytes], str]:
    executable = shutil.which("redis-server")
    if executable is None:
        sys.exit(
            "redis-server was not found on PATH, and JOBQUEUE_REDIS_URL is not set.\n"
            "Either install Redis (Debian/Ubuntu: sudo apt-get install redis-server; "
            "macOS: brew install redis)\n"
            "or point the service at one: JOBQUEUE_REDIS_URL=redis://host:6379/0 make run"
        )
    port = free_port()
    data = ROOT / ".run" / "redis"
    data.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            executable,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
            "--logfile",
            str(data / "redis.log"),
        ],
        # Out of the terminal's process group: Ctrl-C reaches the API and the worker, which
        # still need Redis to shut down cleanly; Redis is stopped last, below.
        start_new_session=True,
    )
    if not wait_for_port(port):
        process.terminate()
        sys.exit(f"redis-server did not start; see {data / 'redis.log'}")
    return process, f"redis://127.0.0.1:{port}/0"


def start_all(processes: list[subprocess.Popen[bytes]], host: str, port: int) -> None:
    """Start Redis (unless configured), the worker and the API, appending each to
    `processes` as soon as it runs."""
    env = dict(os.environ)
    if not env.get("JOBQUEUE_REDIS_URL"):
        redis_process, env["JOBQUEUE_REDIS_URL"] = start_private_redis()
        processes.append(redis_process)
        print(f"started a private redis-server at {env['JOBQUEUE_REDIS_URL']}", flush=True)
    processes.append(
        subprocess.Popen([str(BIN / "arq"), "worker_settings.WorkerSettings"], cwd=ROOT, env=env)
    )
    processes.append(
        subprocess.Popen(
            [str(BIN / "uvicorn"), "jobqueue.main:app", "--host", host, "--port", str(port)],
            cwd=ROOT,
            env=env,
        )
    )
    if wait_for_port(port):
        url = f"http://{host}:{port}"
        print(f"\njobqueue is up: {url}  (API docs: {url}/docs)  Ctrl-C stops it\n", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    options = parser.parse_args()

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    processes: list[subprocess.Popen[bytes]] = []
    try:  # from the first start on: a Ctrl-C during start-up still stops what was started
        start_all(processes, options.host, options.port)
        while all(p.poll() is None for p in processes):
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        for process in reversed(processes):  # API and worker first, Redis last
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
    failed = [p.args for p in processes if p.returncode not in (0, -signal.SIGTERM, None)]
    if failed:
        sys.exit(f"stopped because a process exited: {failed}")


if __name__ == "__main__":
    main()
