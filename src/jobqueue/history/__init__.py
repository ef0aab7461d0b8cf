"""What the service remembers about each job, beyond arq's keys (which go an hour after the end).

- `vocabulary`: the one set of statuses and event types (Lua scripts receive them as arguments).
- `view`: the public shape of a job.
- `tracker`: the transitions a job goes through, written as it goes.
- `records`, `lookup`: one job's view, from its record and from arq's keys.
- `pages`: listing by status and function, newest first, with cursors.
- `streams`: the per-job and global event streams, replayed and followed live.

Everything Redis-level (key names, scripts, arq's payloads) is in `jobqueue.store`.
"""
