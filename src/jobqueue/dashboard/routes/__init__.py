"""The dashboard's routes, a module a page (none in OpenAPI: they are not the API)."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from jobqueue.dashboard.pages import PREFIX
from jobqueue.dashboard.routes import enqueue, events, jobs, overview, schedules, session, workers

STATIC = Path(__file__).parent.parent / "static"


def install_dashboard(app: FastAPI) -> None:
    for module in (session, overview, jobs, events, enqueue, schedules, workers):
        app.include_router(module.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="dashboard-static")
