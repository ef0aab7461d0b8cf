"""`make run`: the whole service on this machine — API, worker and, unless
`JOBQUEUE_REDIS_URL` is set, a private redis-server (data kept in `<run dir>/redis/`).

Before starting anything it takes the run directory's lock and the API's port, and refuses,
saying what is in the way, if either is taken. It says "jobqueue is up" once the API answers
`/healthz`. Unless you set `JOBQUEUE_API_KEYS_FILE` or `JOBQUEUE_AUTH=off`, the API runs with
an admin key of the run's own (`<run dir>/token`, made once), and unless you set
`JOBQUEUE_SECRETS_KEY` job args' secrets are sealed with a key of its own (`<run dir>/secrets-key`,
made once). Everything stops together on
Ctrl-C, or as soon as any one of the processes exits.

Run it from the repository root: `python -m scripts.run_local`.
"""

import argparse
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import httpx
import redis

from jobqueue.access import tokens
from jobqueue.access.cli import entry
from jobqueue.access.keyring import ApiKey, KeysFileError, load
from jobqueue.access.scopes import Scope
from jobqueue.access.secrets import new_key
from scripts.processes import API_COMMAND, BIN, REPO_ROOT, free_port, wait_until
from scripts.run_lock import RunDirBusy, RunLock

Process = subprocess.Popen[bytes]
BACKLOG = 2048  # uvicorn's default; it listens again on our socket with the same
NO_REDIS = (
    "redis-server was not found on PATH, and JOBQUEUE_REDIS_URL is not set.\n"
    "Either install Redis (Debian/Ubuntu: sudo apt-get install redis-server; "
    "macOS: brew install redis)\n"
    "or point the service at one: JOBQUEUE_REDIS_URL=redis://host:6379/0 make run"
)


class StartRefused(Exception):
    """Something is in the way; nothing was started."""


class StartFailed(Exception):
    """A process did not come up; everything started gets stopped."""


def listen(host: str, port: int) -> socket.socket:
    """Listen on the API's address now, before anything starts, and later hand the socket to
    uvicorn (`--fd`): the check is the bind itself, so nothing can take the port in between,
    and whatever answers on it is our API."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn chooses
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: connections of a run just stopped (TIME_WAIT) must not block this one.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartRefused(port_in_use_message(host, port)) from None
        raise StartRefused(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def port_in_use_message(host: str, port: int) -> str:
    suggestion = "..."
    for candidate in range(port + 1, min(port + 100, 65536)):
        try:
            listen(host, candidate).close()
        except StartRefused:
            continue
        suggestion = str(candidate)
        break
    return (
        f"port {port} is already in use "
        f"(another make run? or choose one: make run PORT={suggestion})"
    )


class Run:
    """The processes of one run, by name in start order; each inherits the run lock, so the
    lock lasts as long as any of them does."""

    def __init__(self, lock: RunLock) -> None:
        self.lock = lock
        self.children: dict[str, Process] = {}

    def spawn(
        self,
        name: str,
        args: list[str],
        env: dict[str, str],
        *,
        extra_fds: tuple[int, ...] = (),
        new_session: bool = False,
    ) -> Process:
        process = subprocess.Popen(
            args,
            cwd=REPO_ROOT,
            env=env,
            pass_fds=(self.lock.fd, *extra_fds),
            start_new_session=new_session,
        )
        self.children[name] = process
        self.lock.record(name, process.pid)
        return process

    def ended(self, *, uncleanly: bool = False) -> list[str]:
        """Each process that has ended (with `uncleanly`: other than by our signals), as
        "the API (exit code 1)"."""
        clean = (0, -signal.SIGINT, -signal.SIGTERM) if uncleanly else ()
        return [
            f"the {name} ({exit_status(code)})"
            for name, process in self.children.items()
            if (code := process.poll()) is not None and code not in clean
        ]

    def wait_ready(self, probe: Callable[[], bool], what: str, timeout: float) -> None:
        """Wait until `probe()` is true, or raise `StartFailed` when a process ends first."""
        try:
            wait_until(lambda: bool(self.ended()) or probe(), timeout=timeout, interval=0.1)
        except TimeoutError:
            raise StartFailed(f"gave up after {timeout:g}s waiting for {what}") from None
        if ended := self.ended():
            raise StartFailed(f"{', '.join(ended)} exited while waiting for {what}")

    def stop(self) -> None:
        """API and worker first, Redis last: they still write to it while shutting down."""
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            # A second Ctrl-C must not cut this short and leave Redis running.
            signal.signal(signum, signal.SIG_IGN)
        for process in reversed(self.children.values()):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def exit_status(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


def find_redis_server() -> str | None:
    """The redis-server to start, or None when `JOBQUEUE_REDIS_URL` names a Redis to use."""
    if os.environ.get("JOBQUEUE_REDIS_URL"):
        return None
    executable = shutil.which("redis-server")
    if executable is None:
        raise StartRefused(NO_REDIS)
    return executable


def start_private_redis(run: Run, executable: str, run_dir: Path, env: dict[str, str]) -> str:
    port = free_port()
    data = run_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    args = [
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
    ]
    # Out of the terminal's process group: Ctrl-C reaches the API and the worker, which still
    # need Redis to shut down cleanly; `Run.stop` stops Redis last.
    run.spawn("redis-server", args, env, new_session=True)

    def answers() -> bool:
        with redis.Redis(port=port, socket_timeout=1) as client:
            return bool(client.ping())

    run.wait_ready(answers, f"redis-server to answer (see {data / 'redis.log'})", timeout=15)
    return f"redis://127.0.0.1:{port}/0"


LOCAL_KEY_NAME = "local-admin"


def local_admin_key(run_dir: Path) -> tuple[Path, Path]:
    """The run's own admin key: `<run dir>/keys.toml` (its hash) and `<run dir>/token` (the
    token, readable by you only), made on the first run and kept for the next ones."""
    keys_file, token_file = run_dir / "keys.toml", run_dir / "token"
    if token_file.exists() and keys_file.exists():
        try:
            if load(keys_file).authenticate(token_file.read_text().strip()) is not None:
                return keys_file, token_file
        except KeysFileError:
            pass  # made again below
    token = tokens.mint()
    key = ApiKey(name=LOCAL_KEY_NAME, hash=tokens.hash_of(token), scopes=frozenset({Scope.admin}))
    run_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # (an older file keeps its mode through O_CREAT)
    with os.fdopen(descriptor, "w") as out:
        out.write(token + "\n")
    keys_file.write_text(f"# made by make run: the admin key of this checkout\n{entry(key)}\n")
    return keys_file, token_file


def local_secrets_key(run_dir: Path) -> str:
    """The run's key for secret job args (`<run dir>/secrets-key`, yours only), made once and
    kept: the jobs kept in the run's Redis were sealed with it."""
    key_file = run_dir / "secrets-key"
    if key_file.exists():
        return key_file.read_text().strip()
    run_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(new_key() + "\n")
    return key_file.read_text().strip()


