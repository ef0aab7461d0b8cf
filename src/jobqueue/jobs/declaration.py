"""Job declarations: the one source for the worker's function list and the API's validation.

A job is an async function taking a `JobContext` and a pydantic args model, returning a pydantic
result model (or None), decorated with `@job(...)` for its retry policy and timeout:

    @job(max_tries=3, timeout=10)
    async def echo(ctx: JobContext, args: EchoArgs) -> EchoResult:
        "Return the message unchanged."
        return EchoResult(message=args.message)

The models are read from the type hints, so the declaration cannot disagree with the code.
"""

import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel

from jobqueue.jobs.context import JobContext
from jobqueue.jobs.schedule import Schedule
from jobqueue.jobs.secret_args import shape_of
from jobqueue.settings import Settings

# arq's `enqueue_job(function, *args, **kwargs)` takes the job's args as keyword arguments.
RESERVED_ARG_NAMES = frozenset({"function"})

# Key under which validators find the `Settings` in pydantic's validation context.
SETTINGS_CONTEXT_KEY = "settings"


JobFunction = Callable[[JobContext, Any], Awaitable[BaseModel | None]]


@dataclass(frozen=True)
class JobDefinition:
    name: str
    func: JobFunction
    args_model: type[BaseModel]
    result_model: type[BaseModel] | None
    description: str
    max_tries: int
    timeout: float
    schedules: tuple[Schedule, ...] = ()

    def validate_args(self, args: Mapping[str, Any], settings: Settings) -> BaseModel:
        """Raises pydantic's `ValidationError` naming each bad field."""
        return self.args_model.model_validate(args, context={SETTINGS_CONTEXT_KEY: settings})

    def args_schema(self) -> dict[str, Any]:
        return self.args_model.model_json_schema()


def job(
    *,
    name: str | None = None,
    description: str | None = None,
    max_tries: int = 1,
    timeout: float,
    schedules: Iterable[Schedule] = (),
) -> Callable[[JobFunction], JobDefinition]:
    """Declare a job. `description` defaults to the docstring's first line; `schedules` run it
    on cron schedules (checked when a process starts: `jobqueue.jobs.schedules`)."""
    if max_tries < 1:
        raise ValueError("max_tries must be at least 1")
    if timeout <= 0:
        raise ValueError("timeout must be positive: jobs may not run forever")

    def declare(func: JobFunction) -> JobDefinition:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"{func.__qualname__} must be an async function")
        hints = get_type_hints(func)
        params = list(inspect.signature(func).parameters)
        if len(params) != 2:
            raise TypeError(f"{func.__qualname__} must take (ctx: JobContext, args: <model>)")
        args_model = hints.get(params[1])
        if not (inspect.isclass(args_model) and issubclass(args_model, BaseModel)):
            raise TypeError(f"{func.__qualname__}: annotate `{params[1]}` with a pydantic model")
        clashing = RESERVED_ARG_NAMES & set(args_model.model_fields)
        if clashing:
            raise TypeError(f"{func.__qualname__}: args may not be named {sorted(clashing)}")
        try:
            shape_of(args_model)
        except TypeError as exc:
            raise TypeError(f"{func.__qualname__}: {exc}") from None
        result_model = hints.get("return")
        if result_model is type(None):
            result_model = None
        elif not (inspect.isclass(result_model) and issubclass(result_model, BaseModel)):
            raise TypeError(f"{func.__qualname__}: return a pydantic model or None")
        doc = inspect.getdoc(func) or ""
        return JobDefinition(
            name=name or func.__name__,
            func=func,
            args_model=args_model,
            result_model=result_model,
            description=description or doc.split("\n", 1)[0],
            max_tries=max_tries,
            timeout=timeout,
            schedules=tuple(schedules),
        )

    return declare


class JobRegistry:
    """The jobs clients may enqueue, by name."""

    def __init__(self, definitions: Iterable[JobDefinition]) -> None:
        self._by_name: dict[str, JobDefinition] = {}
        for definition in definitions:
            if definition.name in self._by_name:
                raise ValueError(f"job {definition.name!r} is declared twice")
            self._by_name[definition.name] = definition

    def get(self, name: str) -> JobDefinition | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def __iter__(self) -> Iterator[JobDefinition]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)
