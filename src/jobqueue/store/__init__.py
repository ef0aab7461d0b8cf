"""What is in Redis and how it gets there.

The only package that knows a Redis key name, an arq payload field, a Lua script or a private
attribute of arq or redis-py; everything else calls it and gets plain values back.

- `keys`: every key name, ours and arq's.
- `arq_format`: arq's job and result payloads, decoded (and the one rule for a job's outcome).
- `scripts`, `lua/`: the Lua scripts and the one helper that runs them.
- `connection`, `wire`: the process's pool; faster packing and readiness checks than redis-py 5.
- `client`: arq's `ArqRedis`, with every enqueue and every job end recorded (`TrackedRedis`);
  `recording`: what it asks of the history to do so (the `Recorder`).
- `enqueue`, `batching`: enqueueing in one script call, concurrent calls micro-batched.
- `transitions`, `claim`, `aborts`: the writes of a job's life after its enqueue (`claim`
  also renews a worker's leases).
- `outages`: Redis down or full, as the rest of the service sees it (`QueueUnavailable`);
  `capacity`: how full Redis and the queue are, checked before new work is accepted.
- `job_state`, `records`, `index`, `streams`: reading jobs, pages and events back;
  `malformed`: what they do with data neither we nor arq wrote so (skip it, log it).
- `statistics`, `heartbeats`, `sweeps`, `wakeups`: what operators and maintenance read and clean.

Replacements of arq's `Worker` internals are not here but in `jobqueue.worker.swaps`; the full
list of seams with arq and redis-py is in docs/seams.md.
"""
