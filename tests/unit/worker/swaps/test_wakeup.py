"""The worker's event-driven poll, and the arq internals it relies on."""

import asyncio
import inspect

import arq.worker
import pytest

from jobqueue.worker.swaps.wakeup import WakeUp


def test_arqs_worker_loop_still_calls_the_module_level_poll() -> None:
    # WakeUp.install replaces `arq.worker.poll`; this must stay arq's call site.
    assert "async for _ in poll(self.poll_delay_s):" in inspect.getsource(arq.worker.Worker.main)


async def test_poll_iterates_at_once_when_woken() -> None:
    wakeup = WakeUp()
    loop = asyncio.get_running_loop()
    polls = wakeup.poll(step=10)
    await anext(polls)
    started = loop.time()
    loop.call_later(0.05, wakeup.wake)
    await anext(polls)
    assert 0.04 <= loop.time() - started < 1


async def test_poll_falls_back_to_its_step() -> None:
    wakeup = WakeUp()
    loop = asyncio.get_running_loop()
    polls = wakeup.poll(step=0.05)
    await anext(polls)
    started = loop.time()
    await anext(polls)
    assert 0.04 <= loop.time() - started < 1


def test_install_swaps_arqs_poll_and_its_undo_restores_it() -> None:
    original = arq.worker.poll  # type: ignore[attr-defined]
    wakeup = WakeUp()
    undo = wakeup.install()
    try:
        assert arq.worker.poll == wakeup.poll  # type: ignore[attr-defined]
    finally:
        undo()
    assert arq.worker.poll is original  # type: ignore[attr-defined]


async def test_a_new_job_cuts_the_gap_after_a_slot_is_freed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("jobqueue.worker.swaps.wakeup.SLOT_GAP_S", 30)
    wakeup = WakeUp()
    loop = asyncio.get_running_loop()
    polls = wakeup.poll(step=30)
    await anext(polls)
    wakeup.slot_freed()  # a job ended: the next poll waits for the gap...
    loop.call_later(0.05, wakeup.wake)  # ...unless a new job is published meanwhile
    started = loop.time()
    await anext(polls)
    assert loop.time() - started < 5


async def test_freed_slots_alone_wait_for_the_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("jobqueue.worker.swaps.wakeup.SLOT_GAP_S", 0.2)
    wakeup = WakeUp()
    loop = asyncio.get_running_loop()
    polls = wakeup.poll(step=30)
    await anext(polls)
    started = loop.time()
    wakeup.slot_freed()
    wakeup.slot_freed()
    await anext(polls)
    assert 0.15 <= loop.time() - started < 5
