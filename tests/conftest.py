"""Fixtures for every test."""

import os
from collections.abc import Iterator

import pytest

ENV_PREFIX = "JOBQUEUE_"


@pytest.fixture(scope="session", autouse=True)
def _no_jobqueue_environment() -> Iterator[None]:
    """The developer's own `JOBQUEUE_*` settings (say a queue name exported in the shell) must
    not reach the tests, nor the processes they start: each test says what it configures."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
            patch.delenv(name)
        yield
