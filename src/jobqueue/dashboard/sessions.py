"""Dashboard sessions: who is looking, from the session cookie.

Logging in with a key starts a session: a random cookie (`jq_session`, HttpOnly,
SameSite=Strict, Secure over HTTPS), stored in Redis under its SHA-256 with the key's hash and
a CSRF token, for `SESSION_TTL_S`. Each request re-reads the key from the keys file by its
hash, so a session ends as soon as its key is removed. With auth off, a visitor gets a session
of its own at once (no login), so that actions still need the page's CSRF token.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request

from jobqueue.access import tokens
from jobqueue.access.gate import Gate
from jobqueue.access.principal import Principal
from jobqueue.access.scopes import Scope
from jobqueue.store import sessions
from jobqueue.store.client import TrackedRedis
from jobqueue.store.outages import Circuit, unavailable_on_outage

COOKIE = "jq_session"
SESSION_TTL_S = 8 * 3600
CSRF_FIELD = "csrf"
_NO_KEY = ""  # a session's key hash with auth off


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    csrf: str

    def may(self, scope: Scope) -> bool:
        return self.principal.may(scope)

    def csrf_matches(self, given: str | None) -> bool:
        # (as bytes: compare_digest refuses a str that is not ASCII)
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


def _hashed(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


class Sessions:
    def __init__(self, redis: TrackedRedis, gate: Gate) -> None:
        self._redis = redis
        self._gate = gate

    @property
    def circuit(self) -> Circuit:
        return self._redis.circuit

    @property
    def login_needed(self) -> bool:
        return self._gate.auth_on

    @unavailable_on_outage
    async def start(self, token: str | None) -> tuple[str, Viewer]:
        """A new session for `token`'s key (`Unauthenticated` if it is none in force); its cookie
        and viewer. With auth off, `token` is not asked for."""
        if self._gate.auth_on:
            principal = self._gate.authenticate(f"Bearer {token or ''}")
            key_hash = tokens.hash_of(token or "")
        else:
            principal, key_hash = self._gate.authenticate(None), _NO_KEY
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        fields = {"key": key_hash, "csrf": csrf}
        await sessions.save(self._redis, _hashed(cookie), fields, SESSION_TTL_S)
        return cookie, Viewer(principal, csrf)

    @unavailable_on_outage
    async def viewer(self, request: Request) -> Viewer | None:
        """Who the request's session cookie is, or None (no session, ended, or its key gone)."""
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        stored = await sessions.load(self._redis, _hashed(cookie))
        if stored is None or "csrf" not in stored:
            return None
        if stored.get("key", _NO_KEY) == _NO_KEY and self._gate.auth_on:
            return None  # (a session from a time auth was off)
        principal = self._gate.principal_of_key(stored.get("key", _NO_KEY))
        return Viewer(principal, stored["csrf"]) if principal is not None else None

    @unavailable_on_outage
    async def end(self, request: Request) -> None:
        cookie = request.cookies.get(COOKIE)
        if cookie:
            await sessions.drop(self._redis, _hashed(cookie))
