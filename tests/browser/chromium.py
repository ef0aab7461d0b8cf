"""Where the browser tests find Chromium, and the line a run ends with when there is none
(the root conftest writes it, from the skips' reasons: a process that runs no test of this
folder, as `pytest -n`'s controller, never loads this folder's conftest)."""

import os
import shutil
from pathlib import Path

ENABLE_HINT = (
    "browser tests did not run: no Chromium found. Install Debian's `chromium` "
    "(apt-get install chromium) or set CHROMIUM_PATH to a Chromium binary."
)


def chromium_path() -> str | None:
    given = os.environ.get("CHROMIUM_PATH")
    if given:
        return given if Path(given).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")
