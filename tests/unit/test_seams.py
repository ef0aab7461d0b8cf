"""Canaries for every seam with arq, redis-py and uvicorn (docs/seams.md): the source of each
library function the service replaces, observes or depends on privately is pinned by a hash, so an
upgrade that touches one fails here, naming the seam and the module of ours that relies on it.

When one fails: read the library's new source, check the module named still matches it (its
behavioural tests must pass too), then update the hash here and the version in docs/seams.md.
"""

import asyncio
import hashlib
import importlib
import inspect
from typing import Any

import arq
import arq.constants
import pytest
import redis
import uvicorn

# (library object, sha256 of its source (first 16 hex digits), our module, how it relies on it)
SEAMS = [
    ("arq.worker.Worker.start_jobs", "b45797cfa40bed7f", "jobqueue.worker.swaps.pickup",
     "replaced: claims a poll's jobs in one script call"),
    ("arq.worker.Worker._poll_iteration", "f8d39d823a0a59f2", "jobqueue.worker.swaps.pickup",
     "calls self.start_jobs(job_ids) with the first queue_read_limit due ids, in queue order"),
    ("arq.worker.Worker._poll_iteration", "f8d39d823a0a59f2", "jobqueue.worker.swaps.poll_guard",
     "wrapped: an error reply ends one poll, not the worker; calls _cancel_aborted_jobs"),
    ("arq.worker.Worker._cancel_aborted_jobs", "54575eaf8682f95b",
     "jobqueue.worker.swaps.poll_guard", "wrapped: a bad abort set stops only the abort check"),
    ("arq.worker.Worker._release_sem_dec_counter_on_complete", "0ed101482e942c33",
     "jobqueue.worker.swaps.pickup", "called as each claimed job's task ends"),
    ("arq.worker.Worker.__init__", "edfb0cd7e05e77cf", "jobqueue.worker.swaps.pickup",
     "sem, job_counter, tasks, in_progress_timeout_s, allow_abort_jobs, queue_read_limit as "
     "set here"),
    ("arq.worker.Worker.main", "45ca1591c9717466", "jobqueue.worker.swaps.wakeup",
     "looks up the module global `poll` after on_startup"),
    ("arq.utils.poll", "d8cc8542a1ab2bc3", "jobqueue.worker.swaps.wakeup",
     "replaced by WakeUp.poll, same contract (yield, then wait up to step)"),
    ("arq.worker.Worker.handle_sig_wait_for_completion", "8f161d86834cc74e",
     "jobqueue.worker.swaps.shutdown", "wrapped: stops claiming, then waits for the jobs"),
    ("arq.worker.Worker._wait_for_tasks_to_complete", "c186389a00b11500",
     "jobqueue.worker.swaps.shutdown", "waits job_completion_wait, then cancels jobs and main"),
    ("arq.worker.Worker.close", "5bcc9cb356680829", "jobqueue.worker.swaps.shutdown",
     "replaced: bounded waits and Redis calls, on_shutdown always"),
    ("arq.worker.Worker.run", "e683c7f402930145", "jobqueue.worker.swaps.shutdown",
     "runs main, then close, on the worker's loop"),
    ("arq.worker.Worker.run_job", "589a19059ff84ee7", "jobqueue.store.claim",
     "its opening pipeline is answered by the claim; its ends write arq:result in a MULTI"),
    ("arq.worker.Worker.finish_job", "903f09c92830d3fd", "jobqueue.store.client",
     "writes arq:result with SET in a MULTI (the recorder appends the transition)"),
    ("arq.worker.Worker.finish_failed_job", "3e16087f318a7acf", "jobqueue.store.client",
     "writes arq:result with SET in a MULTI (the recorder appends the transition)"),
    ("arq.connections.ArqRedis.enqueue_job", "7da8706a747c1171", "jobqueue.store.client",
     "replaced by TrackedRedis.enqueue_job: same arguments, rule and result"),
    ("arq.jobs.serialize_job", "1fc854cc50e16e5c", "jobqueue.store.arq_format",
     "the job payload's fields, decoded by decode_job"),
    ("arq.jobs.serialize_result", "709b9d4709d5aa08", "jobqueue.store.arq_format",
     "the result payload's fields, decoded by decode_result"),
    ("arq.cron.CronJob.calculate_next", "7f8bfac236ba13c1", "jobqueue.ops.crons",
     "computes a schedule's next run exactly as arq's scheduler will"),
    ("arq.worker.Worker.run_cron", "7d2d3784e6567fb2", "jobqueue.worker.schedules",
     "enqueues each due slot with self.pool.enqueue_job(name, _job_id='{name}:{slot ms}') "
     "(the planner's hook); a cron job's in-progress key outlives its run (keep_cronjob_progress)"),
    ("arq.cron.next_cron", "cab544d81f2da143", "jobqueue.worker.schedules",
     "names a slot as run_cron does (its microseconds), for the catch-up run's id"),
    ("arq.jobs.Job.__init__", "603facec0542139c", "jobqueue.store.client",
     "enqueue_job returns Job(id, redis, _queue_name=, _deserializer=) as arq's does"),
    ("redis.asyncio.client.Redis.aclose", "ab295a9c46c80ec1", "jobqueue.store.client",
     "closes the pool when auto_close_connection_pool is set (the client owns its pool)"),
    ("redis.asyncio.connection.BlockingConnectionPool.get_connection", "a938c5a6268444ec",
     "jobqueue.store.outages", "connects outside its lock; 'No connection available.' if busy"),
    ("redis.asyncio.connection.ConnectionPool.make_connection", "8cf7b1c965e60137",
     "jobqueue.store.client", "the circuit's probe makes a connection as the pool would"),
    ("redis._parsers.hiredis._AsyncHiredisParser", "78b06afb73a9578b", "jobqueue.store.wire",
     "subclassed: can_read_destructive reads _reader and _stream"),
    ("redis.asyncio.connection.ConnectionPool.ensure_connection", "e2790e7163da5032",
     "jobqueue.store.wire", "asks can_read_destructive on every checkout"),
    ("redis.asyncio.connection.AbstractConnection.pack_command", "9a0e503fdcf56314",
     "jobqueue.store.wire", "replaced by HiredisPacking.pack_command (same bytes)"),
    ("redis.asyncio.connection.AbstractConnection.pack_commands", "6a0fb874993fb2e4",
     "jobqueue.store.wire", "replaced by HiredisPacking.pack_commands (same bytes)"),
    ("redis.asyncio.connection.AbstractConnection.send_packed_command", "cad238c0be555d05",
     "jobqueue.store.wire", "replaced by CancellableWrites (asyncio.timeout for wait_for)"),
    ("redis.connection.HiredisRespSerializer.pack", "3edbf97297ce6873", "jobqueue.store.wire",
     "the C packer HiredisPacking uses"),
    ("redis.asyncio.client.Pipeline.execute", "f24e711d22008a5d", "jobqueue.store.client",
     "overridden by TrackedPipeline.execute, which reads command_stack first"),
    ("redis.asyncio.client.Pipeline.pipeline_execute_command", "9cee12030ed9ab4d",
     "jobqueue.store.client", "queues (args, options) on command_stack"),
    ("redis.asyncio.client.Pipeline.reset", "810efb8bd7dbab1a", "jobqueue.store.client",
     "ends a pipeline answered from prepared replies"),
    ("uvicorn.protocols.http.httptools_impl.HttpToolsProtocol.__init__",
     "4f08999410347141", "jobqueue.serving.slow_clients",
     "sets app (from the config), loop, connections, transport, cycle"),
    ("uvicorn.protocols.http.httptools_impl.HttpToolsProtocol.connection_made",
     "6efb565ff3d36b91", "jobqueue.serving.slow_clients",
     "adds the connection to connections (counted against max_connections)"),
    ("uvicorn.protocols.http.httptools_impl.HttpToolsProtocol.connection_lost",
     "c91a4c9bf2e29c55", "jobqueue.serving.slow_clients",
     "ends the request cycle (the app sees a disconnect); the deadline is disarmed first"),
    ("uvicorn.protocols.http.httptools_impl.HttpToolsProtocol.on_message_begin",
     "96d377fdc7c2baef", "jobqueue.serving.slow_clients",
     "called at a request's first byte (arms the header deadline)"),
    ("uvicorn.protocols.http.httptools_impl.HttpToolsProtocol.on_headers_complete",
     "1ea8589acfad92d8", "jobqueue.serving.slow_clients",
     "starts the request with self.app (swapped for the 503 past max_connections)"),
    ("uvicorn.protocols.http.httptools_impl.HttpToolsProtocol.on_message_complete",
     "1fbad42dc31fc01f", "jobqueue.serving.slow_clients",
     "called once the body is complete (disarms the body deadline)"),
    ("uvicorn.protocols.http.httptools_impl.HttpToolsProtocol.data_received",
     "010a7ae59a5d3b1a", "jobqueue.serving.slow_clients",
     "feeds the parser (the callbacks run inside it); our byte count wraps it"),
    ("uvicorn.protocols.http.httptools_impl.HttpToolsProtocol.pause_writing",
     "17a8fd215d96a13c", "jobqueue.serving.slow_clients",
     "called when the write buffer is full (arms the send deadline)"),
    ("uvicorn.protocols.http.httptools_impl.HttpToolsProtocol.resume_writing",
     "7844bbaa8cceb1ef", "jobqueue.serving.slow_clients",
     "called once it drains (disarms it)"),
    ("uvicorn.protocols.http.httptools_impl.HttpToolsProtocol.send_400_response",
     "ae5a4a3782b646fd", "jobqueue.serving.slow_clients",
     "how a malformed request is refused (replaced: JSON)"),
]  # fmt: skip

