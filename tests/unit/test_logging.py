"""Log lines: one format, the request and job context bound, tracebacks without frame locals."""

import json
import logging

import pytest
import structlog

from jobqueue.logging import configure_logging


@pytest.fixture(autouse=True)
def _restored(process_state_restored: None) -> None:
    """These tests configure logging; later tests must not log into their captured stderr."""


def test_request_log_lines_are_json_with_the_request_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    structlog.contextvars.bind_contextvars(request_id="r-1")
    structlog.get_logger("jobqueue.test").info("http.request", status=200)
    structlog.contextvars.clear_contextvars()
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "http.request"
    assert line["request_id"] == "r-1"
    assert line["level"] == "info"
    assert "timestamp" in line


def test_uvicorn_access_lines_are_not_even_built() -> None:
    """uvicorn builds an access line per response iff its logger `hasHandlers()`; ours
    (`http.request`) replaces it."""
    configure_logging("INFO", "json")
    assert not logging.getLogger("uvicorn.access").hasHandlers()
    assert logging.getLogger("uvicorn.error").hasHandlers()  # its start-up lines stay


def _fail_holding_a_secret() -> None:
    redis_url = "redis://:hunter2@redis:6379/0"  # a frame local, as `Settings` is in real frames
    raise RuntimeError(f"boom near {len(redis_url)} chars")


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_tracebacks_name_file_line_and_function_but_never_frame_locals(
    capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    configure_logging("INFO", log_format)  # type: ignore[arg-type]
    try:
        _fail_holding_a_secret()
    except RuntimeError:
        structlog.get_logger("jobqueue.test").exception("http.unhandled_error")
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    output = capsys.readouterr().err
    assert "hunter2" not in output
    assert output.count("_fail_holding_a_secret") >= 2  # our line and uvicorn's, both
    assert "test_logging.py" in output
    assert "boom near" in output


def test_httpx_request_lines_are_quieted_they_carry_webhook_urls() -> None:
    configure_logging("DEBUG", "json")
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
