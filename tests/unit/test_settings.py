import pytest
from pydantic import ValidationError

from jobqueue.settings import Settings
from jobqueue.store import keys


def test_defaults_match_the_documented_ones() -> None:
    settings = Settings()
    assert settings.redis_url.get_secret_value() == "redis://localhost:6379/0"
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.webhook_allowed_hosts == frozenset()


def test_reads_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBQUEUE_REDIS_URL", "redis://:hunter2@elsewhere:6390/2")
    monkeypatch.setenv("JOBQUEUE_RETRY_BASE_DELAY", "0.25")
    settings = Settings()
    assert settings.redis_url.get_secret_value() == "redis://:hunter2@elsewhere:6390/2"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings)
    assert settings.retry_base_delay == 0.25


def test_allowed_hosts_are_comma_separated_and_lowercased(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBQUEUE_WEBHOOK_ALLOWED_HOSTS", " Hooks.Internal ,127.0.0.1,,")
    assert Settings().webhook_allowed_hosts == frozenset({"hooks.internal", "127.0.0.1"})


def test_allowed_hosts_take_host_port_and_ipv6_literals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "JOBQUEUE_WEBHOOK_ALLOWED_HOSTS", "hooks.internal:8080,[::1]:9000,::1,[0:0::2],10.0.0.7:443"
    )
    assert Settings().webhook_allowed_hosts == frozenset(
        {"hooks.internal:8080", "[::1]:9000", "[::1]", "[::2]", "10.0.0.7:443"}
    )


@pytest.mark.parametrize(
    "entry", ["h:0", "h:65536", "h:x", "h:", "[::1", "[::1]x", "[zz]:80", "a:b:c", "a b"]
)
def test_a_malformed_allow_list_entry_stops_startup(
    monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    monkeypatch.setenv("JOBQUEUE_WEBHOOK_ALLOWED_HOSTS", f"127.0.0.1,{entry}")
    with pytest.raises(ValidationError, match="webhook_allowed_hosts"):
        Settings()


def test_rejects_an_invalid_cron_schedule() -> None:
    with pytest.raises(ValidationError, match="stats_schedule"):
        Settings(stats_schedule="every minute")


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.queue_name = "other"  # type: ignore[misc]


def test_the_default_queue_is_arqs() -> None:
    assert Settings().queue_name == keys.DEFAULT_QUEUE


def test_max_streams_must_stay_below_max_connections() -> None:
    """Each stream holds an HTTP connection: at the cap no other request could get one."""
    with pytest.raises(ValidationError, match="max_streams"):
        Settings(max_streams=100, max_connections=100)
    assert Settings(max_streams=99, max_connections=100).max_streams == 99


def test_a_tenant_gets_half_of_a_workers_slots_by_default() -> None:
    assert Settings().worker_tenant_cap == 50
    assert Settings(worker_max_jobs=5).worker_tenant_cap == 3  # (rounded up)
    assert Settings(worker_max_jobs=1).worker_tenant_cap == 1


def test_the_tenant_cap_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBQUEUE_WORKER_TENANT_MAX_JOBS", "7")
    assert Settings().worker_tenant_cap == 7


@pytest.mark.parametrize("cap", [0, -1, 101])
def test_a_tenant_cap_outside_the_workers_slots_is_refused(cap: int) -> None:
    with pytest.raises(ValidationError, match="worker_tenant_max_jobs"):
        Settings(worker_tenant_max_jobs=cap)