def with_local_keys(env: dict[str, str], run_dir: Path) -> dict[str, str]:
    """A secrets key of the run's own unless you set one; auth on, with the run's admin key,
    unless you set a keys file or `JOBQUEUE_AUTH=off`."""
    if not env.get("JOBQUEUE_SECRETS_KEY"):
        env = {**env, "JOBQUEUE_SECRETS_KEY": local_secrets_key(run_dir)}
    if env.get("JOBQUEUE_AUTH") == "off" or env.get("JOBQUEUE_API_KEYS_FILE"):
        return env
    keys_file, token_file = local_admin_key(run_dir)
    rel = os.path.relpath(token_file, REPO_ROOT)
    print(
        f"API key (admin, this checkout's): in {rel}; in another terminal: "
        f"export TOKEN=$(cat {rel})",
        flush=True,
    )
    return {**env, "JOBQUEUE_API_KEYS_FILE": str(keys_file)}


def start_all(
    run: Run, options: argparse.Namespace, listener: socket.socket, redis_server: str | None
) -> None:
    """Start Redis (unless configured), the worker and the API; return once /healthz answers."""
    env = with_local_keys(dict(os.environ), options.run_dir)
    if redis_server is not None:
        env["JOBQUEUE_REDIS_URL"] = start_private_redis(run, redis_server, options.run_dir, env)
        print(f"started a private redis-server at {env['JOBQUEUE_REDIS_URL']}", flush=True)
    run.spawn("worker", [str(BIN / "arq"), "worker_settings.WorkerSettings"], env)
    fd = listener.fileno()
    run.spawn("API", [*API_COMMAND, "--fd", str(fd)], env, extra_fds=(fd,))
    listener.close()  # uvicorn has it now; the port is freed as soon as the API ends

    url = base_url(options.host, options.port)

    def healthy() -> bool:
        # trust_env=False: a developer's HTTP(S)_PROXY must not route this probe elsewhere.
        return httpx.get(f"{url}/healthz", timeout=1, trust_env=False).status_code == 200

    what = f"the API to answer {url}/healthz with 200"
    run.wait_ready(healthy, what, timeout=options.start_timeout)
    print(
        f"\njobqueue is up: {url}  (API docs: {url}/docs, dashboard: {url}/dashboard)  "
        "Ctrl-C stops it\n",
        flush=True,
    )


def base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    run: Run, options: argparse.Namespace, listener: socket.socket, redis_server: str | None
) -> str | None:
    """Start everything and watch it; return why it stopped, or None after a clean Ctrl-C."""
    try:
        start_all(run, options, listener, redis_server)
        while not (ended := run.ended()):
            time.sleep(0.2)
        return f"{', '.join(ended)} exited, so everything else was stopped"
    except KeyboardInterrupt:
        pass
    except StartFailed as failed:
        return f"jobqueue did not start: {failed}. Everything it had started was stopped."
    finally:
        run.stop()
    if unclean := run.ended(uncleanly=True):
        return f"{', '.join(unclean)} did not stop cleanly"
    return None


def port_number(text: str) -> int:
    port = int(text)
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (1-65535)")
    return port


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, default=8000)
    parser.add_argument(
        "--run-dir",
        type=lambda text: Path(text).resolve(),  # Redis runs in another directory
        default=REPO_ROOT / ".run",
        help="holds the run's lock and the private Redis's data (default: .run)",
    )
    parser.add_argument(
        "--start-timeout", type=float, default=60, help="seconds to wait for /healthz"
    )
    return parser.parse_args()


def interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    options = parse_options()
    # `kill` and a closed terminal stop everything in order, as Ctrl-C does; unhandled, they
    # would end this script at once and leave the private redis-server running. SIGINT too:
    # Python leaves it ignored when started in the background (`make run &`), yet uvicorn and
    # arq still stop on it, and this script must follow them.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)
    lock = RunLock(options.run_dir)
    try:  # everything that can be in the way, before anything starts
        redis_server = find_redis_server()
        lock.acquire()
        listener = listen(options.host, options.port)
    except (RunDirBusy, StartRefused) as refused:
        sys.exit(f"{refused}\nNothing was started.")
    stopped_because = serve(Run(lock), options, listener, redis_server)
    lock.release()
    if stopped_because:
        sys.exit(stopped_because)


if __name__ == "__main__":
    main()
