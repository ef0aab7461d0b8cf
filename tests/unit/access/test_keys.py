"""API keys: tokens minted, hashed and matched; the keys file read whole or refused, naming the
entry and field; re-read on change; the `keys create` command's output is a usable entry."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobqueue.access import tokens
from jobqueue.access.cli import main as keys_main
from jobqueue.access.keyring import KeyringFile, KeysFileError, load, parse
from jobqueue.access.scopes import Scope, grants

ENTRY = """
[[keys]]
name = "billing"
hash = "{hash}"
scopes = ["jobs:read", "jobs:write"]
"""


def test_a_token_is_prefixed_random_and_matches_only_its_own_hash() -> None:
    token, other = tokens.mint(), tokens.mint()
    assert (token[:3], len(token)) == ("jq_", 46)
    assert token != other
    stored = tokens.hash_of(token)
    assert stored.startswith("sha256:")
    assert token not in stored
    assert tokens.matches(token, stored)
    assert not tokens.matches(other, stored)
    assert not tokens.matches(token + "x", stored)


def test_a_keys_file_authenticates_its_tokens_and_defaults_the_tenant_to_the_name() -> None:
    token = tokens.mint()
    keyring = parse(ENTRY.format(hash=tokens.hash_of(token)))
    key = keyring.authenticate(token)
    assert key is not None
    assert (key.name, key.tenant_name, key.rate_per_second) == ("billing", "billing", None)
    assert key.scopes == {Scope.jobs_read, Scope.jobs_write}
    assert keyring.authenticate(tokens.mint()) is None
    assert keyring.authenticate("") is None


def test_admin_grants_every_scope_and_others_only_their_own() -> None:
    assert all(grants(frozenset({Scope.admin}), scope) for scope in Scope)
    assert grants(frozenset({Scope.jobs_read}), Scope.jobs_read)
    assert not grants(frozenset({Scope.jobs_read}), Scope.jobs_write)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[[keys]\nname =", "is not TOML"),
        (ENTRY.format(hash="sha256:abc"), "key 1 ('billing'), hash"),
        (ENTRY.format(hash=tokens.hash_of("t")).replace("jobs:write", "jobs:all"), "scopes"),
        (ENTRY.format(hash=tokens.hash_of("t")).replace('"jobs:read", "jobs:write"', ""), "scopes"),
        (ENTRY.format(hash=tokens.hash_of("t")) + 'colour = "red"\n', "colour"),
        (
            ENTRY.format(hash=tokens.hash_of("a")) + ENTRY.format(hash=tokens.hash_of("b")),
            "two keys have the name",
        ),
        (
            ENTRY.format(hash=tokens.hash_of("a"))
            + ENTRY.format(hash=tokens.hash_of("a")).replace("billing", "other"),
            "two keys have the hash",
        ),
        (ENTRY.format(hash=tokens.hash_of("t")) + "rate_per_second = 0\n", "rate_per_second"),
    ],
    ids=[
        "not-toml",
        "bad-hash",
        "unknown-scope",
        "no-scope",
        "unknown-field",
        "same-name",
        "same-hash",
        "zero-rate",
    ],
)
def test_a_bad_keys_file_is_refused_whole_naming_the_problem(text: str, named: str) -> None:
    with pytest.raises(KeysFileError, match="the keys file") as refused:
        parse(text)
    assert named in str(refused.value)


def test_an_unreadable_keys_file_names_its_path(tmp_path: Path) -> None:
    with pytest.raises(KeysFileError, match=str(tmp_path / "missing.toml")):
        load(tmp_path / "missing.toml")


def test_a_changed_keys_file_is_read_again_and_a_bad_change_keeps_the_old_keys(
    tmp_path: Path,
) -> None:
    first, second = tokens.mint(), tokens.mint()
    path = tmp_path / "keys.toml"
    path.write_text(ENTRY.format(hash=tokens.hash_of(first)))
    keys = KeyringFile(path)
    assert not keys.reload()  # unchanged
    path.write_text(ENTRY.format(hash=tokens.hash_of(second)))
    os.utime(path, ns=(1, 1))  # (a new mtime, however fast the test ran)
    assert keys.reload()
    assert keys.current().authenticate(second) is not None
    assert keys.current().authenticate(first) is None
    path.write_text("not toml [")
    with pytest.raises(KeysFileError):
        keys.reload()
    assert keys.current().authenticate(second) is not None  # the last good keys stay
    assert not keys.reload()  # reported once, not again until the file changes


def test_keys_create_prints_the_token_then_an_entry_that_authenticates_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert keys_main(["create", "ops", "--scopes", "ops:read,admin", "--tenant", "t1"]) == 0
    token, *entry = capsys.readouterr().out.splitlines()
    key = parse("\n".join(entry)).authenticate(token)
    assert key is not None
    assert (key.name, key.tenant_name, key.scopes) == (
        "ops",
        "t1",
        frozenset({Scope.ops_read, Scope.admin}),
    )
    assert token not in "\n".join(entry)


def test_keys_create_refuses_an_unknown_scope_or_a_bad_name_with_exit_2() -> None:
    for args in (
        ["x", "--scopes", "jobs:red"],
        ["x", "--scopes", ""],
        ["bad name", "--scopes", "admin"],
        ["x", "--scopes", "admin", "--rate", "nan"],
    ):
        finished = subprocess.run(
            [sys.executable, "-m", "jobqueue", "keys", "create", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        assert finished.returncode == 2, finished.stderr
        assert finished.stdout == ""  # no token minted for nothing
        assert "error:" in finished.stderr


def test_a_minted_entry_always_names_its_tenant(capsys: pytest.CaptureFixture[str]) -> None:
    """A successor key (a new name) copied from it keeps the tenant, and so the jobs."""
    assert keys_main(["create", "billing", "--scopes", "jobs:read"]) == 0
    _, *entry = capsys.readouterr().out.splitlines()
    assert 'tenant = "billing"' in entry
