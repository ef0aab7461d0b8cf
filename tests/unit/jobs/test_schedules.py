"""Schedules are checked when a process starts: each problem is refused naming the schedule and
what is wrong; the planner (fakeredis) skips a paused schedule's slot, a slot another worker
took, and an overlapping run, and enqueues the schedule's own function and args."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

from jobqueue.jobs import JobContext, Schedule, job
from jobqueue.jobs.catalog import registry as catalog
from jobqueue.jobs.declaration import JobRegistry
from jobqueue.jobs.echo import echo
from jobqueue.jobs.schedules import ScheduleInvalid, resolve_schedules
from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from jobqueue.store.enqueue import EnqueueSpec
from jobqueue.store.schedule_state import pause, read_states, resume
from jobqueue.worker.schedules import SchedulePlanner, latest_slot_ms, slot_of


class Report(BaseModel):
    day: str


@job(timeout=5, schedules=[Schedule("0 * * * *", name="hourly-report", args={"day": "today"})])
async def report(ctx: JobContext, args: Report) -> None:
    """Write the day's report."""


def schedules_file(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "schedules.toml"
    path.write_text(text)
    return Settings(schedules_file=path)


def test_schedules_declared_in_code_and_in_the_file_are_listed_after_the_built_ins(
    tmp_path: Path,
) -> None:
    settings = schedules_file(
        tmp_path,
        '[[schedules]]\nname = "nightly"\nfunction = "echo"\ncron = "0 3 * * *"\n'
        'args = { message = "hi" }\nmissed = "run_once"\n',
    )
    resolved = resolve_schedules(settings, JobRegistry([echo, report]))
    assert [(s.name, s.function, s.builtin) for s in resolved] == [
        ("cron:queue_stats", "cron:queue_stats", True),
        ("cron:sweep", "cron:sweep", True),
        ("cron:hourly-report", "report", False),
        ("cron:nightly", "echo", False),
    ]
    nightly = resolved[-1]
    assert (nightly.args, nightly.overlap, nightly.missed) == (
        {"message": "hi"},
        "skip",
        "run_once",
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('name = "x"\nfunction = "nope"\ncron = "* * * * *"', "no job named 'nope'"),
        ('name = "x"\nfunction = "echo"\ncron = "every day"\nargs = { message = "m" }',
         "not a cron expression"),
        ('name = "x"\nfunction = "echo"\ncron = "* * * * *"', "args.message: Field required"),
        ('name = "Bad Name"\nfunction = "echo"\ncron = "* * * * *"', "a name is 1-64 of"),
        ('name = "x"\nfunction = "echo"\ncron = "* * * * *"\noverlap = "sometimes"',
         "file.schedules.0.overlap"),
        ('name = "x"\nfunction = "echo"\ncron = "* * * * *"\nwhen = 1', "file.schedules.0.when"),
        ('name = "queue_stats"\nfunction = "echo"\ncron = "* * * * *"\nargs = { message = "m" }',
         "'queue_stats': the name is taken"),
    ],
)  # fmt: skip
def test_a_schedule_that_cannot_run_is_refused_naming_it_and_why(
    tmp_path: Path, entry: str, message: str
) -> None:
    settings = schedules_file(tmp_path, f"[[schedules]]\n{entry}\n")
    with pytest.raises(ScheduleInvalid, match=message):
        resolve_schedules(settings, catalog)


def test_a_schedule_declared_twice_or_a_file_not_toml_is_refused(tmp_path: Path) -> None:
    twice = '[[schedules]]\nname = "hourly-report"\nfunction = "report"\ncron = "* * * * *"\n'
    twice += 'args = { day = "d" }\n'
    with pytest.raises(ScheduleInvalid, match="'hourly-report': the name is taken"):
        resolve_schedules(schedules_file(tmp_path, twice), JobRegistry([report]))
    with pytest.raises(ScheduleInvalid, match="not TOML"):
        resolve_schedules(schedules_file(tmp_path, "[[schedules"), catalog)
    with pytest.raises(ScheduleInvalid, match="No such file"):
        resolve_schedules(Settings(schedules_file=tmp_path / "missing.toml"), catalog)


class Login(BaseModel):
    password: SecretStr


@job(timeout=5, schedules=[Schedule("0 * * * *", args={"password": "hunter2"})])
async def login(ctx: JobContext, args: Login) -> None:
    """Log in."""


def test_a_schedules_secret_args_are_sealed_or_refused_without_a_key() -> None:
    with pytest.raises(ScheduleInvalid, match="set JOBQUEUE_SECRETS_KEY"):
        resolve_schedules(Settings(secrets_key=None), JobRegistry([login]))


