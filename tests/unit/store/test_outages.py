"""The circuit: open once Redis cannot be reached, answering at once; closed by its probe."""

import asyncio

import pytest
from redis.exceptions import ConnectionError

from jobqueue.errors import QueueUnavailable
from jobqueue.store import outages
from jobqueue.store.outages import POOL_EXHAUSTED, Circuit
from tests.helpers import eventually


class Redis:
    """What the probe reaches: down until `up` is set."""

    def __init__(self) -> None:
        self.up = False
        self.probes = 0

    async def ping(self) -> None:
        self.probes += 1
        if not self.up:
            raise ConnectionError("refused")


async def test_it_opens_on_an_outage_and_answers_at_once_until_its_probe_reaches_redis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outages, "PROBE_EVERY_S", 0.01)
    redis = Redis()
    circuit = Circuit(redis.ping)
    circuit.check()  # closed: nothing to say
    circuit.trip(ConnectionError("Error 111 connecting"))
    with pytest.raises(QueueUnavailable, match="reconnecting in the background"):
        circuit.check()
    await eventually(lambda: redis.probes >= 3, what="a few probes")
    assert circuit.is_open
    redis.up = True
    await eventually(lambda: not circuit.is_open, what="the probe to close it")
    circuit.check()


async def test_a_busy_pool_is_load_not_an_outage() -> None:
    circuit = Circuit(Redis().ping)
    circuit.trip(ConnectionError(POOL_EXHAUSTED))
    assert not circuit.is_open


async def test_tripping_an_open_circuit_starts_no_second_probe() -> None:
    redis = Redis()
    circuit = Circuit(redis.ping)
    circuit.trip(ConnectionError("down"))
    probing = circuit._probing
    circuit.trip(ConnectionError("still down"))
    assert circuit._probing is probing
    await circuit.aclose()
    assert not circuit.is_open
    await asyncio.sleep(0)
