"""The queue facade (fakeredis): what is particular to it beyond the routes' tests."""

from jobqueue.queue import EnqueueOptions, JobQueue
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis
from jobqueue.store.tenants import tenant_of
from tests.helpers.redis_data import plant_result


async def test_a_tenants_re_run_stays_that_tenants(redis: TrackedRedis, settings: Settings) -> None:
    queue = JobQueue(redis, settings)
    for job_id in ("acme~report", "system-job"):
        await queue.enqueue("echo", {"message": "hi"}, EnqueueOptions(job_id=job_id))
        await plant_result(redis, job_id, success=False, result=ValueError("boom"))
    tenant_rerun, _ = await queue.retry("acme~report")
    system_rerun, _ = await queue.retry("system-job")
    assert tenant_of(tenant_rerun.job_id) == "acme"  # (under acme's cap in the worker)
    assert tenant_rerun.retry_of == "acme~report"
    assert tenant_of(system_rerun.job_id) is None
