"""Schedules declared for jobs (here in a `JOBQUEUE_SCHEDULES_FILE`), against real workers and
a real API: one run per slot with four workers, pause and resume (persisted, seen by every
worker), run-now while paused, overlap skipped, and the missed-slot policies."""

import asyncio
import itertools
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.processes import API_COMMAND
from tests.helpers import eventually
from tests.helpers.services import (
    BIN,
    REPO_ROOT,
    RedisServer,
    ServiceProcess,
    free_port,
    service_env,
    start_api,
    start_worker,
)

SCHEDULES = """
[[schedules]]
name = "tick"
function = "echo"
cron = "* * * * * *"
args = { message = "tick" }

[[schedules]]
name = "slow"
function = "sleep"
cron = "* * * * * *"
args = { seconds = 2.5 }

[[schedules]]
name = "catch-up"
function = "echo"
cron = "* * * * * */2"
args = { message = "missed one" }
missed = "run_once"

[[schedules]]
name = "no-catch-up"
function = "echo"
cron = "* * * * * */2"
args = { message = "not missed" }
"""


@dataclass
class ScheduledStack:
    url: str
    env: dict[str, str]
    workdir: Path
    workers: list[ServiceProcess]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScheduledStack]:
    workdir = tmp_path_factory.mktemp("schedules")
    server = RedisServer(workdir / "redis")
    server.start()
    schedules = workdir / "schedules.toml"
    schedules.write_text(SCHEDULES)
    env = {**service_env(server.url), "JOBQUEUE_SCHEDULES_FILE": str(schedules)}
    api, url = start_api(env, workdir)
    workers = [start_worker(env, workdir, f"worker-{i}") for i in range(4)]
    yield ScheduledStack(url, env, workdir, workers)
    for worker in workers:
        worker.stop()
    api.stop()
    server.stop()


@pytest.fixture
async def api(stack: ScheduledStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.url, timeout=30, trust_env=False) as client:
        yield client


def slot_of(job_id: str) -> int:
    return int(job_id.rsplit(":", 1)[1])


async def runs(api: httpx.AsyncClient, schedule: str, function: str) -> list[dict[str, Any]]:
    """The schedule's runs (newest first), slotted ones only."""
    found, cursor = [], None
    while True:
        params: dict[str, Any] = {"function": function, "limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/v1/jobs", params=params)).json()
        found += [
            job
            for job in page["jobs"]
            if job["job_id"].startswith(f"cron:{schedule}:") and ":manual:" not in job["job_id"]
        ]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


async def entry(api: httpx.AsyncClient, name: str) -> dict[str, Any]:
    crons = (await api.get("/v1/cron")).json()
    found: dict[str, Any] = next(c for c in crons if c["name"] == name)
    return found


def now_ms() -> int:
    return int(time.time() * 1000)


async def test_declared_schedules_are_listed_beside_the_built_ins(api: httpx.AsyncClient) -> None:
    crons = {c["name"]: c for c in (await api.get("/v1/cron")).json()}
    assert {"cron:queue_stats", "cron:sweep", "cron:tick", "cron:slow"} <= set(crons)
    tick = crons["cron:tick"]
    assert (tick["function"], tick["builtin"], tick["overlap"], tick["missed"]) == (
        "echo",
        False,
        "skip",
        "skip",
    )
    assert (tick["paused"], tick["paused_by"], tick["paused_at"]) == (False, None, None)
    assert crons["cron:catch-up"]["missed"] == "run_once"
    assert crons["cron:sweep"]["builtin"] is True


