"""API tokens: minted random, shown once, stored only as a hash.

A token is `jq_` and 43 URL-safe characters (32 random bytes): the prefix lets secret scanners
recognise a leaked one. A salt-free SHA-256 is enough for a hash of 256 random bits (no
dictionary reaches it), and it keeps a lookup to one hash per request.
"""

import hashlib
import hmac
import secrets

PREFIX = "jq_"
HASH_PREFIX = "sha256:"
_RANDOM_BYTES = 32


def mint() -> str:
    return PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)


def hash_of(token: str) -> str:
    """What a keys file stores: `sha256:<64 hex digits>`."""
    return HASH_PREFIX + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def matches(token: str, stored_hash: str) -> bool:
    """Whether `token` is the one `stored_hash` was made from, in constant time."""
    return hmac.compare_digest(hash_of(token).encode(), stored_hash.encode())
