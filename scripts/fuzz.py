"""Fuzz the API from its own OpenAPI with schemathesis: `python -m scripts.fuzz` (`make fuzz`).

One private redis-server and one real API server (uvicorn), no worker (jobs stay queued, so
the fuzzer's stateful runs always find them). Every operation is tested except the two SSE
streams (`/v1/events`, `/v1/jobs/{job_id}/events`): a stream of a live job never ends, so each
such request would only end in the client's timeout. Checks: no 5xx, every status declared,
every response body matching its declared schema. Each phase runs: the schema's examples,
coverage (boundary and wrong-type values), fuzzing and stateful (sequences along the links
schemathesis infers, e.g. from `Location`). Long-polls are capped to 1 s by
`scripts.fuzz_hooks`.

Afterwards the API's own log is counted: requests answered, by status, and any 5xx.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

from scripts.processes import BIN, REPO_ROOT, RedisServer, ServiceProcess, free_port, wait_until

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
EXCLUDED_PATHS = r"/events$"  # the SSE streams (see above)
HOOKS_MODULE = "scripts.fuzz_hooks"


@dataclass
class FuzzReport:
    returncode: int  # schemathesis's: 0 when no check failed and no request errored
    output: str  # schemathesis's summary
    statuses: Counter[int]  # the API's answers, from its own log

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def fuzz(
    workdir: Path, *, max_examples: int, max_time: float | None, seed: int | None
) -> FuzzReport:
    redis = RedisServer(workdir / "redis")
    redis.start()
    api: ServiceProcess | None = None
    try:
        api, url = _start_api(redis.url, workdir)
        run = subprocess.run(
            _schemathesis_args(url, max_examples, max_time, seed),
            cwd=workdir,  # where it keeps its cache (`.schemathesis/`): not in the checkout
            env={**_clean_environment(), "SCHEMATHESIS_HOOKS": HOOKS_MODULE, **_importable()},
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        if api is not None:
            api.stop()
        redis.stop()
    assert api is not None
    return FuzzReport(run.returncode, run.stdout + run.stderr, _statuses(api.log_path))


def _schemathesis_args(
    url: str, max_examples: int, max_time: float | None, seed: int | None
) -> list[str]:
    return [
        str(BIN / "schemathesis"),
        "run",
        f"{url}/openapi.json",
        f"--checks={CHECKS}",
        f"--exclude-path-regex={EXCLUDED_PATHS}",
        f"--max-examples={max_examples}",
        *([f"--max-time={max_time:g}"] if max_time else []),
        *([f"--seed={seed}"] if seed is not None else []),
        # One worker: Python 3.11's `ast.parse`, which hypothesis calls to describe filters,
        # fails now and then when two threads parse at once ("recursion depth mismatch").
        "--workers=1",
        "--request-timeout=10",
        "--no-color",
    ]


def _start_api(redis_url: str, workdir: Path) -> tuple[ServiceProcess, str]:
    port = free_port()
    env = {
        **_clean_environment(),
        "JOBQUEUE_REDIS_URL": redis_url,
        "JOBQUEUE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "JOBQUEUE_LOG_FORMAT": "json",
        "JOBQUEUE_AUTH": "off",  # (the fuzzer probes what routes do with input, past the key)
    }
    args = [str(BIN / "uvicorn"), "jobqueue.main:app", "--host", "127.0.0.1", "--port", str(port)]
    api = ServiceProcess("api", args, env, workdir, inherit_env=False)
    url = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: httpx.get(f"{url}/healthz", trust_env=False).status_code == 200,
        what="the API to start",
    )
    return api, url


def _importable() -> dict[str, str]:
    """PYTHONPATH with this checkout first, for schemathesis to import `HOOKS_MODULE`."""
    given = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": os.pathsep.join([str(REPO_ROOT), *([given] if given else [])])}


def _clean_environment() -> dict[str, str]:
    """The caller's environment without its service settings or proxies (loopback only)."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("JOBQUEUE_") and "proxy" not in name.lower()
    }


def _statuses(api_log: Path) -> Counter[int]:
    statuses: Counter[int] = Counter()
    for line in api_log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == "http.request":
            statuses[int(entry["status"])] += 1
    return statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-time", type=float, default=300, help="seconds (default 300)")
    parser.add_argument("--max-examples", type=int, default=200, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=None)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jobqueue-fuzz-") as workdir:
        report = fuzz(
            Path(workdir),
            max_examples=options.max_examples,
            max_time=options.max_time,
            seed=options.seed,
        )
    print(report.output)
    print(f"API answered {report.requests} requests: {dict(sorted(report.statuses.items()))}")
    return 0 if report.returncode == 0 and report.server_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
