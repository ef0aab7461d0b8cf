"""compose.yaml, the Dockerfile and the README agree with each other and with the code."""

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from jobqueue.access import cli
from jobqueue.access.keyring import parse
from jobqueue.access.scopes import Scope
from jobqueue.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
API_COMMAND = "python -m jobqueue serve"
WORKER_COMMAND = "arq worker_settings.WorkerSettings"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    found: dict[str, Any] = compose["services"]
    return found


def command(service: dict[str, Any]) -> str:
    return " ".join(service["command"])


def test_compose_runs_redis_api_and_worker(services: dict[str, Any]) -> None:
    assert set(services) == {"redis", "api", "worker"}


def test_api_and_worker_share_one_image_built_from_the_dockerfile(
    services: dict[str, Any],
) -> None:
    assert services["api"]["image"] == services["worker"]["image"]
    assert services["api"]["build"] == services["worker"]["build"] == "."
    assert (ROOT / "Dockerfile").exists()


def test_commands_match_the_readme(services: dict[str, Any]) -> None:
    assert command(services["api"]).startswith(API_COMMAND)
    assert command(services["worker"]) == WORKER_COMMAND
    assert API_COMMAND in README
    assert WORKER_COMMAND in README
    assert "docker compose up" in README
    assert "make run" in README
    assert "make test" in README


def test_redis_keeps_jobs_and_never_evicts_them(services: dict[str, Any]) -> None:
    redis_command = command(services["redis"])
    assert "--appendonly yes" in redis_command
    assert "--maxmemory-policy noeviction" in redis_command


def test_every_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    assert "ping" in services["redis"]["healthcheck"]["test"]
    assert "/healthz" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["worker"]["healthcheck"]["test"][1:] == [
        "arq",
        "--check",
        "worker_settings.WorkerSettings",
    ]
    interval = int(services["worker"]["environment"]["JOBQUEUE_WORKER_HEALTH_CHECK_INTERVAL"])
    assert interval < int(services["worker"]["healthcheck"]["interval"].rstrip("s"))


def test_api_and_worker_are_wired_to_the_redis_service(services: dict[str, Any]) -> None:
    for name in ("api", "worker"):
        env = services[name]["environment"]
        assert env["JOBQUEUE_REDIS_URL"] == "redis://redis:6379/0"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_the_readme_configuration_table_lists_every_setting_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `(JOBQUEUE_[A-Z_]+)` \| ([^|]+) \|", README, flags=re.M))
    for name, field in Settings.model_fields.items():
        variable = f"JOBQUEUE_{name.upper()}"
        assert variable in rows, f"{variable} is missing from the README's configuration table"
        documented = rows[variable].strip().strip("`")
        default = field.default
        if isinstance(default, SecretStr):  # (its default holds no secret)
            default = default.get_secret_value()
        if isinstance(default, frozenset):
            assert not default
            assert documented == "*(empty)*"
        elif default is None:
            assert documented == "*(unset)*", f"{variable}: README says {documented!r}"
        else:
            assert documented == str(default), f"{variable}: README says {documented!r}"
    assert len(rows) == len(Settings.model_fields)


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M)
    assert "apt-get install" in ci


def test_the_installed_package_carries_every_lua_script() -> None:
    """The image runs `pip install .` (not editable): the scripts must be package data."""
    package = ROOT / "src" / "jobqueue"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = project["tool"]["setuptools"]["package-data"]["jobqueue"]
    shipped = {path for pattern in globs for path in package.glob(pattern)}
    assert set(package.rglob("*.lua")) <= shipped


def test_compose_runs_the_api_with_keys_and_on_loopback_only(services: dict[str, Any]) -> None:
    api = services["api"]
    assert api["environment"]["JOBQUEUE_API_KEYS_FILE"] == "/run/secrets/jobqueue_keys"
    assert "JOBQUEUE_AUTH" not in api["environment"]  # on, the default
    assert api["secrets"] == ["jobqueue_keys"]
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert compose["secrets"]["jobqueue_keys"]["file"] == "${JOBQUEUE_KEYS_TOML:-./keys.toml}"
    assert api["ports"] == ["127.0.0.1:8000:8000"]
    assert "keys.toml" in (ROOT / ".gitignore").read_text().split()


def test_the_compose_keys_file_recipe_makes_a_file_the_api_reads(
    capsys: pytest.CaptureFixture[str],
) -> None:
    recipe = "python -m jobqueue keys create admin --scopes admin | tail -n +2 > keys.toml"
    assert recipe in README
    assert recipe in (ROOT / "compose.yaml").read_text()
    assert cli.main(["create", "admin", "--scopes", "admin"]) == 0
    token, *entry = capsys.readouterr().out.splitlines()
    keyring = parse("\n".join(entry))  # what `tail -n +2` keeps
    found = keyring.authenticate(token)
    assert found is not None
    assert found.scopes == {Scope.admin}


def test_compose_gives_the_api_and_the_worker_the_same_secrets_key(
    services: dict[str, Any],
) -> None:
    for name in ("api", "worker"):
        assert services[name]["environment"]["JOBQUEUE_SECRETS_KEY"] == (
            "${JOBQUEUE_SECRETS_KEY:-}"
        )
    assert 'echo "JOBQUEUE_SECRETS_KEY=$(python -m jobqueue secrets-key)" >> .env' in README
