import pytest
from pydantic import BaseModel, ValidationError

from jobqueue.jobs.catalog import registry
from jobqueue.jobs.context import JobContext
from jobqueue.jobs.declaration import JobRegistry, job
from jobqueue.settings import Settings


class Args(BaseModel):
    n: int


class Result(BaseModel):
    doubled: int


def test_models_description_and_policy_come_from_the_declaration() -> None:
    @job(max_tries=4, timeout=7)
    async def double(ctx: JobContext, args: Args) -> Result:
        """Double a number.

        More text that is not part of the description.
        """
        return Result(doubled=args.n * 2)

    assert double.name == "double"
    assert double.args_model is Args
    assert double.result_model is Result
    assert double.description == "Double a number."
    assert (double.max_tries, double.timeout) == (4, 7)


def test_a_job_may_return_nothing() -> None:
    @job(timeout=1)
    async def fire(ctx: JobContext, args: Args) -> None:
        return None

    assert fire.result_model is None


def test_args_must_be_a_pydantic_model() -> None:
    with pytest.raises(TypeError, match="pydantic model"):

        @job(timeout=1)
        async def untyped(ctx: JobContext, args: dict) -> None:  # type: ignore[type-arg]
            return None


def test_an_arg_named_like_arqs_enqueue_parameter_is_refused() -> None:
    class Clashing(BaseModel):
        function: str

    with pytest.raises(TypeError, match="function"):

        @job(timeout=1)
        async def clash(ctx: JobContext, args: Clashing) -> None:
            return None


def test_jobs_must_be_async() -> None:
    with pytest.raises(TypeError, match="async"):
        job(timeout=1)(lambda ctx, args: None)  # type: ignore[arg-type,return-value]


def test_timeouts_are_finite_and_positive() -> None:
    with pytest.raises(ValueError, match="timeout"):
        job(timeout=0)


def test_duplicate_names_are_refused() -> None:
    @job(timeout=1)
    async def same(ctx: JobContext, args: Args) -> None:
        return None

    with pytest.raises(ValueError, match="twice"):
        JobRegistry([same, same])


def test_builtin_jobs_are_registered() -> None:
    assert {"echo", "sleep", "webhook"} <= set(registry.names())  # (and whatever you add)


def test_validate_args_names_the_bad_field() -> None:
    sleep = registry.get("sleep")
    assert sleep is not None
    with pytest.raises(ValidationError) as caught:
        sleep.validate_args({"seconds": 4000}, Settings())
    assert caught.value.errors()[0]["loc"] == ("seconds",)
