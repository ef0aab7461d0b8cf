"""The report says plainly where a peer beats the service, from the per-round ratios."""

from typing import Any

from bench import rest
from bench.verdicts import losses


def _worker(noop: list[float], sleep: list[float], commands: float, rss: float) -> dict[str, Any]:
    common = {"total_commands_per_job": [commands], "rss_mib": [rss]}
    return {"noop": {"jobs_per_s": noop, **common}, "sleep10": {"jobs_per_s": sleep, **common}}


def _raw(peer: dict[str, Any], idle: float = 30.0) -> dict[str, Any]:
    endpoint = {"rps": [3000.0, 3000.0], "commands_per_request": [15.0]}
    plain = {"rps": [2000.0, 2000.0], "commands_per_request": [15.0]}
    return {
        "meta": {"names": {"service": "service", "peer": "the peer"}},
        "workers": {"service": _worker([2000, 2000], [2000, 2000], 40, 50), "peer": peer},
        "idle_commands_per_s": {"service": 20.0, "peer": idle},
        "rest": {rest.SERVICE: endpoint, rest.PLAIN: plain},
    }


def test_a_peer_that_wins_every_round_is_named_with_the_ratio_range() -> None:
    found = losses(_raw(_worker([1000, 1000], [2500, 4000], 50, 60)))
    assert found == [
        "**10 ms jobs: the peer is faster in every round**: the service runs "
        "0.65 (0.50 to 0.80) times its jobs/s."
    ]


def test_a_peer_that_wins_some_rounds_is_named_too() -> None:
    (found,) = losses(_raw(_worker([1000, 1000], [1000, 2500], 50, 60)))
    assert "the peer is faster in some rounds" in found


def test_a_peer_that_wins_most_rounds_is_said_to() -> None:
    raw = _raw(_worker([1000] * 3, [1000, 2500, 2500], 50, 60))
    raw["workers"]["service"] = _worker([2000] * 3, [2000] * 3, 40, 50)
    (found,) = losses(raw)
    assert "the peer is faster in most rounds" in found


def test_every_figure_a_peer_does_better_is_listed() -> None:
    found = losses(_raw(_worker([1000, 1000], [1000, 1000], 10, 30), idle=2.0))
    assert [text.split("**")[1] for text in found] == [
        "Redis commands per no-op job (enqueue + worker)",
        "worker peak RSS MiB under load",
        "Idle Redis load (commands/s, one idle worker)",
    ]


def test_nothing_is_listed_when_the_service_wins_everything() -> None:
    assert losses(_raw(_worker([1000, 1000], [1000, 1000], 50, 60))) == []