async def test_four_workers_run_each_slot_once_as_a_job_naming_its_schedule(
    api: httpx.AsyncClient, stack: ScheduledStack
) -> None:
    assert sum(w.is_running() for w in stack.workers) == 4
    since = now_ms()
    await eventually(
        lambda: _slots_since(api, since, 4), timeout=10, what="four slots of cron:tick"
    )
    ticks = [j for j in await runs(api, "tick", "echo") if slot_of(j["job_id"]) > since]
    slots = [slot_of(j["job_id"]) for j in ticks]
    assert len(slots) == len(set(slots))  # one run per slot
    assert len({slot // 1000 for slot in slots}) == len(slots)  # (a second's slot, once)
    # Each run ran once, in one of the four workers (an id's second run would log again).
    ran = [
        line
        for w in stack.workers
        for line in w.log_text().splitlines()
        if '"job.succeeded"' in line and '"cron:tick:' in line
    ]
    for job_id in {j["job_id"] for j in ticks if j["status"] == "succeeded"}:
        assert len([line for line in ran if f'"{job_id}"' in line]) == 1, job_id
    finished = [j for j in ticks if j["status"] == "succeeded"]
    assert finished
    view = (await api.get(f"/v1/jobs/{finished[0]['job_id']}")).json()
    assert (view["function"], view["args"], view["schedule"]) == (
        "echo",
        {"message": "tick"},
        "cron:tick",
    )
    assert view["result"] == {"message": "tick"}


async def _slots_since(api: httpx.AsyncClient, since: int, count: int) -> bool:
    ticks = await runs(api, "tick", "echo")
    return len([j for j in ticks if slot_of(j["job_id"]) > since]) >= count


async def test_a_paused_schedule_skips_its_slots_and_runs_again_once_resumed(
    api: httpx.AsyncClient,
) -> None:
    paused = await api.post("/v1/cron/cron:tick/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True
    paused_at = datetime.fromisoformat(paused.json()["paused_at"]).timestamp() * 1000
    assert (await entry(api, "cron:tick"))["paused"] is True

    # Two slots pass while paused (what must not happen has nothing to wait for).
    await asyncio.sleep(2.5)
    ran = [slot_of(j["job_id"]) for j in await runs(api, "tick", "echo")]
    # (a slot arq had enqueued just ahead of the pause still runs: 0.1 s ahead at most here)
    assert not [slot for slot in ran if slot > paused_at + 1000]

    now = await api.post("/v1/cron/cron:tick/run")  # run-now works while paused
    assert now.status_code == 202, now.text
    assert (now.json()["function"], now.json()["schedule"]) == ("echo", "cron:tick")
    assert (await api.get(f"/v1/jobs/{now.json()['job_id']}/result?timeout=10")).json()[
        "status"
    ] == "succeeded"

    resumed = await api.post("/v1/cron/cron:tick/resume")
    assert resumed.status_code == 200
    assert (resumed.json()["paused"], resumed.json()["paused_at"]) == (False, None)
    resumed_at = now_ms()
    await eventually(
        lambda: _slots_since(api, resumed_at, 1), timeout=5, what="a run after the resume"
    )


async def test_pause_and_resume_of_an_unknown_schedule_are_404(api: httpx.AsyncClient) -> None:
    for action in ("pause", "resume", "run"):
        response = await api.post(f"/v1/cron/cron:nope/{action}")
        assert response.status_code == 404
        assert "cron:nope" in response.json()["detail"]


async def test_a_built_in_schedule_can_be_paused_too(
    api: httpx.AsyncClient, stack: ScheduledStack
) -> None:
    paused = await api.post("/v1/cron/cron:sweep/pause")
    assert paused.status_code == 200
    try:
        skips = '"schedule":"cron:sweep","reason":"paused"'
        await eventually(
            lambda: sum(w.log_text().count(skips) for w in stack.workers) >= 2,
            what="two of cron:sweep's slots skipped while paused",
        )
        since = datetime.fromisoformat(paused.json()["paused_at"]).timestamp() * 1000 + 1000
        jobs = (await api.get("/v1/jobs", params={"function": "cron:sweep"})).json()["jobs"]
        assert not [j for j in jobs if slot_of(j["job_id"].replace(":manual", "")) > since]
    finally:
        assert (await api.post("/v1/cron/cron:sweep/resume")).status_code == 200


async def test_overlap_skip_leaves_out_slots_while_the_last_run_goes_on(
    api: httpx.AsyncClient, stack: ScheduledStack
) -> None:
    async def two_finished() -> list[dict[str, Any]] | None:
        finished = [j for j in await runs(api, "slow", "sleep") if j["finish_time"]]
        return finished if len(finished) >= 2 else None

    done = await eventually(two_finished, timeout=15, what="two runs of cron:slow")
    spans = sorted(
        (datetime.fromisoformat(j["start_time"]), datetime.fromisoformat(j["finish_time"]))
        for j in done
    )
    for (_, ended), (started, _) in itertools.pairwise(spans):
        assert started >= ended  # never two at once, with one run a second asked for
    assert any('"reason": "overlap"' in w.log_text() or '"reason":"overlap"' in w.log_text()
               for w in stack.workers)  # fmt: skip


async def test_missed_slots_run_once_at_start_only_where_the_schedule_says_so(
    api: httpx.AsyncClient, stack: ScheduledStack
) -> None:
    async def both_ran() -> bool:
        return bool(await runs(api, "catch-up", "echo") and await runs(api, "no-catch-up", "echo"))

    await eventually(both_ran, timeout=10, what="both two-second schedules to have run")
    for worker in stack.workers:
        worker.stop()
    stopped_at = now_ms()
    await asyncio.sleep(4.5)  # two of their slots pass with no worker to run them
    launched_at = now_ms()
    stack.workers[:] = [start_worker(stack.env, stack.workdir, "again-0")]
    started_at = now_ms()  # (arq's own next slot comes after it)
    stack.workers.append(start_worker(stack.env, stack.workdir, "again-1"))  # (it finds the
    # latest slot taken: the first one's run, or a later slot's, under arq's own id for it)

    def run_since_start(job: dict[str, Any]) -> bool:
        """A run for a slot before the start that the restarted workers ran."""
        started = job["start_time"]
        ran_now = started is not None and _epoch_ms(started) >= launched_at
        return slot_of(job["job_id"]) <= started_at and ran_now

    async def caught_up() -> list[dict[str, Any]] | None:
        done = [j for j in await runs(api, "catch-up", "echo") if run_since_start(j)]
        return done or None

    # One run for the missed slots: the catch-up of the latest, or (if a worker had enqueued
    # a slot just ahead of its stop) that run, which still waited: not one more beside it.
    [caught] = await eventually(caught_up, timeout=10, what="the catch-up run")
    assert slot_of(caught["job_id"]) >= launched_at - 2000 or (
        slot_of(caught["job_id"]) <= stopped_at + 1000
    )
    await asyncio.sleep(0.5)  # (a second run would have started by now: none may)
    assert len([j for j in await runs(api, "catch-up", "echo") if run_since_start(j)]) == 1
    others = [slot_of(j["job_id"]) for j in await runs(api, "no-catch-up", "echo")]
    assert not [s for s in others if stopped_at + 1000 < s <= started_at]


def _epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def test_a_schedule_that_cannot_run_stops_both_processes_at_start_naming_it(
    tmp_path: Path, stack: ScheduledStack
) -> None:
    bad = tmp_path / "schedules.toml"
    bad.write_text('[[schedules]]\nname = "bad"\nfunction = "echo"\ncron = "* * * * *"\n')
    env = {**os.environ, **stack.env, "JOBQUEUE_SCHEDULES_FILE": str(bad)}
    for command in (
        [str(BIN / "arq"), "worker_settings.WorkerSettings"],
        [*API_COMMAND, "--host", "127.0.0.1", "--port", str(free_port())],
    ):
        done = subprocess.run(
            command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=30
        )
        assert done.returncode != 0
        assert "schedule 'bad': args.message: Field required" in done.stderr
        assert "Traceback" not in done.stderr
