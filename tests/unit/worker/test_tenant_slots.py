"""Which of a poll's jobs a worker offers its claim, keeping each tenant's cap."""

from structlog.testing import capture_logs

from jobqueue.worker.tenant_slots import MARGIN, TenantSlots


def running(cap: int, *job_ids: str) -> TenantSlots:
    slots = TenantSlots(cap)
    for job_id in job_ids:
        slots.started(job_id)
    return slots


def test_a_tenant_at_its_cap_is_not_offered_and_its_jobs_are_held() -> None:
    slots = running(2, "a~1", "a~2")
    offer, rest = slots.offer(["a~3", "b~1", "a~4"], size=10)
    assert offer.job_ids == ["b~1"]
    assert (offer.tenants, offer.slots) == (["b"], {"b": 2})
    assert rest == []
    slots.hold_unoffered(rest)
    slots.end_poll()
    assert slots.held == 2


def test_the_system_tenants_jobs_are_never_capped() -> None:
    slots = running(1, "cron:sweep:1", "x")
    offer, _ = slots.offer(["cron:stats:2", "y"], size=10)
    assert offer.job_ids == ["cron:stats:2", "y"]
    assert offer.tenants == []  # (no tenant offered: the claim checks none)


def test_a_tenant_with_slots_left_is_offered_a_few_more_jobs_than_its_slots() -> None:
    slots = running(3, "a~0", "a~1")  # one slot left
    queued = [f"a~{n}" for n in range(2, 20)] + ["b~1"]
    offer, rest = slots.offer(queued, size=100)
    assert offer.job_ids == [*queued[: 2 + MARGIN], "b~1"]  # b is not stuck behind a's
    assert offer.slots == {"a": 1, "b": 3}
    assert rest == queued[2 + MARGIN : -1]  # kept, in order, for the next offer


def test_an_offer_holds_at_most_its_size_and_keeps_the_rest_in_order() -> None:
    slots = TenantSlots(10)
    offer, rest = slots.offer(["a~1", "x", "b~1", "y"], size=2)
    assert (offer.job_ids, rest) == (["a~1", "x"], ["b~1", "y"])
    assert offer.tenants == ["a", None]


def test_an_ended_job_gives_its_tenant_the_slot_back() -> None:
    slots = running(1, "a~1")
    slots.ended("a~1")
    slots.ended("a~1")  # (never below none)
    assert slots.running("a") == 0
    offer, _ = slots.offer(["a~2"], size=10)
    assert offer.job_ids == ["a~2"]


def test_offered_jobs_left_by_a_claim_that_filled_the_tenant_are_held() -> None:
    slots = TenantSlots(1)
    offer, _ = slots.offer(["a~1", "a~2"], size=10)
    slots.started("a~1")  # as the claim took it
    slots.not_claimed(offer, {"a~1"})
    slots.end_poll()
    assert slots.held == 1


def test_reaching_the_cap_is_logged_once_and_leaving_it_once() -> None:
    slots = running(1, "a~1")
    with capture_logs() as logs:
        for _ in range(3):  # three polls held at the cap: one line
            _, rest = slots.offer(["a~2", "a~3"], size=10)
            slots.hold_unoffered(rest)
            slots.end_poll()
        slots.ended("a~1")
        for _ in range(2):
            _, rest = slots.offer([], size=10)
            slots.hold_unoffered(rest)
            slots.end_poll()
    assert [(line["event"], line["tenant"]) for line in logs] == [
        ("worker.tenant_at_cap", "a"),
        ("worker.tenant_below_cap", "a"),
    ]
    assert (logs[0]["cap"], logs[0]["held"]) == (1, 2)
    assert slots.held == 0


def test_jobs_a_full_worker_did_not_get_to_are_held_if_their_tenant_is_capped() -> None:
    slots = running(1, "a~1")
    slots.hold_unoffered(["a~2", "b~1", "z"])
    assert slots.holding
    slots.end_poll()
    assert slots.held == 1
