"""Tenancy as ids: the caller's ids in, stored ids kept, another tenant's jobs unseen; a
filtered listing pages through exactly the tenant's jobs, however few among many."""

import json

import pytest

from jobqueue.access.tenancy import SYSTEM, Tenancy, tenant_of
from jobqueue.history import pages
from jobqueue.history.pages import read_page
from jobqueue.history.streams import Event
from jobqueue.history.view import JobError, JobView
from jobqueue.history.vocabulary import JobStatus
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis

ACME = Tenancy("acme")


def view(job_id: str, **links: str) -> JobView:
    return JobView(
        job_id=job_id, function="echo", args={}, status=JobStatus.queued, tries=0,
        enqueue_time=None, scheduled_for=None, start_time=None, finish_time=None, **links,
    )  # fmt: skip


def test_a_tenants_ids_are_stored_under_its_name_and_shown_without_it() -> None:
    assert ACME.stored_id("order-42") == "acme~order-42"
    assert tenant_of("acme~order-42") == "acme"
    assert tenant_of("order-42") is None  # the system tenant
    assert tenant_of("cron:sweep:1700000000123") is None
    assert ACME.shown_id("acme~order-42") == "order-42"
    assert ACME.new_stored_id().startswith("acme~")
    assert SYSTEM.stored_id("order-42") == SYSTEM.shown_id("order-42") == "order-42"


def test_a_tenant_sees_its_own_jobs_only_and_the_system_sees_all() -> None:
    assert ACME.sees("acme~x")
    assert not ACME.sees("rival~x")
    assert not ACME.sees("x")  # the system's
    assert not ACME.sees("acme")  # (a bare id that happens to be the tenant's name)
    assert not Tenancy("acm").sees("acme~x")  # a prefix of another tenant's name
    assert all(SYSTEM.sees(i) for i in ("acme~x", "rival~x", "x"))


def test_a_view_shows_the_callers_ids_in_every_link() -> None:
    shown = ACME.show(view("acme~b", retry_of="acme~a", retried_as="acme~c"))
    assert (shown.job_id, shown.retry_of, shown.retried_as) == ("b", "a", "c")
    stored = view("acme~b")
    assert SYSTEM.show(stored) is stored


def test_events_of_other_tenants_are_dropped_and_ids_shown() -> None:
    mine = Event("1-0", "enqueued", {"job_id": "acme~a", "retry_of": "acme~z", "by": "k"})
    theirs = Event("2-0", "enqueued", {"job_id": "rival~a"})
    system = Event("3-0", "enqueued", {"job_id": "cron:sweep:1"})
    shown = ACME.show_event(mine)
    assert shown is not None
    assert shown.data == {"job_id": "a", "retry_of": "z", "by": "k"}
    assert mine.data["job_id"] == "acme~a"  # (the shared event is left as it was)
    assert ACME.show_event(theirs) is None
    assert ACME.show_event(system) is None
    assert SYSTEM.show_event(theirs) is theirs


async def add_job(redis: TrackedRedis, n: int, job_id: str) -> None:
    ms = 1_790_000_000_000 + n
    record = {"function": "echo", "args": json.dumps({}), "status": "succeeded",
              "enqueue_ms": str(ms), "tries": "1"}  # fmt: skip
    await redis.hset(keys.record(job_id), mapping=record)  # type: ignore[misc]
    member = keys.index_member(ms, job_id)
    for index in (keys.index(status="succeeded"), keys.index(status="succeeded", function="echo")):
        await redis.zadd(index, {member: 0})


@pytest.mark.parametrize("scan_rounds", [1, 10])
async def test_a_filtered_listing_pages_through_exactly_the_tenants_jobs(
    redis: TrackedRedis, monkeypatch: pytest.MonkeyPatch, scan_rounds: int
) -> None:
    monkeypatch.setattr(pages, "SCAN_ROUNDS", scan_rounds)
    expected = []
    for n in range(120):  # one of acme's jobs in every six
        job_id = f"acme~job-{n}" if n % 6 == 0 else f"rival~job-{n}"
        await add_job(redis, n, job_id)
        if n % 6 == 0:
            expected.append(job_id)
    seen: list[str] = []
    cursor: str | None = None
    requests = 0
    while True:
        page = await read_page(
            redis, status=None, function="echo", limit=7, cursor=cursor, visible=ACME.sees
        )
        requests += 1
        assert len(page.jobs) <= 7
        seen += [job.job_id for job in page.jobs]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected[::-1]  # newest first, each once, no other tenant's
    # Each request reads at most `scan_rounds` index pages of 7: 120 entries take this many.
    assert requests >= 120 // (7 * scan_rounds)


def test_a_listed_views_links_to_its_elided_values_use_the_callers_id() -> None:
    listed = view("acme~big")
    listed.args = {"elided": True, "bytes": 20000, "href": "/v1/jobs/acme~big"}
    listed.error = JobError(type="E", message="boom… [elided: 30000 bytes; /v1/jobs/acme~big]")
    listed.elided = ["args", "error"]
    shown = ACME.show(listed)
    assert shown.args["href"] == "/v1/jobs/big"
    assert shown.error is not None
    assert shown.error.message.endswith("; /v1/jobs/big]")
    assert listed.args["href"] == "/v1/jobs/acme~big"  # (a copy: the stored view is untouched)
