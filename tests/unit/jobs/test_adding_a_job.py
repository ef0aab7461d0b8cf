"""The README's "Adding a job", followed as written: its module and its catalog edit work."""

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from asgi_lifespan import LifespanManager

from jobqueue.api.app import create_app
from jobqueue.jobs.declaration import JobDefinition, JobRegistry
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis

ROOT = Path(__file__).resolve().parents[3]


def readme_blocks() -> list[str]:
    section = (ROOT / "README.md").read_text().split("## Adding a job", 1)[1].split("\n## ", 1)[0]
    section = section.split("\n### ", 1)[0]  # (its steps, before "Schedules")
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def load(name: str, source: str, tmp_path: Path) -> ModuleType:
    path = tmp_path / f"{name.rpartition('.')[2]}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[ModuleType]:
    job_source, catalog_source = readme_blocks()
    load("jobqueue.jobs.resize", job_source, tmp_path)
    try:
        yield load("readme_catalog", catalog_source, tmp_path)
    finally:
        sys.modules.pop("jobqueue.jobs.resize")
        sys.modules.pop("readme_catalog")


def _shape(source: str) -> tuple[set[str], list[str]]:
    imports = {line for line in source.splitlines() if line.startswith("from jobqueue.jobs.")}
    listed = re.search(r"registry = JobRegistry\(\[(.*)\]\)", source)
    assert listed is not None
    return imports, listed[1].split(", ")


def test_the_catalog_edit_matches_the_real_catalog() -> None:
    """The README's version is the real file with `resize` added (whatever else you added)."""
    readme_imports, readme_jobs = _shape(readme_blocks()[1])
    real_imports, real_jobs = _shape((ROOT / "src/jobqueue/jobs/catalog.py").read_text())
    assert readme_imports - {"from jobqueue.jobs.resize import resize"} <= real_imports
    assert readme_jobs[:-1] == real_jobs[: len(readme_jobs) - 1]
    assert readme_jobs[-1] == "resize"


def test_the_new_job_is_declared_and_registered(catalog: ModuleType) -> None:
    registry: JobRegistry = catalog.registry
    resize = registry.get("resize")
    assert isinstance(resize, JobDefinition)
    assert (resize.max_tries, resize.timeout) == (4, 120)
    assert resize.description == "Resize an image and store it."


async def test_the_api_takes_the_new_job_and_validates_its_args(
    catalog: ModuleType, settings: Settings, redis: TrackedRedis
) -> None:
    app = create_app(settings, registry=catalog.registry, connect=lambda _: redis)
    transport = httpx.ASGITransport(app=app)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        ok = {"function": "resize", "args": {"image_url": "https://img.example/a.png", "width": 64}}
        assert (await client.post("/v1/jobs", json=ok)).status_code == 202
        bad = {"function": "resize", "args": {"image_url": "https://img.example/a.png", "width": 0}}
        response = await client.post("/v1/jobs", json=bad)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "args", "width"]
        names = [f["name"] for f in (await client.get("/v1/functions")).json()]
        assert "resize" in names
