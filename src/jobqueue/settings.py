"""Service settings, read from `JOBQUEUE_*` environment variables.

Only composition roots (`jobqueue.main`, `worker_settings.py`) build `Settings()` from the
environment; everything else receives the frozen instance.
"""

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from croniter import croniter
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from jobqueue.access.secrets import parse_keys

MiB = 1024 * 1024


class Settings(BaseSettings):
    # (hide_input_in_errors: a refused setting's error never prints its value, which may be a
    # key or a password)
    model_config = SettingsConfigDict(
        env_prefix="JOBQUEUE_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    # A secret: it may hold a password (`redis://:PASSWORD@host`); shown masked in any repr
    redis_url: SecretStr = SecretStr("redis://localhost:6379/0")
    queue_name: str = "arq:queue"  # arq's default queue (test_settings checks they agree)

    # Access (see jobqueue.access): keys are required unless auth is turned off explicitly
    auth: Literal["on", "off"] = Field(
        default="on",
        description="off: every request is an admin's (the API then serves loopback only)",
    )
    api_keys_file: Path | None = Field(
        default=None, description="the API keys (TOML); re-read on change and on SIGHUP"
    )
    allow_remote_without_auth: bool = Field(
        default=False, description="with auth off, let the API listen beyond loopback"
    )

    # API
    max_body_bytes: int = Field(default=1 * MiB, gt=0)
    redis_timeout: float = Field(default=2.0, gt=0, description="API: seconds per Redis call")
    redis_memory_high_water: float = Field(
        default=0.95, gt=0, le=1, description="enqueues get 503 past this fraction of maxmemory"
    )
    redis_max_connections: int = Field(
        default=200, gt=0, description="API: Redis connections at most (a request waits for one)"
    )
    max_queued: int = Field(default=1_000_000, gt=0, description="enqueues get 503 past this")
    header_timeout: float = Field(
        default=10.0, gt=0, description="seconds a client has to send a request's headers"
    )
    body_timeout: float = Field(
        default=30.0, gt=0, description="seconds a client has to send a request's body"
    )
    send_timeout: float = Field(
        default=30.0, gt=0, description="seconds a client may read none of a response we send"
    )
    max_header_bytes: int = Field(
        default=64 * 1024, ge=1024, description="a request's line and headers at most (431 past)"
    )
    max_connections: int = Field(
        default=4096, gt=0, description="open HTTP connections; a request past them gets 503"
    )
    max_streams: int = Field(
        default=2000,
        gt=0,
        description="API: SSE streams and waiting long-polls at once per process (503 past it)",
    )

    # Jobs
    result_ttl: int = Field(default=3600, gt=0, description="seconds a finished job stays readable")
    retry_base_delay: float = Field(default=1.0, ge=0)
    retry_max_delay: float = Field(default=300.0, ge=0)
    # `host` (any port) or `host:port` (that port only); IPv6 as `[::1]` or `[::1]:8080`
    webhook_allowed_hosts: Annotated[frozenset[str], NoDecode] = frozenset()

    # Secret job args (jobqueue.access.secrets): comma-separated Fernet keys; the first seals,
    # all unseal (rotation). Unset: a job that carries a secret is refused (422).
    secrets_key: SecretStr | None = None

    @field_validator("secrets_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parse_keys(value.get_secret_value())  # a malformed key stops start-up, naming its place
        return value

    # History: job records, their index and the event streams
    history_ttl: int = Field(default=7 * 86400, gt=0, description="seconds a job record is kept")
    history_max_jobs: int = Field(
        default=100_000, gt=0, description="finished jobs remembered at most (oldest go first)"
    )
    events_max_length: int = Field(default=100_000, gt=0)
    events_max_age: int = Field(default=86400, gt=0, description="seconds events are kept")

    # Worker
    worker_max_jobs: int = Field(default=100, gt=0)
    # One tenant's jobs at once per worker; unset: half of worker_max_jobs, rounded up
    worker_tenant_max_jobs: int | None = Field(default=None, gt=0)
    worker_poll_delay: float = Field(
        default=0.25, gt=0, description="new jobs wake workers at once; this bounds the rest"
    )
    worker_lease: float = Field(
        default=15.0, ge=1, description="seconds a running job's claim lasts unless renewed"
    )
    worker_stall_limit: int = Field(
        default=3, ge=0, description="runs of a job that may end with its worker dying"
    )
    worker_shutdown_grace: float = Field(
        default=20.0, gt=0, description="seconds running jobs get to finish on SIGTERM"
    )
    worker_health_check_interval: int = Field(default=10, gt=0)
    worker_heartbeat_interval: float = Field(default=2.0, gt=0)
    worker_liveness_window: float = Field(default=10.0, gt=0)
    worker_gone_retention: int = Field(
        default=3600, gt=0, description="seconds gone ones stay listed"
    )

    # Maintenance cron jobs (cron syntax; an optional 6th field is seconds)
    stats_schedule: str = "* * * * *"
    stats_history_length: int = Field(default=1440, gt=0)
    sweep_schedule: str = "*/5 * * * *"
    schedules_file: Path | None = Field(
        default=None, description="schedules of registered jobs (TOML), read at start"
    )

    # Logging
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    @field_validator("webhook_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, (list, tuple, set, frozenset)):
            return frozenset(allow_list_entry(str(h)) for h in value if str(h).strip())
        return value

    @field_validator("stats_schedule", "sweep_schedule")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"not a cron expression: {value!r}")
        return value

    @model_validator(mode="after")
    def _streams_leave_room_for_requests(self) -> "Settings":
        # Every stream holds a connection: at the connection cap no other request could be served.
        if self.max_streams >= self.max_connections:
            raise ValueError(
                f"max_streams ({self.max_streams}) must be below max_connections "
                f"({self.max_connections}): each stream holds one of the connections"
            )
        return self

    @property
    def worker_tenant_cap(self) -> int:
        """How many of one tenant's jobs a worker runs at once (`worker_tenant_max_jobs`)."""
        return self.worker_tenant_max_jobs or -(-self.worker_max_jobs // 2)

    @model_validator(mode="after")
    def _tenant_cap_within_worker(self) -> "Settings":
        # A cap above the worker's slots would read as a limit and limit nothing.
        if self.worker_tenant_cap > self.worker_max_jobs:
            raise ValueError(
                f"worker_tenant_max_jobs ({self.worker_tenant_cap}) must be at most "
                f"worker_max_jobs ({self.worker_max_jobs})"
            )
        return self

    @model_validator(mode="after")
    def _liveness_outlasts_beats(self) -> "Settings":
        # A worker refreshes its alive key every beat (or third of a lease); a window of fewer
        # than three would call a live worker gone after one late refresh and release its jobs.
        tick = min(self.worker_heartbeat_interval, self.worker_lease / 3)
        if self.worker_liveness_window < 3 * tick:
            raise ValueError(
                f"worker_liveness_window ({self.worker_liveness_window}) must be at least three "
                f"times how often a worker says it is alive: min(worker_heartbeat_interval, "
                f"worker_lease / 3) = {tick}"
            )
        return self


def canonical_host(host: str) -> str:
    """A URL's host as the allow-list spells it: lowercase, an IPv6 address bracketed and
    compressed, so `[::1]`, `::1` and `[0:0::1]` are one host."""
    bare = host.strip("[]").lower()
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return bare
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


def allow_list_entry(entry: str) -> str:
    """One `JOBQUEUE_WEBHOOK_ALLOWED_HOSTS` entry, canonical: `host` or `host:port`."""
    entry = entry.strip().lower()
    port = ""
    if entry.startswith("["):  # [v6] or [v6]:port
        host, closed, rest = entry[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise ValueError(f"not a host or host:port: {entry!r}")
        port = rest[1:]
        ipaddress.IPv6Address(host)  # raises ValueError naming it
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    else:  # a name, an IPv4 address or a bare IPv6 one
        host = entry
        if ":" in host:
            ipaddress.IPv6Address(host)  # (a port after an IPv6 address needs its brackets)
    if not host or any(c.isspace() or c in "/?#@" for c in host):
        raise ValueError(f"not a host or host:port: {entry!r}")
    if (port or entry.endswith(":")) and not (
        port.isascii() and port.isdigit() and 0 < int(port) < 65536
    ):
        raise ValueError(f"not a port (1-65535) in {entry!r}")
    return f"{canonical_host(host)}:{int(port)}" if port else canonical_host(host)
