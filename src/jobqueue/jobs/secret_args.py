"""Where a job's args keep their secrets: sealed at enqueue, unsealed by the worker, masked in
a 422's echo.

A value typed `SecretStr` in a job's args model is secret, wherever it sits: a field, a nested
model's field, a dict's values, a list's items, an optional. The API seals each one
(`jobqueue.access.secrets`) in the args it stores and refuses the job when no key is configured;
the worker finds them again by the model's types (its `Shape`, never by their prefix) and
unseals them before the model validates, so the job's own checks see the real value. A job
enqueued before its field was secret (stored in clear) still runs as stored.
"""

import functools
import inspect
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import NoneType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretBytes, SecretStr

from jobqueue.access.secrets import KEY_SETTING, MASK, Cipher, SecretUnreadable, is_sealed

Path = tuple[str | int, ...]


class SecretsKeyMissing(Exception):
    """The args carry a secret and no `JOBQUEUE_SECRETS_KEY` is set to seal it."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__(f"no {KEY_SETTING} to encrypt {', '.join(map(dotted, paths))}")
        self.paths = paths


class MaskGiven(Exception):
    """A secret's value is the mask a job's view shows: args copied from a view, not the
    secret (the job would send "**********")."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__(f"{', '.join(map(dotted, paths))}: the mask, not a value")
        self.paths = paths


@dataclass
class Shape:
    """Where secrets are in a value of some type."""

    secret: bool = False  # the value itself
    fields: dict[str, "Shape"] = field(default_factory=dict)  # a model's, by their input name
    values: "Shape | None" = None  # a mapping's values
    items: "Shape | None" = None  # a sequence's items

    def merge(self, other: "Shape") -> "Shape":
        """Either shape (a union's arms)."""
        fields = dict(other.fields)
        for name, inner in self.fields.items():  # (arms sharing a field: merged all the way down)
            fields[name] = inner.merge(fields[name]) if name in fields else inner
        return Shape(
            self.secret or other.secret,
            fields,
            _either(self.values, other.values),
            _either(self.items, other.items),
        )

    def step(self, segment: str | int) -> "Shape | None":
        """The shape one step into a value (a validation error's `loc` segment)."""
        if self.secret:
            return self
        if isinstance(segment, str) and segment in self.fields:
            return self.fields[segment]
        if self.values is not None:
            return self.values
        if isinstance(segment, str) and self.fields:
            # A union's arm (`loc` names it: `A`, `list[A]`, a tag) takes no step into the
            # value; a field holding no secret is masked nowhere by staying here either.
            return self
        return self.items if isinstance(segment, int) else None


def _either(a: Shape | None, b: Shape | None) -> Shape | None:
    return b if a is None else a if b is None else a.merge(b)


def dotted(path: Path) -> str:
    return ".".join(map(str, path)) or "args"


@functools.cache
def shape_of(model: type[BaseModel]) -> Shape | None:
    """Where `model`'s secrets are; None if it has none. Raises `TypeError` for a secret it
    could not store (checked when a job is declared)."""
    recursive: list[type] = []
    shape = _model_shape(model, frozenset(), recursive)
    if shape is not None and recursive:
        # (the copies nested at depth would be sealed by the API but not unsealed by the worker)
        raise TypeError(
            f"{model.__name__} holds a secret and {recursive[0].__name__} is recursive: "
            "such args cannot be stored"
        )
    return shape


def _model_shape(
    model: type[BaseModel], seen: frozenset[type], recursive: list[type]
) -> Shape | None:
    if model in seen:  # (not searched again: see above)
        recursive.append(model)
        return None
    fields = {}
    for name, info in model.model_fields.items():
        inner = _shape(info.annotation, seen | {model}, recursive)
        if inner is not None:
            # By its name (how the stored dump and the worker know it) and by its input name
            # (how a validation error's `loc` names it).
            fields[name] = inner
            alias = info.validation_alias if isinstance(info.validation_alias, str) else None
            fields[alias or info.alias or name] = inner
    return Shape(fields=fields) if fields else None


