"""The tree keeps its shape: what only `store/` may know, what only `worker/swaps/` may do."""

import ast
import re
from pathlib import Path

import pytest

from jobqueue.history.vocabulary import EventType, JobStatus, StoredStatus

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "jobqueue"
STORE = PACKAGE / "store"
SWAPS = PACKAGE / "worker" / "swaps"
MODULES = sorted(PACKAGE.rglob("*.py"))
KEY_LITERAL = re.compile(r"^(arq|jobqueue):[a-z]")
PRIVATE_IMPORTS = ("arq.constants", "redis._parsers")


def _outside(folder: Path) -> list[Path]:
    return [m for m in MODULES if not m.is_relative_to(folder)]


def _name(module: Path) -> str:
    return str(module.relative_to(PACKAGE))


# The settings' default queue name is configuration (a leaf module may not import the store).
KEY_LITERAL_ALLOWED = {("settings.py", "arq:queue")}
REDIS_CALLS = {"pipeline", "execute_command", "ping", "evalsha", "eval", "pubsub"}


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""]
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return []


@pytest.mark.parametrize("module", _outside(STORE), ids=_name)
def test_only_store_knows_key_names_and_library_internals(module: Path) -> None:
    for node in ast.walk(ast.parse(module.read_text())):
        for name in _imported(node):
            assert not name.startswith(PRIVATE_IMPORTS), f"imports {name}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if (_name(module), node.value) not in KEY_LITERAL_ALLOWED:
                assert not KEY_LITERAL.match(node.value), f"spells a Redis key: {node.value!r}"
            assert "redis.call" not in node.value, "holds a Lua script"


@pytest.mark.parametrize("module", _outside(STORE), ids=_name)
def test_only_store_sends_redis_commands(module: Path) -> None:
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in REDIS_CALLS, f"calls .{node.func.attr}()"


ARQ_OBJECTS = ("arq", "Worker", "ArqRedis")


@pytest.mark.parametrize("module", _outside(SWAPS), ids=_name)
def test_only_the_swaps_replace_parts_of_arq(module: Path) -> None:
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr":
            target = ast.unparse(node.args[0])
            assert not target.startswith(ARQ_OBJECTS), f"patches {target}"
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for assigned in targets:
                if isinstance(assigned, ast.Attribute):
                    owner = ast.unparse(assigned.value)
                    assert not owner.startswith(ARQ_OBJECTS), f"patches {ast.unparse(assigned)}"


@pytest.mark.parametrize("script", sorted((STORE / "lua").glob("*.lua")), ids=lambda p: p.name)
def test_lua_scripts_get_the_vocabulary_as_arguments(script: Path) -> None:
    words = {*StoredStatus, *JobStatus, *EventType}
    quoted = set(re.findall(r"""['"]([a-z_]+)['"]""", script.read_text()))
    assert not quoted & words, f"spells {sorted(quoted & words)}"


def test_at_most_ten_modules_stay_flat() -> None:
    flat = [m.name for m in PACKAGE.glob("*.py") if m.name != "__init__.py"]
    assert len(flat) <= 10, flat


STORE_MAY_IMPORT = (
    "jobqueue.store",
    "jobqueue.settings",
    "jobqueue.serialization",
    "jobqueue.clock",
    "jobqueue.errors",
    "jobqueue.history.vocabulary",
)


@pytest.mark.parametrize("module", sorted(STORE.rglob("*.py")), ids=_name)
def test_store_depends_on_nothing_of_ours_but_settings_codec_and_vocabulary(module: Path) -> None:
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jobqueue"):
            assert str(node.module).startswith(STORE_MAY_IMPORT), f"imports {node.module}"
