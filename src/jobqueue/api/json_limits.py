"""What a client's JSON may hold: what our codec (orjson) can always store and read back.

Python's and pydantic's JSON parsers accept more than orjson can write: `NaN` and `Infinity`
(orjson writes them as `null`, silently changing the job's arguments), integers of any size
(orjson refuses those outside 64 bits), lone surrogates such as `"\\ud800"` (not UTF-8: orjson
refuses them) and nesting of any depth (orjson refuses past 254 levels). One walk over a parsed
value finds the first such part, with its location, so the API answers 422 naming it instead of
failing later, in the codec, with a 500.

The limits: finite numbers only; integers in -2**63 .. 2**63-1 (signed 64-bit); strings and
object keys valid Unicode (no lone surrogates); at most `MAX_DEPTH` nested arrays/objects.
"""

import math
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 32
MIN_INT = -(2**63)
MAX_INT = 2**63 - 1

Location = tuple[str | int, ...]


@dataclass(frozen=True)
class Violation:
    """The first part of a value the codec could not store faithfully."""

    loc: Location  # relative to the value walked
    type: str
    msg: str
    input: Any


def has_lone_surrogate(text: str) -> bool:
    if text.isascii():  # the common case, and much cheaper than encoding
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def unicode_violation(text: str, loc: Location = ()) -> Violation | None:
    if has_lone_surrogate(text):
        return Violation(
            loc, "string_unicode", "Input should be valid Unicode (no lone surrogates)", text
        )
    return None


def violation(value: Any, loc: Location = (), depth: int = 0) -> Violation | None:
    """The first part of `value` (parsed JSON) outside the limits, or None."""
    if isinstance(value, str):
        return unicode_violation(value, loc)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if MIN_INT <= value <= MAX_INT:
            return None
        return Violation(loc, "int_range", f"Integer should be in {MIN_INT}..{MAX_INT}", value)
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return Violation(loc, "finite_number", "Input should be a finite number", value)
    if isinstance(value, dict | list):
        if depth >= MAX_DEPTH:
            msg = f"JSON should be nested at most {MAX_DEPTH} levels deep"
            return Violation(loc, "json_too_deep", msg, value)
        return _container_violation(value, loc, depth + 1)
    return None


def _container_violation(
    value: dict[Any, Any] | list[Any], loc: Location, depth: int
) -> Violation | None:
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = violation(item, (*loc, index), depth)
            if found is not None:
                return found
        return None
    for key, item in value.items():
        found = unicode_violation(key, (*loc, key)) if isinstance(key, str) else None
        found = found or violation(item, (*loc, key), depth)
        if found is not None:
            return found
    return None
