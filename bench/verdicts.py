"""Where the service loses, said plainly: every figure in which a peer beats it."""

from statistics import median
from typing import Any

from bench import rest
from bench.figures import cell, per_round
from bench.peers import KINDS
from bench.systems import SERVICE

KIND_NAMES = {"noop": "no-op", "sleep10": "10 ms"}


def losses(raw: dict[str, Any]) -> list[str]:
    return [
        *_throughput(raw),
        *_fewer(raw, "total_commands_per_job", "Redis commands per no-op job (enqueue + worker)"),
        *_fewer(raw, "rss_mib", "worker peak RSS MiB under load"),
        *_idle(raw),
        *_rest(raw),
    ]


def _how_often(ratios: list[float]) -> str:
    """How often the other side won, from the service's per-round ratios."""
    if max(ratios) < 1:
        return "in every round"
    return "in most rounds" if median(ratios) < 1 else "in some rounds"


def _peers(raw: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(k, w) for k, w in raw["workers"].items() if k != SERVICE]


def _throughput(raw: dict[str, Any]) -> list[str]:
    ours, names = raw["workers"][SERVICE], raw["meta"]["names"]
    found = []
    for key, theirs in _peers(raw):
        for kind in KINDS:
            ratios = per_round(ours[kind]["jobs_per_s"], theirs[kind]["jobs_per_s"])
            if min(ratios) >= 1:
                continue
            found.append(
                f"**{KIND_NAMES[kind]} jobs: {names[key]} is faster {_how_often(ratios)}**: "
                "the service runs "
                f"{cell(ratios, 2)} times its jobs/s."
            )
    return found


def _fewer(raw: dict[str, Any], figure: str, what: str) -> list[str]:
    """Peers whose median no-op `figure` is below the service's."""
    names = raw["meta"]["names"]
    own = median(raw["workers"][SERVICE]["noop"][figure])
    lower = [
        f"{names[k]} {median(w['noop'][figure]):,.1f}"
        for k, w in _peers(raw)
        if median(w["noop"][figure]) < own
    ]
    if not lower:
        return []
    return [f"**{what}**: the service {own:,.1f}; less for {', '.join(lower)}."]


def _idle(raw: dict[str, Any]) -> list[str]:
    idle, names = raw["idle_commands_per_s"], raw["meta"]["names"]
    own = idle.get(SERVICE, 0.0)
    quieter = [f"{names[k]} {v:,.1f}" for k, v in idle.items() if k != SERVICE and v < own]
    if not quieter:
        return []
    return [
        f"**Idle Redis load (commands/s, one idle worker)**: the service {own:,.1f}; "
        f"less for {', '.join(quieter)}."
    ]


def _rest(raw: dict[str, Any]) -> list[str]:
    ours, plain = raw["rest"][rest.SERVICE], raw["rest"][rest.PLAIN]
    found: list[str] = []
    ratios = per_round(ours["rps"], plain["rps"])
    if min(ratios) < 1:
        found.append(
            "**REST enqueue: the plain enqueue_job endpoint serves more requests/s "
            f"{_how_often(ratios)}**: "
            f"`POST /v1/jobs` does {cell(ratios, 2)} times its requests/s."
        )
    if median(ours["commands_per_request"]) > median(plain["commands_per_request"]):
        found.append(
            f"**Redis commands per REST enqueue**: `POST /v1/jobs` "
            f"{median(ours['commands_per_request']):.1f}, the plain endpoint "
            f"{median(plain['commands_per_request']):.1f} (the service also writes each job's "
            "history record, events and index entries, and checks idempotency)."
        )
    return found
