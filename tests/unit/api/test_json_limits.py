"""The walk that keeps a client's JSON within what orjson can store and read back."""

import math
from typing import Any

import orjson
import pytest

from jobqueue.api.json_limits import MAX_DEPTH, MAX_INT, MIN_INT, Violation, violation


def nested(levels: int) -> Any:
    value: Any = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, "é", None, True, {"b": "ok"}]},
        {"edges": [MIN_INT, MAX_INT, 1e308, -1e308]},
        nested(MAX_DEPTH),
    ],
)
def test_what_the_codec_stores_passes(value: Any) -> None:
    assert violation(value) is None
    assert orjson.loads(orjson.dumps(value)) == value


@pytest.mark.parametrize(
    ("value", "loc", "kind"),
    [
        ({"a": [1, math.nan]}, ("a", 1), "finite_number"),
        ({"a": math.inf}, ("a",), "finite_number"),
        ({"a": -math.inf}, ("a",), "finite_number"),
        ({"a": MAX_INT + 1}, ("a",), "int_range"),
        ({"a": MIN_INT - 1}, ("a",), "int_range"),
        ({"a": ["x", "\ud800"]}, ("a", 1), "string_unicode"),
        ({"\udc00": 1}, ("\udc00",), "string_unicode"),
    ],
)
def test_the_first_part_the_codec_cannot_store_is_named(
    value: Any, loc: tuple[Any, ...], kind: str
) -> None:
    found = violation(value)
    assert isinstance(found, Violation)
    assert (found.loc, found.type) == (loc, kind)


def test_nesting_past_the_depth_limit_is_named_at_the_level_past_it() -> None:
    found = violation(nested(MAX_DEPTH + 1))
    assert found is not None
    assert found.type == "json_too_deep"
    assert found.loc == ("a",) * MAX_DEPTH


def test_what_the_walk_refuses_the_codec_cannot_store_faithfully() -> None:
    """Why the limits are what they are: orjson refuses or alters each of these (it takes
    unsigned 64-bit integers too; the API keeps to signed ones, which every client reads)."""
    for refused in ({"a": 2**64}, {"a": MIN_INT - 1}, {"a": "\ud800"}, nested(300)):
        with pytest.raises(orjson.JSONEncodeError):
            orjson.dumps(refused)
    assert orjson.dumps({"a": math.nan}) == b'{"a":null}'  # silently changed
