"""When the API refuses new work: Redis full or nearly, or the queue too long."""

import httpx
import pytest

from jobqueue.settings import Settings
from jobqueue.store import capacity
from jobqueue.store.capacity import Capacity, Fill
from jobqueue.store.client import TrackedRedis

MiB = 1024 * 1024


@pytest.mark.parametrize(
    ("fill", "refusal"),
    [
        (Fill(used_memory=50 * MiB, maxmemory=100 * MiB, queued=10), None),
        (Fill(used_memory=500 * MiB, maxmemory=0, queued=10), None),  # no limit set
        (Fill(used_memory=96 * MiB, maxmemory=100 * MiB, queued=10), "past the high-water mark"),
        (Fill(used_memory=100 * MiB, maxmemory=100 * MiB, queued=10), "out of memory"),
        (Fill(used_memory=1 * MiB, maxmemory=100 * MiB, queued=999), None),
        (Fill(used_memory=1 * MiB, maxmemory=100 * MiB, queued=1000), "JOBQUEUE_MAX_QUEUED"),
    ],
)
async def test_the_refusal_names_its_cause(
    redis: TrackedRedis, monkeypatch: pytest.MonkeyPatch, fill: Fill, refusal: str | None
) -> None:
    async def read(*_: object) -> Fill:
        return fill

    monkeypatch.setattr(capacity, "read_fill", read)
    said = await Capacity(redis, Settings(max_queued=1000)).refusal()
    assert said is None if refusal is None else refusal in str(said)


async def test_a_reading_is_shared_for_a_second(
    redis: TrackedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    readings: list[int] = []

    async def read(*_: object) -> Fill:
        readings.append(1)
        return Fill(0, 0, 0)

    monkeypatch.setattr(capacity, "read_fill", read)
    limits = Capacity(redis, Settings())
    for _ in range(50):
        await limits.refusal()
    await limits.fill(fresh=True)
    assert len(readings) == 2


@pytest.fixture
def settings() -> Settings:
    return Settings(redis_url="redis://fake:6379/0", max_queued=2, log_format="console", auth="off")


async def test_enqueues_past_max_queued_are_a_503_with_retry_after(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capacity, "FRESH_FOR_S", 0)  # (a reading per request, for the test)
    body = {"function": "echo", "args": {"message": "m"}, "defer_by": 3600}
    assert [(await client.post("/v1/jobs", json=body)).status_code for _ in range(3)] == [
        202,
        202,
        503,
    ]
    refused = await client.post("/v1/jobs", json=body)
    assert refused.headers["retry-after"]
    assert "JOBQUEUE_MAX_QUEUED" in refused.json()["detail"]