def _shape(annotation: Any, seen: frozenset[type], recursive: list[type]) -> Shape | None:
    origin, params = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _shape(params[0], seen, recursive)
    if inspect.isclass(annotation) and issubclass(annotation, SecretStr):
        return Shape(secret=True)
    if inspect.isclass(annotation) and issubclass(annotation, SecretBytes):
        # (its JSON dump is the mask: the job would run with "**********")
        raise TypeError("SecretBytes cannot be stored as a job's arg: use SecretStr")
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return _model_shape(annotation, seen, recursive)
    arms = [_shape(p, seen, recursive) for p in params if p is not Ellipsis]
    found = [arm for arm in arms if arm is not None]
    if not found:
        return None
    if origin is Union or origin is types.UnionType:
        plain = [
            p for p, arm in zip(params, arms, strict=True) if arm is None and p is not NoneType
        ]
        if plain:  # (a client's string would validate as the plain arm: stored in clear)
            raise TypeError(
                f"a union of a secret and {plain[0]} cannot be stored as a job's arg: "
                "make every arm secret, or none"
            )
        merged = found[0]
        for arm in found[1:]:
            merged = merged.merge(arm)
        return merged
    if inspect.isclass(origin) and issubclass(origin, Mapping):
        if arms[-1] is None or len(found) > 1:  # (a key's dump would be the mask)
            raise TypeError("a secret as a mapping's key cannot be stored as a job's arg")
        key = params[0] if params else str
        while get_origin(key) is Annotated:
            key = get_args(key)[0]
        if key not in (str, int):  # (other keys dump unlike their str(): `Env.prod`, `True`)
            raise TypeError(f"a mapping of secrets needs str or int keys, not {key}")
        return Shape(values=arms[-1])
    if inspect.isclass(origin) and issubclass(origin, set | frozenset):
        # (a set's dump has no order to find each sealed value's place by)
        raise TypeError("a set of secrets cannot be stored as a job's arg: use a list")
    if inspect.isclass(origin) and issubclass(origin, Sequence):
        items = found[0]
        for arm in found[1:]:  # (a tuple's positions, merged)
            items = items.merge(arm)
        return Shape(items=items)
    # (a type this does not know how to walk: its secrets would be sealed, never unsealed)
    raise TypeError(f"a secret inside {annotation} cannot be stored as a job's arg")


def seal_args(args: BaseModel, cipher: Cipher | None) -> dict[str, Any]:
    """`args` as stored: the JSON dump, each secret sealed. Raises `SecretsKeyMissing` (naming
    every secret) when there are secrets and no cipher."""
    stored: dict[str, Any] = args.model_dump(mode="json")
    if shape_of(type(args)) is None:  # (most jobs: no second dump on the enqueue's hot path)
        return stored
    found: list[tuple[Path, SecretStr]] = []
    _find_secrets(args.model_dump(), (), found)  # (python mode keeps SecretStr objects)
    if masks := [path for path, secret in found if secret.get_secret_value() == MASK]:
        raise MaskGiven(masks)
    if found and cipher is None:
        raise SecretsKeyMissing([path for path, _ in found])
    for path, secret in found:
        assert cipher is not None
        _put(stored, path, cipher.seal(secret.get_secret_value()))
    return stored


def _find_secrets(value: Any, path: Path, found: list[tuple[Path, SecretStr]]) -> None:
    if isinstance(value, SecretStr):
        found.append((path, value))
    elif isinstance(value, dict):
        for key, item in value.items():
            _find_secrets(item, (*path, key if isinstance(key, str) else str(key)), found)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _find_secrets(item, (*path, index), found)


def _put(stored: Any, path: Path, value: str) -> None:
    *parents, last = path
    for segment in parents:
        stored = stored[segment]
    stored[last] = value


def unseal_kwargs(
    model: type[BaseModel], kwargs: dict[str, Any], cipher: Cipher | None
) -> dict[str, Any]:
    """The stored args with each secret unsealed, for the model to validate (a new dict: the
    caller's keeps its sealed values). Raises `SecretUnreadable` naming the field."""
    shape = shape_of(model)
    if shape is None:
        return kwargs
    unsealed: dict[str, Any] = _unsealed(shape, kwargs, (), cipher)
    return unsealed


def _unsealed(shape: Shape, value: Any, path: Path, cipher: Cipher | None) -> Any:
    if shape.secret and is_sealed(value):
        if cipher is None:
            raise SecretUnreadable(f"{dotted(path)}: is encrypted and {KEY_SETTING} is not set")
        return cipher.unseal(value, dotted(path))
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            inner = shape.fields.get(key) or shape.values
            result[key] = item if inner is None else _unsealed(inner, item, (*path, key), cipher)
        return result
    if isinstance(value, list) and shape.items is not None:
        return [_unsealed(shape.items, item, (*path, i), cipher) for i, item in enumerate(value)]
    return value


def masked_input(model: type[BaseModel], loc: Path, error_type: str, value: Any) -> Any:
    """A validation error's echoed `input` with what the model holds secret shown as the mask.
    `loc` is the error's place in the args; a `missing` error echoes the enclosing value."""
    shape = shape_of(model)
    if loc and loc[-1] == "[key]":  # (a mapping's key, as `(..., key, "[key]")`: never secret)
        return value
    for segment in loc[:-1] if error_type == "missing" and loc else loc:
        if shape is None:
            return value
        shape = shape.step(segment)
    return value if shape is None else _masked(shape, value)


def _masked(shape: Shape, value: Any) -> Any:
    if shape.secret:
        return MASK  # (whatever the client sent there: it meant it as a secret)
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            inner = shape.fields.get(key) or shape.values
            result[key] = item if inner is None else _masked(inner, item)
        return result
    if isinstance(value, list) and shape.items is not None:
        return [_masked(shape.items, item) for item in value]
    return value
