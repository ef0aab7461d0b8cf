"""The Enqueue form: a field for each top-level property of a job's args JSON Schema (the one
`GET /v1/functions` shows), and the posted form turned back into JSON args.

A string is a text input (an enum a select, a secret, `format: password`, a password input),
an integer or number a number input with the schema's bounds, a boolean a checkbox, anything
else (objects, arrays, unions) a textarea taking JSON. Turning the form back, an empty field is
left out (the job's model then says whether it is required) and a number that does not parse
is kept as its text, so that the API's own validation names the field; JSON that does not
parse is an error of that field, in the API's shape (`loc` `["body", "args", name]`)."""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jobqueue.access.secrets import MASK
from jobqueue.api.schemas import MAX_DEFERRAL_SECONDS, EnqueueRequest

ARGS = "args."  # the form's name for an arg: `args.<name>` (apart from job_id and defer_by)
NUMBER = re.compile(r"-?(\d+(\.\d+)?|\.\d+)([eE][-+]?\d+)?")  # (HTML's valid numbers)
SCALARS = (str, int, float, bool)


@dataclass(frozen=True)
class Field:
    key: str  # the form field's name
    label: str
    control: str  # text, password, select, number, checkbox, json
    help: str | None = None
    required: bool = False
    default: str | None = None  # as the field shows it
    options: dict[str, Any] = field(default_factory=dict)  # a select's: its text -> the value
    minimum: float | None = None
    maximum: float | None = None
    step: str = "any"
    secret: bool = False  # never shown again (a password input's, or JSON holding secrets)

    @property
    def id(self) -> str:
        return "field-" + re.sub(r"[^A-Za-z0-9_-]", "_", self.key)

    @property
    def arg(self) -> str | None:
        return self.key.removeprefix(ARGS) if self.key.startswith(ARGS) else None


def _described(name: str) -> str | None:
    return EnqueueRequest.model_fields[name].description


OPTIONS = (  # (as `POST /v1/jobs` takes them)
    Field("job_id", "Job id", "text", help=_described("job_id")),
    Field(
        "defer_by",
        "Defer by (seconds)",
        "number",
        help=_described("defer_by"),
        minimum=0,
        maximum=MAX_DEFERRAL_SECONDS,
    ),
)


def fields_of(schema: Mapping[str, Any]) -> list[Field]:
    """A field for each property of an args schema, in its order."""
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    return [
        _field(str(name), _resolved(prop, defs), str(name) in required)
        for name, prop in schema.get("properties", {}).items()
    ]


def _resolved(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """A property's schema with a `$ref` (or a lone `allOf`) followed and an optional's
    `anyOf: [X, null]` taken as X, its own keywords (description, default) kept."""
    own = {k: v for k, v in prop.items() if k not in ("$ref", "allOf", "anyOf")}
    ref = prop.get("$ref")
    if ref is None and len(prop.get("allOf", [])) == 1:
        ref = prop["allOf"][0].get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**_resolved(defs.get(ref.removeprefix("#/$defs/"), {}), defs), **own}
    arms = [arm for arm in prop.get("anyOf", []) if arm.get("type") != "null"]
    if len(arms) == 1 and len(prop["anyOf"]) == 2:
        return {**_resolved(arms[0], defs), **own}
    return dict(prop)


def _field(name: str, prop: Mapping[str, Any], required: bool) -> Field:
    kind = prop.get("type")
    common: dict[str, Any] = {
        "key": ARGS + name,
        "label": str(prop.get("title") or name),
        "help": prop.get("description"),
        "required": required and kind != "boolean",  # (a checkbox always says)
        "secret": _holds_secret(prop),
    }
    if "default" in prop:
        common["default"] = _shown(prop["default"], kind)
    enum = prop.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(v, SCALARS) for v in enum):
        return Field(control="select", options={_shown(v, "enum"): v for v in enum}, **common)
    if kind == "string":
        return Field(control="password" if common["secret"] else "text", **common)
    if kind in ("integer", "number"):
        low = prop.get("minimum", prop.get("exclusiveMinimum"))
        high = prop.get("maximum", prop.get("exclusiveMaximum"))
        step = "1" if kind == "integer" else str(prop.get("multipleOf", "any"))
        return Field(control="number", minimum=low, maximum=high, step=step, **common)
    if kind == "boolean":
        return Field(control="checkbox", **common)
    return Field(control="json", **common)


def _holds_secret(prop: Any) -> bool:
    if isinstance(prop, Mapping):
        if prop.get("format") == "password" or prop.get("writeOnly") is True:
            return True
        return any(_holds_secret(v) for v in prop.values())
    return isinstance(prop, list) and any(_holds_secret(v) for v in prop)


def _shown(value: Any, kind: Any) -> str:
    if kind == "boolean":
        return "on" if value is True else ""
    if isinstance(value, str) and kind in ("string", "enum"):
        return value
    return json.dumps(value)


def defaults(fields: list[Field]) -> dict[str, str]:
    """What the form shows before anything is typed."""
    return {f.key: f.default for f in fields if f.default is not None}


def kept(fields: list[Field], form: Mapping[str, str]) -> dict[str, str]:
    """What the form shows again after an error: what was sent, but for secrets."""
    return {f.key: form[f.key] for f in fields if f.key in form and not f.secret}


def values_of(
    fields: list[Field], form: Mapping[str, str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The fields' values as JSON, by their names (args' without the `args.`), and an error
    (in the API's shape) for each JSON field that did not parse."""
    values: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for f in fields:
        name = f.arg or f.key
        text = form.get(f.key, "")
        if f.control == "checkbox":
            if f.key in form or f.default is not None or f.required:
                values[name] = f.key in form
        elif text.strip() == "":
            continue  # (left out: the model says whether it is required)
        elif f.control == "number":
            values[name] = _number(text.strip())
        elif f.control == "select":
            values[name] = f.options.get(text, text)
        elif f.control == "json":
            try:
                values[name] = json.loads(text)
            except (ValueError, RecursionError) as exc:
                errors.append(_unparsed(f, exc, text))
        else:
            values[name] = text
    return values, errors


def _number(text: str) -> int | float | str:
    if NUMBER.fullmatch(text):
        try:
            return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:  # (more digits than int() reads)
            pass
    return text  # (for the model to refuse, naming the field)


def _unparsed(f: Field, exc: Exception, text: str) -> dict[str, Any]:
    where = (
        f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
    )
    reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
    return {
        "type": "json_invalid",
        "loc": ("body", "args", f.arg or f.key),
        "msg": f"Invalid JSON: {reason}{where}",
        "input": MASK if f.secret else text,
    }


def key_of(loc: Any) -> str | None:
    """The form field an error's `loc` (`["body", "args", name, ...]`) is about, if any."""
    loc = list(loc)
    if len(loc) >= 3 and loc[:2] == ["body", "args"]:
        return ARGS + str(loc[2])
    if len(loc) == 2 and loc[0] == "body" and loc[1] in ("job_id", "defer_by"):
        return str(loc[1])
    return None
