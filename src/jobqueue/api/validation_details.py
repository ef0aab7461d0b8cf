"""The `detail` list of a 422, in FastAPI's shape, made of values that always encode as JSON.

A validation error echoes the client's `input` and puts exception objects and limits in `ctx`;
either can hold what JSON cannot carry (NaN, a lone surrogate, bytes, an exception) or what
should not be sent back whole (a megabyte of args). Each error is rebuilt from JSON-safe parts:
non-finite numbers and integers outside 64 bits become their text, strings with lone surrogates
have them escaped (`\\ud800`), other objects their `str()`, and an `input` of more than
`MAX_ECHOED_CHARS` (or nested deeper than `MAX_ECHOED_DEPTH`) is left out.

An error about a request body as a whole (a missing `function`, `defer_by` beside
`defer_until`, a batch too long) echoes the body: a job's `args` in it are shown as `**********`,
since which of them are secret depends on a function the body may not even name; a body that
was not parsed (not sent as JSON: its text) is not echoed, and a field that is not one (`arg`
for `args`) echoes the mask. (An error in the args themselves is masked by the job's model:
`jobqueue.jobs.secret_args`.)
"""

import math
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from jobqueue.access.secrets import MASK
from jobqueue.api.json_limits import MAX_INT, MIN_INT, has_lone_surrogate

MAX_ECHOED_CHARS = 1000
MAX_ECHOED_DEPTH = 8
_MAX_INT_BITS_AS_TEXT = 256
_ELIDED = object()
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}  # as the client wrote them


def safe_details(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [_safe_error(error) for error in errors]


def _safe_error(error: Mapping[str, Any]) -> dict[str, Any]:
    safe: dict[str, Any] = {}
    raw_body = tuple(error.get("loc", ())) == ("body",) and isinstance(
        error.get("input"), str | bytes
    )
    for field, value in error.items():
        if field == "input" and raw_body:
            continue  # a body that was not parsed (not sent as JSON): it may hold secrets
        if field == "input" and error.get("type") == "extra_forbidden":
            value = MASK  # (a misspelt field, `arg` for `args`: its value may be secret)
        if field == "url":
            continue  # pydantic's documentation link: FastAPI leaves it out too
        if field == "ctx" and isinstance(value, Mapping):
            safe["ctx"] = {_text(k): _text(v) for k, v in value.items()}
        elif field == "loc" and isinstance(value, Iterable):
            safe["loc"] = [v if type(v) is int else _text(v) for v in value]
        else:  # `input`, `msg`, `type`, or a field of our own errors
            if field == "input":
                value = _args_masked(value)
            budget = MAX_ECHOED_CHARS if field == "input" else sys.maxsize
            echoed = _safe(value, 0, [budget])
            if echoed is not _ELIDED:
                safe[_text(field)] = echoed
    return safe


def _args_masked(value: Any) -> Any:
    """An echoed body (or a batch's list of them) with each job's `args` masked."""
    if isinstance(value, Mapping) and "args" in value:
        return {**value, "args": MASK}
    if isinstance(value, list | tuple):
        return [_args_masked(item) if isinstance(item, Mapping) else item for item in value]
    return value


def _text(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE[str(value)]
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS_AS_TEXT:
        return f"a {value.bit_length()}-bit integer"  # (str() refuses past 4,300 digits)
    text = value if isinstance(value, str) else str(value)
    if has_lone_surrogate(text):
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _safe(value: Any, depth: int, budget: list[int]) -> Any:
    """`value` as JSON-safe data, or `_ELIDED` once it would spend more than `budget`
    characters (shared by the whole value) or nest deeper than `MAX_ECHOED_DEPTH`."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and MIN_INT <= value <= MAX_INT:
        return _spend(value, len(str(value)), budget)
    if isinstance(value, float) and math.isfinite(value):
        return _spend(value, 24, budget)
    if isinstance(value, Mapping | list | tuple):
        if depth >= MAX_ECHOED_DEPTH:
            return _ELIDED
        return _safe_container(value, depth + 1, budget)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = _text(value)
    return _spend(text, len(text), budget)


def _safe_container(
    value: Mapping[Any, Any] | list[Any] | tuple[Any, ...], depth: int, budget: list[int]
) -> Any:
    pairs = value.items() if isinstance(value, Mapping) else enumerate(value)
    safe: list[tuple[Any, Any]] = []
    for key, item in pairs:
        entry = _safe(item, depth, budget)
        if entry is _ELIDED or _spend(key, 2, budget) is _ELIDED:
            return _ELIDED
        safe.append((_text(key), entry))
    if isinstance(value, Mapping):
        return dict(safe)
    return [entry for _, entry in safe]


def _spend(value: Any, chars: int, budget: list[int]) -> Any:
    budget[0] -= chars
    return value if budget[0] >= 0 else _ELIDED
