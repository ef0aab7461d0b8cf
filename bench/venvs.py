"""Virtualenvs for the peers whose pins clash with the service's (arq 0.28 pins redis-py < 6).

Each is made on first use under `.bench/venvs/<peer>` (gitignored) from PyPI, and remade
when its requirement list changes. Versions are pinned so that runs compare like with like;
the versions installed go into the report.
"""

import re
import subprocess
import sys
from pathlib import Path

from bench.harness import REPO_ROOT

ROOT = REPO_ROOT / ".bench" / "venvs"

# hiredis: redis-py's C reply parser, as its docs advise (the service and arq have it too);
# orjson: the peers' documented fast JSON codecs; uvloop: picked up by taskiq's worker.
REQUIREMENTS = {
    "dramatiq": ["dramatiq[redis]==2.2.1", "hiredis==3.5.0", "orjson==3.13.0"],
    "taskiq": [
        "taskiq==0.13.0",
        "taskiq-redis==1.2.4",
        "hiredis==3.5.0",
        "orjson==3.13.0",
        "uvloop==0.23.0",
    ],
}


def ensure(peer: str) -> Path:
    """The peer's venv (its folder), made or remade if its requirements changed."""
    venv = ROOT / peer
    marker = venv / ".requirements"
    wanted = "\n".join(REQUIREMENTS[peer])
    if marker.is_file() and marker.read_text() == wanted:
        return venv
    print(f"making the {peer} venv in {venv} (once)", flush=True)
    ROOT.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
    subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *REQUIREMENTS[peer],
        ],
        check=True,
        timeout=600,
        capture_output=True,
        text=True,
    )
    marker.write_text(wanted)
    return venv


def versions(peer: str) -> list[str]:
    """The installed versions of the peer's own requirements and of redis-py."""
    output = subprocess.run(
        [str(ROOT / peer / "bin" / "pip"), "freeze", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    wanted = {re.split(r"[\[=]", r)[0].lower() for r in REQUIREMENTS[peer]} | {"redis"}
    return [line for line in output.split() if line.split("==")[0].lower() in wanted]
