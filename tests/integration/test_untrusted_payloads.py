"""A pickle planted in Redis is never unpickled: the job fails cleanly and the API answers."""

import pickle
import time
import uuid
from pathlib import Path

import httpx
import redis

from tests.helpers.api import outcome


class _Exploit:
    """Unpickling this runs `touch <marker>`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, (f"touch {self.marker}",))


async def test_a_planted_pickle_job_is_never_executed(
    api: httpx.AsyncClient, redis_client: redis.Redis, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    job_id = f"planted-{uuid.uuid4().hex[:8]}"
    payload = pickle.dumps(
        {"t": 1, "f": "echo", "a": [], "k": {"x": _Exploit(marker)}, "et": int(time.time() * 1000)}
    )
    redis_client.set(f"arq:job:{job_id}", payload)
    redis_client.zadd("arq:queue", {job_id: time.time() * 1000 + 3_600_000})

    before = await api.get(f"/v1/jobs/{job_id}")
    assert before.status_code == 200
    assert before.json()["error"]["type"] == "DeserializationError"

    redis_client.zadd("arq:queue", {job_id: time.time() * 1000})  # due now: the worker takes it
    done = await outcome(api, job_id)
    assert done["status"] == "failed"
    assert done["error"]["type"] == "DeserializationError"
    assert not marker.exists()


async def test_a_planted_pickle_result_is_reported_not_a_500(
    api: httpx.AsyncClient, redis_client: redis.Redis, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    job_id = f"planted-result-{uuid.uuid4().hex[:8]}"
    redis_client.set(f"arq:result:{job_id}", pickle.dumps({"r": _Exploit(marker)}))
    response = await api.get(f"/v1/jobs/{job_id}")
    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert "Traceback" not in response.text
    assert not marker.exists()
