"""schemathesis hooks for `scripts.fuzz` (loaded through `SCHEMATHESIS_HOOKS`).

A long-poll for a job that never finishes (no worker runs during the fuzz) waits its whole
`timeout`, up to 60 s: capped to 1 s here, so the fuzzer spends its time on requests, not on
waiting. Values it cannot read as a number (the fuzzer's wrong-type cases) go as generated.
"""

from typing import Any

import schemathesis

LONG_POLL_CAP_SECONDS = 1.0


@schemathesis.hook
def before_call(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: Any
) -> None:
    query = case.query
    if not case.path.endswith("/result") or not isinstance(query, dict):
        return
    try:
        wait = float(query.get("timeout", 0))
    except (TypeError, ValueError):
        return
    if wait > LONG_POLL_CAP_SECONDS:
        query["timeout"] = LONG_POLL_CAP_SECONDS