def test_a_schedules_secret_args_are_sealed_with_a_key(settings: Settings) -> None:
    [*_, scheduled] = resolve_schedules(settings, JobRegistry([login]))
    assert scheduled.args["password"].startswith("jobqueue-secret:v1:")


@pytest.fixture
def planner(redis: TrackedRedis, settings: Settings) -> SchedulePlanner:
    schedules = resolve_schedules(settings, JobRegistry([echo, report]))
    return SchedulePlanner(redis, settings, schedules)


def arq_spec(name: str, slot_ms: int) -> EnqueueSpec:
    return EnqueueSpec(name, {}, job_id=f"{name}:{slot_ms}")


async def test_a_slot_enqueues_the_schedules_own_function_and_args(
    planner: SchedulePlanner, redis: TrackedRedis
) -> None:
    planned = await planner.plan(arq_spec("cron:hourly-report", 1_796_295_600_123))
    assert planned is not None
    assert (planned.function, planned.kwargs, planned.schedule) == (
        "report",
        {"day": "today"},
        "cron:hourly-report",
    )
    await planner.enqueued(planned, "cron:hourly-report:1796295600123")
    state = (await read_states(redis, ["cron:hourly-report"]))["cron:hourly-report"]
    assert (state.last_run, state.last_slot_ms) == (
        "cron:hourly-report:1796295600123",
        1_796_295_600_123,
    )
    # Another worker planning the same slot enqueues nothing.
    assert await planner.plan(arq_spec("cron:hourly-report", 1_796_295_600_123)) is None


async def test_a_paused_schedule_or_a_run_still_going_skips_the_slot(
    planner: SchedulePlanner, redis: TrackedRedis
) -> None:
    await pause(redis, "cron:hourly-report", "ops", 1)
    assert await planner.plan(arq_spec("cron:hourly-report", 1_000_000_000_123)) is None

    built_in = await planner.plan(arq_spec("cron:sweep", 1_000_000_000_123))
    assert built_in is not None
    assert (built_in.function, built_in.schedule) == ("cron:sweep", "cron:sweep")
    await redis.enqueue_job("report", _job_id="cron:hourly-report:1", day="d")  # waiting...
    await redis.set(keys.in_progress("cron:hourly-report:1"), "w")  # ...and held by a worker
    await resume(redis, "cron:hourly-report")
    await redis.hset(keys.schedule("cron:hourly-report"), "last_run", "cron:hourly-report:1")  # type: ignore[misc]
    assert await planner.plan(arq_spec("cron:hourly-report", 1_000_000_003_123)) is None
    await redis.delete(keys.in_progress("cron:hourly-report:1"))
    assert await planner.plan(arq_spec("cron:hourly-report", 1_000_000_003_123)) is not None


async def test_a_spec_of_no_schedule_passes_as_it_is(planner: SchedulePlanner) -> None:
    spec = EnqueueSpec("echo", {"message": "m"}, job_id="plain")
    assert await planner.plan(spec) is spec


def test_the_latest_slot_is_named_as_arqs_scheduler_names_it() -> None:
    now = datetime(2026, 12, 3, 11, 0, 41, 200_000, tzinfo=UTC)
    assert latest_slot_ms("* * * * * */2", now) == int(
        (now.replace(second=40, microsecond=123_000)).timestamp() * 1000
    )
    just_after = now.replace(second=40, microsecond=50_000)  # before 40.123: the slot before
    assert latest_slot_ms("* * * * * */2", just_after) == int(
        (just_after - timedelta(seconds=2)).replace(microsecond=123_000).timestamp() * 1000
    )
    assert slot_of("cron:x:1796295640123") == 1796295640123
    assert slot_of("cron:x:manual:1796295640") is None


async def test_a_run_waiting_for_its_retry_is_still_going(
    planner: SchedulePlanner, redis: TrackedRedis
) -> None:
    await redis.enqueue_job(
        "report", _job_id="cron:hourly-report:7", _defer_by=timedelta(minutes=5), day="d"
    )
    await redis.hset(keys.schedule("cron:hourly-report"), "last_run", "cron:hourly-report:7")  # type: ignore[misc]
    assert await planner.plan(arq_spec("cron:hourly-report", 1_000_000_009_123)) is not None
    await redis.set(keys.retry("cron:hourly-report:7"), 1)  # tried once: waits for its retry
    assert await planner.plan(arq_spec("cron:hourly-report", 1_000_000_009_123)) is None
