"""A live feed ends once its session does: the dashboard's streams look at the session again
(every `RECHECK_SECONDS`) before they send a batch, and stop when it has ended or lost
`jobs:read`; an `after` that is not a stream id is refused as the API refuses one."""

from collections.abc import AsyncGenerator
from types import SimpleNamespace
from typing import Any

import pytest

from jobqueue.access.principal import Principal
from jobqueue.access.scopes import Scope
from jobqueue.dashboard.routes import events
from jobqueue.dashboard.sessions import Viewer
from jobqueue.history.streams import Event

READER = Viewer(Principal("reader", "acme", frozenset({Scope.jobs_read})), "csrf")
WATCHER = Viewer(Principal("watcher", "acme", frozenset({Scope.ops_read})), "csrf")


class Sessions:
    def __init__(self, *answers: Viewer | None) -> None:
        self.answers = list(answers)

    async def viewer(self, request: Any) -> Viewer | None:
        return self.answers.pop(0)


def request_with(sessions: Sessions) -> Any:
    services = SimpleNamespace(sessions=sessions)
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(services=services)))


async def batches(count: int) -> AsyncGenerator[list[Event], None]:
    for n in range(count):
        yield [Event(id=f"{n}-0", type="progress", data={"job_id": "a"})]


@pytest.fixture(autouse=True)
def every_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "RECHECK_SECONDS", 0.0)


@pytest.mark.parametrize("gone", [None, WATCHER], ids=["session-ended", "scope-lost"])
async def test_a_feed_stops_once_its_session_has_ended(gone: Viewer | None) -> None:
    checked = events._while_signed_in(request_with(Sessions(READER, READER, gone)))
    sent = [batch async for batch in checked(batches(10))]
    assert [b[0].id for b in sent] == ["0-0", "1-0"]


async def test_a_feed_goes_on_while_its_session_lasts() -> None:
    checked = events._while_signed_in(request_with(Sessions(*[READER] * 5)))
    assert len([batch async for batch in checked(batches(5))]) == 5


@pytest.mark.parametrize("after", ["nope", "1" * 5000 + "-0", "1-2-3", "-1-0"])
def test_an_after_that_is_not_a_stream_id_is_refused(after: str) -> None:
    request: Any = SimpleNamespace(headers={})
    with pytest.raises(ValueError, match="after must be a stream id"):
        events._resume(request, after)
