"""What an enqueue's args must be, checked the same way wherever a job is enqueued from
(`POST /v1/jobs`, each item of a batch, the dashboard's Enqueue form): the function named, the
args storable by our codec and valid for the job's model, their secrets sealed; or a 422 whose
errors are located in the body (`["body", "args", ...]`) with the secrets they echo masked."""

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from jobqueue.access.secrets import KEY_SETTING, MASK, cipher_for
from jobqueue.api import json_limits
from jobqueue.api.schemas import EnqueueRequest
from jobqueue.jobs.declaration import JobDefinition, JobRegistry
from jobqueue.jobs.secret_args import (
    MaskGiven,
    SecretsKeyMissing,
    dotted,
    masked_input,
    seal_args,
)
from jobqueue.queue import EnqueueOptions
from jobqueue.settings import Settings


def validated_args(
    request: EnqueueRequest, registry: JobRegistry, settings: Settings
) -> tuple[JobDefinition, dict[str, Any]]:
    """The job's definition and its args as JSON, or a 422 naming the bad field."""
    definition = registry.get(request.function)
    if definition is None:
        known = ", ".join(registry.names())
        raise RequestValidationError(
            [
                {
                    "type": "unknown_function",
                    "loc": ("body", "function"),
                    "msg": f"unknown function {request.function!r}; registered: {known}",
                    "input": request.function,
                }
            ]
        )
    # First what our codec could not store (NaN, 65-bit integers, lone surrogates, deep
    # nesting: see json_limits), then the job's own model.
    unstorable = json_limits.violation(request.args)
    if unstorable is not None:
        raise args_error(definition, [vars(unstorable)])
    try:
        args = definition.validate_args(request.args, settings)
    except ValidationError as exc:
        raise args_error(definition, exc.errors(include_url=False)) from None
    try:  # (its secrets sealed: the args as stored)
        return definition, seal_args(args, cipher_for(settings))
    except SecretsKeyMissing as missing:
        raise args_error(definition, [_unsealable(path) for path in missing.paths]) from None
    except MaskGiven as given:
        raise args_error(definition, [_mask_given(path) for path in given.paths]) from None


def _mask_given(path: tuple[str | int, ...]) -> dict[str, Any]:
    return {
        "type": "secret_is_mask",
        "loc": path,
        "msg": f"{dotted(path)} is {MASK!r}, the mask a job's view shows in place of a secret: "
        "send the secret itself",
        "input": MASK,
    }


def _unsealable(path: tuple[str | int, ...]) -> dict[str, Any]:
    return {
        "type": "secrets_key_missing",
        "loc": path,
        "msg": f"{dotted(path)} is secret and this service has no key to encrypt it with: "
        f"set {KEY_SETTING}",
        "input": MASK,
    }


def args_error(
    definition: JobDefinition, errors: Iterable[Mapping[str, Any]]
) -> RequestValidationError:
    """Errors located in the args (`loc` relative to them) as the 422 of the whole body, the
    secrets they echo masked."""
    return RequestValidationError(
        [
            {
                "type": e["type"],
                "loc": ("body", "args", *e["loc"]),
                "msg": e["msg"],
                "input": masked_input(
                    definition.args_model, tuple(e["loc"]), e["type"], e["input"]
                ),
            }
            for e in errors
        ]
    )


def enqueue_options(request: EnqueueRequest, request_id: str | None) -> EnqueueOptions:
    return EnqueueOptions(
        job_id=request.job_id,
        defer_by=request.defer_by,
        defer_until=request.defer_until,
        expires=request.expires,
        request_id=request_id,
    )
