"""The 422 handler never fails to encode its own body, whatever the error holds."""

import json
import math
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from jobqueue.api.errors import install_error_handlers
from jobqueue.api.validation_details import MAX_ECHOED_CHARS, safe_details


async def answer_to(error: dict[str, Any]) -> httpx.Response:
    """What an app with our handlers answers when a route raises `error`."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/fail")
    async def fail() -> None:
        raise RequestValidationError([{"type": "t", "loc": ("body", "x"), "msg": "m", **error}])

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/fail")


def detail(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 422
    body = json.loads(response.content)  # strict JSON: no NaN, valid UTF-8
    found: dict[str, Any] = body["detail"][0]
    return found


@pytest.mark.parametrize(
    ("given", "echoed"),
    [(math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity")],
)
async def test_422_body_encodes_nan_input(given: float, echoed: str) -> None:
    assert detail(await answer_to({"input": given}))["input"] == echoed


async def test_422_body_encodes_a_lone_surrogate_escaped() -> None:
    found = detail(await answer_to({"input": {"k\ud800": ["\udfff"]}, "msg": "bad \ud800"}))
    assert found["input"] == {"k\\ud800": ["\\udfff"]}
    assert found["msg"] == "bad \\ud800"


async def test_422_body_encodes_bytes_exceptions_and_huge_integers() -> None:
    found = detail(
        await answer_to(
            {
                "input": [b"\xff\x00", 2**80, 10**5000],
                "ctx": {"error": ValueError("no"), "le": math.inf},
            }
        )
    )
    assert found["input"] == ["\ufffd\x00", str(2**80), "a 16610-bit integer"]
    assert found["ctx"] == {"error": "no", "le": "Infinity"}


async def test_422_body_leaves_out_a_huge_input() -> None:
    found = detail(await answer_to({"input": "x" * (MAX_ECHOED_CHARS + 1)}))
    assert "input" not in found
    assert (found["type"], found["loc"], found["msg"]) == ("t", ["body", "x"], "m")


async def test_422_body_leaves_out_an_input_nested_too_deep() -> None:
    deep: Any = []
    for _ in range(50):
        deep = [deep]
    assert "input" not in detail(await answer_to({"input": deep}))


def test_a_small_input_is_echoed_as_given() -> None:
    given = {"a": [1, 2.5, None, True, "é"]}
    assert safe_details([{"type": "t", "loc": ("body",), "msg": "m", "input": given}]) == [
        {"type": "t", "loc": ["body"], "msg": "m", "input": given}
    ]


def test_pydantics_documentation_link_is_left_out() -> None:
    error = {"type": "t", "loc": (), "msg": "m", "url": "https://errors.pydantic.dev/x"}
    assert "url" not in safe_details([error])[0]
