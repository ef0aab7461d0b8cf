"""Secrets every API process shares, kept in Redis: made by the first process that needs one
(SET NX, so all agree), read by the others, and cached for the process's life."""

import secrets
from base64 import urlsafe_b64encode

from arq.connections import ArqRedis

from jobqueue.store import keys


async def cursor_key(redis: ArqRedis) -> bytes:
    """The Fernet key that seals tenants' listing cursors (`access.cursors`)."""
    made = urlsafe_b64encode(secrets.token_bytes(32))
    await redis.set(keys.CURSOR_KEY, made, nx=True)
    stored = await redis.get(keys.CURSOR_KEY)
    return bytes(stored) if stored else made
