"""Time as the service stores it: epoch milliseconds (arq's unit), shown as ISO-8601 UTC."""

import time
from datetime import UTC, datetime


def now_ms() -> int:
    return int(time.time() * 1000)


def ms_to_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()
