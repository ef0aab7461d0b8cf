"""The API keys, from the TOML file named by `JOBQUEUE_API_KEYS_FILE`:

    [[keys]]
    name = "billing"                  # who: in audit lines and job views (never the token)
    hash = "sha256:…"                 # of the token (`python -m jobqueue keys create` prints it)
    scopes = ["jobs:read", "jobs:write"]
    tenant = "billing"                # optional: the name
    rate_per_second = 50              # optional: enqueues a second, bursts of twice that

A file that does not parse, or any entry that breaks a rule, is refused whole with a message
naming the file, the entry and the field: a half-read keys file would lock some clients out
silently. `KeyringFile.reload()` re-reads the file once it changes (its size, mtime or inode).
"""

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jobqueue.access import tokens
from jobqueue.access.scopes import Scope

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class KeysFileError(ValueError):
    """The keys file cannot be used; the message says where and why."""


class ApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    hash: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
    scopes: Annotated[frozenset[Scope], Field(min_length=1)]
    tenant: Name | None = None
    rate_per_second: Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)] | None = None

    @property
    def tenant_name(self) -> str:
        return self.tenant or self.name


class _KeysFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[ApiKey] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> "_KeysFile":
        for unique in ("name", "hash"):
            seen: set[str] = set()
            for key in self.keys:
                value = getattr(key, unique)
                if value in seen:
                    shown = value if unique == "name" else f"{value[:15]}…"
                    raise ValueError(f"two keys have the {unique} {shown!r}")
                seen.add(value)
        return self


@dataclass(frozen=True)
class Keyring:
    keys: tuple[ApiKey, ...]
    _by_hash: dict[str, ApiKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_hash", {key.hash: key for key in self.keys})

    def authenticate(self, token: str) -> ApiKey | None:
        """The key `token` belongs to: one hash and one lookup, whatever the number of keys.
        (A lookup's timing could at most tell an attacker about the SHA-256 of tokens they
        chose, which leads to no stored token: its 256 random bits are not guessable.)"""
        return self._by_hash.get(tokens.hash_of(token))

    def by_hash(self, key_hash: str) -> ApiKey | None:
        """The key stored with `key_hash` (a dashboard session's), if it is still in force."""
        return self._by_hash.get(key_hash)


def parse(text: str, source: str = "the keys file") -> Keyring:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KeysFileError(f"{source} is not TOML: {exc}") from None
    try:
        parsed = _KeysFile.model_validate(raw)
    except ValidationError as exc:
        raise KeysFileError(f"{source}: {_first_problem(exc, raw)}") from None
    return Keyring(tuple(parsed.keys))


def _first_problem(exc: ValidationError, raw: dict[str, object]) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    loc = error["loc"]
    entries = raw.get("keys")
    if len(loc) >= 2 and loc[0] == "keys" and isinstance(loc[1], int) and isinstance(entries, list):
        entry = entries[loc[1]] if loc[1] < len(entries) else None
        named = entry.get("name") if isinstance(entry, dict) else None
        where = f"key {loc[1] + 1}" + (f" ({named!r})" if isinstance(named, str) else "")
        if len(loc) > 2:
            where += f", {loc[2]}"
    return f"{where}: {error['msg']}" if where else error["msg"]


def load(path: Path) -> Keyring:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeysFileError(f"cannot read the keys file {path}: {exc}") from None
    return parse(text, str(path))


class KeyringFile:
    """The keys file's current keys, re-read when it changes; a change that does not parse is
    reported (`KeysFileError` from `reload`) and the keys read last stay in force."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = self._stat()
        self._keyring = load(path)

    def _stat(self) -> tuple[int, int, int]:
        try:
            stat = os.stat(self.path)
        except OSError:
            return (-1, -1, -1)  # gone (or unreadable): `load` says why, once
        return (stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def current(self) -> Keyring:
        return self._keyring

    def reload(self, *, force: bool = False) -> bool:
        """Re-read the file if it changed (or `force`: SIGHUP); True if new keys are in force."""
        stamp = self._stat()
        if stamp == self._stamp and not force:
            return False
        self._stamp = stamp  # (a bad file is reported once, not again until it changes)
        self._keyring = load(self.path)  # raises, leaving the old keys, if the new file is bad
        return True
