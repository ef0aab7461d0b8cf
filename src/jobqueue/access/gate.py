"""The API's door: which key a request carries, whether it may do what it asks, and how fast.

Built once at start-up from the settings (`Gate.from_settings`), which refuses to build one
without a keys file unless auth is turned off explicitly. The keys file is re-read when it
changes (checked once a second, by `watch`) and on SIGHUP (`reload(force=True)`);
a file that does not parse is reported and the keys read last stay in force.
"""

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from jobqueue.access.keyring import KeyringFile, KeysFileError
from jobqueue.access.principal import ANONYMOUS, Principal
from jobqueue.access.rate_limit import BURST_SECONDS, RateLimits
from jobqueue.access.scopes import Scope
from jobqueue.errors import Forbidden, RateLimited, Unauthenticated
from jobqueue.settings import Settings

log = structlog.get_logger("jobqueue.access")

RECHECK_SECONDS = 1.0
NO_KEYS = (
    "JOBQUEUE_API_KEYS_FILE is not set, and the API does not serve without API keys.\n"
    "Create a key:  python -m jobqueue keys create admin --scopes admin\n"
    "  (it prints the token on its first line: keep it; add the lines after it to a keys file)\n"
    "then:          JOBQUEUE_API_KEYS_FILE=/path/to/keys.toml python -m jobqueue serve\n"
    "Or, to run without keys (every request an admin's; loopback only): JOBQUEUE_AUTH=off"
)


class AccessMisconfigured(Exception):
    """The API must not start: the message says why and what to set."""


class Gate:
    def __init__(
        self, keys: KeyringFile | None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._keys = keys  # None: auth is off
        self.rate_limits = RateLimits(clock)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Gate":
        if settings.auth == "off":
            return cls(None)
        if settings.api_keys_file is None:
            raise AccessMisconfigured(NO_KEYS)
        try:
            keys = KeyringFile(Path(settings.api_keys_file))
        except (KeysFileError, OSError) as exc:
            raise AccessMisconfigured(f"the API keys cannot be read: {exc}") from None
        return cls(keys)

    @property
    def auth_on(self) -> bool:
        return self._keys is not None

    def reload(self, *, force: bool = False) -> None:
        """Re-read the keys file if it changed (or `force`), logging `audit.keys_reload`."""
        if self._keys is None:
            return
        try:
            changed = self._keys.reload(force=force)
        except (KeysFileError, OSError) as exc:
            log.error(
                "audit.keys_reload", outcome="refused", error=str(exc), kept="the keys read last"
            )
            return
        if changed:
            keys = self._keys.current().keys
            log.info("audit.keys_reload", outcome="ok", keys=len(keys), forced=force)

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal an `Authorization` header names; `Unauthenticated` if none."""
        if self._keys is None:
            return ANONYMOUS
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated(
                "an API key is required: send `Authorization: Bearer <token>`", token_given=False
            )
        key = self._keys.current().authenticate(token)
        if key is None:
            raise Unauthenticated("the API key is not valid (unknown or revoked)", token_given=True)
        return Principal.of(key)

    def principal_of_key(self, key_hash: str) -> Principal | None:
        """The principal of the key stored with `key_hash`, unless it has been removed from the
        keys file since (a dashboard session ends with its key); auth off: anyone."""
        if self._keys is None:
            return ANONYMOUS
        key = self._keys.current().by_hash(key_hash)
        return Principal.of(key) if key is not None else None

    @staticmethod
    def require(principal: Principal, scope: Scope) -> None:
        """`Forbidden`, naming `scope`, unless the principal holds it."""
        if not principal.may(scope):
            held = ", ".join(sorted(principal.scopes))
            raise Forbidden(
                f"the API key {principal.name!r} lacks the scope {scope.value!r} "
                f"(it has: {held}; `admin` holds every scope)"
            )

    async def watch(self) -> None:
        """Re-read the keys file whenever it changes, checking every `RECHECK_SECONDS`, until
        cancelled (the API's lifespan runs it)."""
        while self._keys is not None:
            await asyncio.sleep(RECHECK_SECONDS)
            self.reload()

    def charge(self, principal: Principal, jobs: int = 1) -> None:
        """Count `jobs` enqueues against the key's rate; `RateLimited` past it. (A batch over
        the key's burst could never pass: the route refuses it first, see `burst_of`.)"""
        rate = principal.rate_per_second
        if rate is None:
            return
        wait = self.rate_limits.take(principal.name, rate, jobs)
        if wait > 0:
            raise RateLimited(
                f"the key {principal.name!r} is over its rate of {rate:g} enqueues a second "
                f"(bursts of {burst_of(principal)})",
                retry_after=wait,
            )


def burst_of(principal: Principal) -> int | None:
    """The most enqueues the key may send at once, or None if it has no rate limit."""
    rate = principal.rate_per_second
    return None if rate is None else max(1, int(rate * BURST_SECONDS))
