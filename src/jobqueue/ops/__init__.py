"""What operators see: queue depth and throughput, workers, cron schedules, Prometheus metrics.

`Operations` is the facade the operator routes call (as `jobqueue.queue.JobQueue` is for jobs).
"""
