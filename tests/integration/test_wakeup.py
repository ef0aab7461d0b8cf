"""A new job starts at once, without waiting for the worker's next poll."""

from pathlib import Path

import httpx

from tests.helpers.services import Stack, service_env, start_api, start_worker


def test_a_new_job_wakes_an_idle_worker(stack: Stack, tmp_path: Path) -> None:
    # Its own queue and a 5 s poll delay: without wake-ups, a job would wait up to 5 s.
    env = {
        **service_env(stack.redis.url),
        "JOBQUEUE_QUEUE_NAME": "arq:sleepy",
        "JOBQUEUE_WORKER_POLL_DELAY": "5",
    }
    worker = start_worker(env, tmp_path, name="sleepy-worker")
    api, url = start_api(env, tmp_path, name="sleepy-api")
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            for _ in range(3):
                job = http.post("/v1/jobs", json={"function": "echo", "args": {"message": "x"}})
                done = http.get(f"/v1/jobs/{job.json()['job_id']}/result", params={"timeout": 3})
                assert (done.status_code, done.json()["status"]) == (200, "succeeded")
    finally:
        api.stop()
        worker.stop()
