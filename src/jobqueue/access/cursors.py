"""A tenant's listing cursors, sealed: a plain cursor names the last job a page read (its id and
enqueue time), which in a filtered listing is often another tenant's. Sealed (Fernet: encrypted
and authenticated) with the tenant inside, a cursor tells its holder nothing and is good for
that tenant only; a forged or another tenant's one is "not one this API returned"."""

from cryptography.fernet import Fernet, InvalidToken

from jobqueue.history.pages import InvalidCursor

PREFIX = "s."


def seal(key: bytes, tenant: str, cursor: str) -> str:
    return PREFIX + Fernet(key).encrypt(f"{tenant}\n{cursor}".encode()).decode()


def unseal(key: bytes, tenant: str, sealed: str) -> str:
    try:
        if not sealed.startswith(PREFIX):
            raise InvalidToken
        owner, _, cursor = Fernet(key).decrypt(sealed.removeprefix(PREFIX)).decode().partition("\n")
    except (InvalidToken, UnicodeDecodeError, ValueError):
        raise InvalidCursor("cursor is not one this API returned") from None
    if owner != tenant:
        raise InvalidCursor("cursor is not one this API returned")
    return cursor
