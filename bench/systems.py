"""The systems in the worker table: how each worker is started, how its jobs are enqueued and
how the harness sees that they are done.

The service is run only through its stable entry points, from its own root and venv:
`arq worker_settings.WorkerSettings` and `uvicorn jobqueue.main:app`, configured by
`JOBQUEUE_*` variables. Its jobs are enqueued over REST, the way its clients enqueue them.
"""

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import venvs
from bench.harness import REPO_ROOT, Meter


@dataclass(frozen=True)
class Setup:
    """Where each process runs from, and the Redis they share."""

    service_root: Path
    service_python: Path
    redis_url: str
    logdir: Path

    def service_command(self, executable: str, *args: str) -> list[str]:
        # The venv's bin folder as given (resolving would leave the venv for the base Python).
        return [str(self.service_python.parent / executable), *args]

    def api_command(self) -> list[str]:
        """The service's API as deployed (uvicorn with its limits), up to `--host`/`--port`."""
        return self.service_command("python", "-m", "jobqueue", "serve")

    @property
    def service_env(self) -> dict[str, str]:
        """Yours (so `JOBQUEUE_*` settings apply to the service under test), pointed at the
        benchmark's Redis, logging JSON; without PYTHONPATH: the service imports its own."""
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        return {
            "JOBQUEUE_AUTH": "off",  # (unless yours says otherwise: the peers have no keys)
            **env,
            "JOBQUEUE_REDIS_URL": self.redis_url,
            "JOBQUEUE_LOG_FORMAT": "json",
        }

    @property
    def bench_env(self) -> dict[str, str]:
        """For the harness's own processes: peers and HTTP baselines."""
        return {**os.environ, "BENCH_REDIS_URL": self.redis_url, "PYTHONPATH": str(REPO_ROOT)}

    @property
    def harness_peer(self) -> dict[str, Any]:
        """Where a peer runs: from this repo, with the harness's environment."""
        return {"cwd": REPO_ROOT, "env": self.bench_env}

    def service_revision(self) -> str:
        result = subprocess.run(
            ["git", "-C", str(self.service_root), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip() or "unknown"


@dataclass(frozen=True)
class WorkerSystem:
    key: str  # for --systems
    name: str
    about: str  # how it is set up, for the report
    worker: list[str]
    cwd: Path
    env: dict[str, str]
    remaining: Callable[[Meter], int]  # jobs not yet finished
    enqueuer: list[str] | None  # `… enqueue KIND COUNT`; None: the service, over REST
    versions: tuple[str, ...] = ()


def _zcard(key: str) -> Callable[[Meter], int]:
    return lambda meter: int(meter.call("zcard", "ZCARD", key))


def _hlen(key: str) -> Callable[[Meter], int]:
    return lambda meter: int(meter.call("hlen", "HLEN", key))


def _stream_backlog(stream: str, group: str) -> Callable[[Meter], int]:
    """Entries of `stream` not yet acknowledged by `group`: delivered-but-pending plus lag."""

    def remaining(meter: Meter) -> int:
        groups: list[dict[str, Any]] = meter.call("xinfo|groups", "XINFO GROUPS", stream)
        found = [g for g in groups if g["name"] in (group, group.encode())]
        if not found:
            raise RuntimeError(f"no consumer group {group!r} on stream {stream!r}")
        return int(found[0]["pending"]) + int(found[0]["lag"] or 0)

    return remaining


SERVICE = "service"
VENV_PEERS = ("dramatiq", "taskiq")
KEYS = (SERVICE, "arq-defaults", "arq-tuned", "saq", *VENV_PEERS)
NAMES = {
    SERVICE: "service (shipped defaults)",
    "arq-defaults": "arq, defaults",
    "arq-tuned": "arq, tuned",
    "saq": "SAQ, tuned",
    "dramatiq": "dramatiq, 1 process, 100 threads",
    "taskiq": "taskiq, tuned",
}
ABOUT = {
    SERVICE: "`arq worker_settings.WorkerSettings` as shipped (from `--service-root`, with "
    "your `JOBQUEUE_*` settings): 100 jobs at a time, a history record, events and a result "
    "per job, JSON log lines; its jobs are enqueued with `POST /v1/jobs`",
    "arq-defaults": "bare arq as it comes: 10 jobs at a time, 0.5 s polls, pickle, two log "
    "lines per job, asyncio's own loop",
    "arq-tuned": "bare arq: uvloop, `max_jobs` 100, `poll_delay` 0.01 s, orjson codec, "
    "per-job logging off (`arq` logger at WARNING, `log_results` off)",
    "saq": "SAQ: `concurrency` 100, uvloop, orjson codec (it logs no per-job lines at its "
    "CLI's default level)",
    "dramatiq": "dramatiq's Redis broker, `--processes 1 --threads 100`, orjson encoder, "
    "default middleware, no result storage (an opt-in middleware); the 10 ms job is a "
    "`time.sleep` in a thread",
    "taskiq": "taskiq-redis stream broker (with acknowledgements) and result backend (results "
    "kept 3600 s), one worker process, `--max-async-tasks 100`, uvloop, orjson serializer, "
    "per-task INFO lines off",
}
_HARNESS_BIN = Path(sys.executable).parent


def _system(key: str, **fields: Any) -> WorkerSystem:
    return WorkerSystem(key=key, name=NAMES[key], about=ABOUT[key], **fields)


def _service(setup: Setup) -> WorkerSystem:
    return _system(
        SERVICE,
        worker=setup.service_command("arq", "worker_settings.WorkerSettings"),
        cwd=setup.service_root,
        env=setup.service_env,
        remaining=_zcard("arq:queue"),
        enqueuer=None,
    )


def _harness_peers(setup: Setup) -> list[WorkerSystem]:
    """The peers that run from the harness's own venv."""
    arq = str(_HARNESS_BIN / "arq")
    defaults, tuned, saq = (f"bench.peers.{m}" for m in ("arq_defaults", "arq_tuned", "saq_tuned"))
    arq_versions = _versions("arq", "redis", "hiredis")
    return [
        _system(
            "arq-defaults",
            worker=[arq, f"{defaults}.WorkerSettings"],
            remaining=_zcard("arq:queue"),
            enqueuer=[sys.executable, "-m", defaults],
            versions=arq_versions,
            **setup.harness_peer,
        ),
        _system(
            "arq-tuned",
            worker=[arq, "--custom-log-dict", f"{tuned}.LOG_CONFIG", f"{tuned}.WorkerSettings"],
            remaining=_zcard("arq:queue"),
            enqueuer=[sys.executable, "-m", tuned],
            versions=arq_versions,
            **setup.harness_peer,
        ),
        _system(
            "saq",
            worker=[str(_HARNESS_BIN / "saq"), f"{saq}.settings"],
            remaining=_zcard("saq:default:incomplete"),
            enqueuer=[sys.executable, "-m", saq],
            versions=_versions("saq", "redis", "hiredis"),
            **setup.harness_peer,
        ),
    ]


def _versions(*packages: str) -> tuple[str, ...]:
    return tuple(f"{p}=={version(p)}" for p in packages)


def _venv_peer(setup: Setup, key: str, venv: Path) -> WorkerSystem:
    module = f"bench.peers.{key}_tuned"
    bin_dir = venv / "bin"
    if key == "dramatiq":
        worker = [str(bin_dir / "dramatiq"), module, "--processes", "1", "--threads", "100"]
        remaining = _hlen("dramatiq:default.msgs")
    else:
        options = ["--workers", "1", "--max-async-tasks", "100", "--log-level", "WARNING"]
        worker = [str(bin_dir / "taskiq"), "worker", f"{module}:broker", *options]
        remaining = _stream_backlog("taskiq", "taskiq")
    return _system(
        key,
        worker=worker,
        remaining=remaining,
        enqueuer=[str(bin_dir / "python"), "-m", module],
        versions=tuple(venvs.versions(key)),
        **setup.harness_peer,
    )


def build(setup: Setup, keys: list[str]) -> tuple[list[WorkerSystem], dict[str, str]]:
    """The systems named by `keys`, in the table's order, and why any could not be set up."""
    chosen = [s for s in [_service(setup), *_harness_peers(setup)] if s.key in keys]
    skipped: dict[str, str] = {}
    for key in VENV_PEERS:
        if key not in keys:
            continue
        try:
            chosen.append(_venv_peer(setup, key, venvs.ensure(key)))
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", None) or exc
            skipped[key] = f"not run: its venv could not be made ({str(detail).strip()[-300:]})"
    return chosen, skipped
