"""(to come)"""

from fastapi import APIRouter

from jobqueue.dashboard.pages import PREFIX

router = APIRouter(prefix=PREFIX, include_in_schema=False)
