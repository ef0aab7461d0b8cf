"""The Enqueue form's fields from an args schema, and the form's values back as JSON args."""

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from jobqueue.dashboard.args_form import fields_of, key_of, values_of


class Colour(StrEnum):
    red = "red"
    blue = "blue"


class Point(BaseModel):
    x: int


class Args(BaseModel):
    name: str = Field(description="who")
    colour: Colour = Colour.red
    size: Literal[1, 2, 3] | None = None
    count: int | None = Field(default=None, ge=1, lt=10)
    ratio: float = Field(default=0.5, multiple_of=0.25)
    loud: bool = False
    token: SecretStr | None = None
    point: Point | None = None
    tags: list[str] = []


FIELDS = {f.key: f for f in fields_of(Args.model_json_schema())}


def test_each_property_gets_the_control_its_type_calls_for() -> None:
    controls = {key: f.control for key, f in FIELDS.items()}
    assert controls == {
        "args.name": "text",
        "args.colour": "select",  # (an enum, by its $ref)
        "args.size": "select",  # (an optional Literal)
        "args.count": "number",
        "args.ratio": "number",
        "args.loud": "checkbox",
        "args.token": "password",
        "args.point": "json",
        "args.tags": "json",
    }


def test_a_field_keeps_the_schemas_description_bounds_and_default() -> None:
    name, count, ratio = FIELDS["args.name"], FIELDS["args.count"], FIELDS["args.ratio"]
    assert (name.help, name.required, name.label) == ("who", True, "Name")
    assert (count.minimum, count.maximum, count.step, count.required) == (1, 10, "1", False)
    assert (ratio.step, ratio.default) == ("0.25", "0.5")
    assert FIELDS["args.colour"].default == "red"
    assert list(FIELDS["args.colour"].options) == ["red", "blue"]
    assert FIELDS["args.tags"].default == "[]"
    assert FIELDS["args.token"].secret


def test_the_form_becomes_json_args_empty_fields_left_out() -> None:
    form = {
        "args.name": "Ann",
        "args.colour": "blue",
        "args.size": "2",
        "args.count": "",
        "args.ratio": "1e0",
        "args.point": '{"x": 1}',
        "args.tags": " ",
    }
    values, errors = values_of(list(FIELDS.values()), form)
    assert errors == []
    assert values == {
        "name": "Ann",
        "colour": "blue",
        "size": 2,  # (the option's value, not its text)
        "ratio": 1.0,
        "loud": False,  # (an unticked box with a default)
        "point": {"x": 1},
    }


def test_a_number_that_does_not_parse_is_kept_as_text_for_the_model_to_name() -> None:
    values, _ = values_of(list(FIELDS.values()), {"args.count": "ten", "args.loud": "on"})
    assert (values["count"], values["loud"]) == ("ten", True)


def test_json_that_does_not_parse_is_an_error_of_its_field_its_secret_masked() -> None:
    _, errors = values_of(list(FIELDS.values()), {"args.point": "{", "args.tags": "[" * 100_000})
    assert [e["loc"] for e in errors] == [("body", "args", "point"), ("body", "args", "tags")]
    assert errors[0]["msg"].startswith("Invalid JSON: Expecting property name")
    assert errors[1]["msg"] == "Invalid JSON: nested too deeply"


def test_an_errors_loc_names_its_field() -> None:
    assert key_of(["body", "args", "point", "x"]) == "args.point"
    assert key_of(["body", "defer_by"]) == "defer_by"
    assert key_of(["body"]) is None
