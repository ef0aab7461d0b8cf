-- wrk: every request enqueues a new echo job.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"function": "echo", "args": {"message": "hello"}}'
