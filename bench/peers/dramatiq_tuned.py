"""`dramatiq bench.peers.dramatiq_tuned --processes 1 --threads 100`: dramatiq as its docs
advise for I/O-bound work (one process, many threads), on its Redis broker.

Its actors are synchronous: the 10 ms job is a `time.sleep` in one of the 100 threads.
orjson as the message encoder (dramatiq's documented `set_encoder`). Its default middleware
(retries, time and age limits, callbacks, pipelines, shutdown notifications) stays on;
results are an opt-in middleware, off here: dramatiq stores nothing once a job is done.
Runs from its own venv (`bench.venvs`).
"""

import time
from typing import Any

import dramatiq  # type: ignore[import-not-found, unused-ignore]
from dramatiq.brokers.redis import RedisBroker  # type: ignore[import-not-found, unused-ignore]

from bench.peers import REDIS_URL, SLEEP_SECONDS, enqueue_args
from bench.peers.codec import dumps, loads


class OrjsonEncoder:
    """dramatiq's `Encoder` interface (duck-typed: dramatiq only calls these two)."""

    def encode(self, data: dict[str, Any]) -> bytes:
        return dumps(data)

    def decode(self, data: bytes) -> Any:
        return loads(data)


dramatiq.set_encoder(OrjsonEncoder())
broker = RedisBroker(url=REDIS_URL)
dramatiq.set_broker(broker)


def noop(message: str = "") -> dict[str, str]:
    return {"message": message}


def sleep10(seconds: float = SLEEP_SECONDS) -> dict[str, float]:
    time.sleep(seconds)
    return {"slept": seconds}


ACTORS = {
    "noop": dramatiq.actor(noop, actor_name="noop"),
    "sleep10": dramatiq.actor(sleep10, actor_name="sleep10"),
}


def _enqueue(kind: str, count: int) -> None:
    actor = ACTORS[kind]
    for _ in range(count):  # dramatiq's client is synchronous: one send after another
        if kind == "noop":
            actor.send(message="x")
        else:
            actor.send(seconds=SLEEP_SECONDS)


if __name__ == "__main__":
    _enqueue(*enqueue_args())
