"""The gate's rules without processes: tokens read, scopes checked, buckets refilled, and the
loopback check of `serve` with auth off."""

import socket
from pathlib import Path

import pytest

from jobqueue.access import tokens
from jobqueue.access.cli import entry
from jobqueue.access.gate import AccessMisconfigured, Gate, burst_of
from jobqueue.access.keyring import ApiKey, KeyringFile
from jobqueue.access.principal import ANONYMOUS, Principal
from jobqueue.access.rate_limit import TokenBucket
from jobqueue.access.scopes import Scope
from jobqueue.errors import Forbidden, RateLimited, Unauthenticated
from jobqueue.serving import bind_check
from jobqueue.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def token() -> str:
    return tokens.mint()


@pytest.fixture
def gate(tmp_path: Path, token: str) -> Gate:
    key = ApiKey(name="reader", hash=tokens.hash_of(token), scopes=frozenset({Scope.jobs_read}))
    (tmp_path / "keys.toml").write_text(entry(key))
    return Gate(KeyringFile(tmp_path / "keys.toml"))


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer  ", "Basic abc", "jq_x"])
def test_no_bearer_token_is_401_asking_for_one(gate: Gate, header: str | None) -> None:
    with pytest.raises(Unauthenticated) as raised:
        gate.authenticate(header)
    assert raised.value.headers == {"WWW-Authenticate": "Bearer"}


def test_an_unknown_token_is_401_invalid_token(gate: Gate) -> None:
    with pytest.raises(Unauthenticated) as raised:
        gate.authenticate(f"Bearer {tokens.mint()}")
    assert raised.value.headers == {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def test_a_known_token_is_its_key_and_the_scheme_is_case_blind(gate: Gate, token: str) -> None:
    principal = gate.authenticate(f"bearer {token}")
    assert (principal.name, principal.tenant) == ("reader", "reader")
    assert principal.scopes == frozenset({Scope.jobs_read})
    gate.require(principal, Scope.jobs_read)
    with pytest.raises(Forbidden, match="lacks the scope 'jobs:write'"):
        gate.require(principal, Scope.jobs_write)


def test_admin_holds_every_scope() -> None:
    admin = Principal("root", "root", frozenset({Scope.admin}))
    for scope in Scope:
        Gate.require(admin, scope)


def test_auth_off_is_an_anonymous_admin_and_needs_no_keys() -> None:
    gate = Gate.from_settings(Settings(auth="off"))
    assert not gate.auth_on
    assert gate.authenticate(None) is ANONYMOUS
    assert ANONYMOUS.is_admin


def test_auth_on_without_a_keys_file_refuses_saying_how_to_make_one() -> None:
    with pytest.raises(AccessMisconfigured, match="python -m jobqueue keys create"):
        Gate.from_settings(Settings())


def test_a_missing_keys_file_refuses_naming_it(tmp_path: Path) -> None:
    with pytest.raises(AccessMisconfigured, match=r"absent\.toml"):
        Gate.from_settings(Settings(api_keys_file=tmp_path / "absent.toml"))


def test_a_deleted_keys_file_keeps_the_keys_read_last(
    gate: Gate, token: str, tmp_path: Path
) -> None:
    (tmp_path / "keys.toml").unlink()
    gate.reload(force=True)
    assert gate.authenticate(f"Bearer {token}").name == "reader"


def test_a_bucket_holds_twice_its_rate_and_refills_at_it() -> None:
    clock = Clock()
    bucket = TokenBucket(2, clock)
    assert [bucket.take() for _ in range(4)] == [0.0] * 4
    assert bucket.take() == pytest.approx(0.5)  # one token comes back in half a second
    clock.now += 0.5
    assert bucket.take() == 0.0
    assert bucket.take(5) == float("inf")  # more than it ever holds


def test_a_slow_rate_still_lets_one_enqueue_through() -> None:
    bucket = TokenBucket(0.1, Clock())
    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(10)
    assert burst_of(Principal("slow", "slow", frozenset(), 0.1)) == 1


def test_charge_is_429_with_a_whole_second_retry_after() -> None:
    clock = Clock()
    gate = Gate(None, clock=clock)
    limited = Principal("limited", "t", frozenset({Scope.jobs_write}), rate_per_second=1)
    gate.charge(limited, 2)
    with pytest.raises(RateLimited) as raised:
        gate.charge(limited)
    assert raised.value.headers == {"Retry-After": "1"}
    gate.charge(Principal("free", "t", frozenset()), 10_000)  # no rate: no limit


@pytest.mark.parametrize(
    ("args", "beyond"),
    [
        ([], None),
        (["--host", "127.0.0.1"], None),
        (["--host=::1"], None),
        (["--host", "localhost"], None),
        (["--uds", "run/api.sock"], None),
        (["--host", "0.0.0.0"], "0.0.0.0"),  # noqa: S104
        (["--host", "::"], "::"),
        (["--host=192.168.1.5"], "192.168.1.5"),
        (["--host", "api.example.com"], "api.example.com"),
        (["--host", "127.0.0.1", "--host", "0.0.0.0"], "0.0.0.0"),  # noqa: S104 (the last wins)
        (["--host=0.0.0.0", "--host", "127.0.0.1"], None),
    ],
)
def test_serve_with_auth_off_listens_on_loopback_only(args: list[str], beyond: str | None) -> None:
    assert bind_check.listening_beyond_loopback(args) == beyond
    refused = bind_check.refusal(args, auth_off=True, allow_remote=False)
    assert (refused is not None) == (beyond is not None)
    assert bind_check.refusal(args, auth_off=True, allow_remote=True) is None
    assert bind_check.refusal(args, auth_off=False, allow_remote=False) is None


def test_an_inherited_socket_is_judged_by_its_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UVICORN_HOST", raising=False)
    with socket.socket() as loopback:
        loopback.bind(("127.0.0.1", 0))
        assert bind_check.listening_beyond_loopback(["--fd", str(loopback.fileno())]) is None
    with socket.socket() as everywhere:
        everywhere.bind(("0.0.0.0", 0))  # noqa: S104 (never listens)
        assert bind_check.listening_beyond_loopback(["--fd", str(everywhere.fileno())]) == (
            "0.0.0.0"  # noqa: S104
        )
