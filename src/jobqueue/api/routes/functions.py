"""The registered jobs and their argument schemas."""

from fastapi import APIRouter

from jobqueue.access.scopes import Scope
from jobqueue.api.auth import GuardedRoute, guarded
from jobqueue.api.dependencies import RegistryDep
from jobqueue.api.schemas import FunctionInfo

router = APIRouter(prefix="/v1/functions", tags=["functions"], route_class=GuardedRoute)


@router.get("", response_model=list[FunctionInfo], **guarded(Scope.jobs_read))
async def list_functions(registry: RegistryDep) -> list[FunctionInfo]:
    return [
        FunctionInfo(
            name=d.name,
            description=d.description,
            args_schema=d.args_schema(),
            result_schema=d.result_model.model_json_schema() if d.result_model else None,
            max_tries=d.max_tries,
            timeout=d.timeout,
        )
        for d in registry
    ]
