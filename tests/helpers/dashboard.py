"""For the dashboard's in-process tests: API keys written to a keys file, and the CSRF token a
page carries."""

from pathlib import Path
from typing import Any

from jobqueue.access import tokens
from jobqueue.access.cli import entry
from jobqueue.access.keyring import ApiKey
from jobqueue.access.scopes import Scope


def key(name: str, token: str, *scopes: Scope, **extra: Any) -> ApiKey:
    return ApiKey(name=name, hash=tokens.hash_of(token), scopes=frozenset(scopes), **extra)


def write_keys(path: Path, *keys: ApiKey) -> Path:
    path.write_text("\n\n".join(entry(k) for k in keys) + "\n")
    return path


def csrf_of(page: str) -> str:
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