ARQ_KEYS = {  # arq's key names, which our Lua scripts and readers use
    "job_key_prefix": "arq:job:",
    "result_key_prefix": "arq:result:",
    "in_progress_key_prefix": "arq:in-progress:",
    "retry_key_prefix": "arq:retry:",
    "abort_jobs_ss": "arq:abort",
    "default_queue_name": "arq:queue",
}


def _resolve(path: str) -> Any:
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            found = getattr(found, name)
        return found
    raise ImportError(path)


@pytest.mark.parametrize(("seam", "digest", "module", "reliance"), SEAMS, ids=[s[0] for s in SEAMS])
def test_the_library_source_we_rely_on_is_unchanged(
    seam: str, digest: str, module: str, reliance: str
) -> None:
    source = inspect.getsource(_resolve(seam))
    actual = hashlib.sha256(source.encode()).hexdigest()[:16]
    assert actual == digest, (
        f"{seam} changed (arq {arq.VERSION}, redis-py {redis.__version__}): {module} relies on "
        f"it ({reliance}). Re-read it, check {module} still matches, then pin {actual!r} here."
    )


def test_the_pinned_library_versions_are_the_ones_installed() -> None:
    assert arq.VERSION == "0.28.0", "a new arq: re-check every seam in docs/seams.md"
    assert redis.__version__.startswith("5."), "a new redis-py: re-check docs/seams.md"
    assert uvicorn.__version__.startswith("0.54."), "a new uvicorn: re-check docs/seams.md"


def test_arqs_key_names_are_the_ones_our_scripts_use() -> None:
    assert {name: getattr(arq.constants, name) for name in ARQ_KEYS} == ARQ_KEYS


def test_the_closed_connection_message_is_redis_pys() -> None:
    """jobqueue.store.wire raises redis-py's own error for a closed connection."""
    from redis._parsers.socket import SERVER_CLOSED_CONNECTION_ERROR

    assert SERVER_CLOSED_CONNECTION_ERROR == "Connection closed by server."


async def test_asyncio_stream_reader_still_buffers_in_a_private_bytearray() -> None:
    """jobqueue.store.wire peeks at it, as redis-py 8 does."""
    reader = asyncio.StreamReader()
    reader.feed_data(b"x")
    assert reader._buffer == bytearray(b"x")  # type: ignore[attr-defined]
