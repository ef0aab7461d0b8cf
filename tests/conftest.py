"""Fixtures for every test."""

import gc
import logging
import os
from collections.abc import Iterator

import pytest
import structlog

from tests.browser.chromium import ENABLE_HINT

ENV_PREFIX = "JOBQUEUE_"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The run's last line says so when the browser tests were skipped for want of a Chromium
    (found in the skips' reasons: with `pytest -n` the workers collect, this process reports)."""
    skipped = terminalreporter.stats.get("skipped", [])
    if any(ENABLE_HINT in str(getattr(report, "longrepr", "")) for report in skipped):
        terminalreporter.write_line(ENABLE_HINT, yellow=True)


@pytest.fixture(scope="session", autouse=True)
def _no_jobqueue_environment() -> Iterator[None]:
    """The developer's own `JOBQUEUE_*` settings (say a queue name exported in the shell) must
    not reach the tests, nor the processes they start: each test says what it configures."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
            patch.delenv(name)
        yield


def _plain_structlog_defaults() -> None:
    """structlog's defaults, but tracebacks printed plainly: its default (rich, with every
    frame's locals) takes seconds of CPU per logged exception, as in tests of a 500."""
    structlog.reset_defaults()
    *processors, _ = structlog.get_config()["processors"]
    renderer = structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    structlog.configure(processors=[*processors, renderer])


@pytest.fixture(scope="session", autouse=True)
def _plain_tracebacks() -> None:
    _plain_structlog_defaults()


@pytest.fixture
def process_state_restored() -> Iterator[None]:
    """For tests that run a process's start-up (it configures logging onto pytest's captured
    stderr, which closes after each test, and freezes the GC): this process's, afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    _plain_structlog_defaults()
    root.handlers[:], root.level = handlers, level
    gc.unfreeze()
