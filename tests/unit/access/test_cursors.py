"""A tenant's cursors are sealed: they name no job, and only their tenant may use them."""

import base64

import pytest
from cryptography.fernet import Fernet

from jobqueue.access import cursors
from jobqueue.history.pages import InvalidCursor, encode_cursor

KEY = Fernet.generate_key()
PLAIN = encode_cursor("8203764359446:rival~customer-order-5")


def test_a_sealed_cursor_names_nothing_and_opens_for_its_tenant() -> None:
    sealed = cursors.seal(KEY, "acme", PLAIN)
    assert PLAIN not in sealed
    raw = base64.urlsafe_b64decode(sealed.removeprefix(cursors.PREFIX) + "==")
    assert b"rival" not in raw
    assert b"customer" not in raw
    assert cursors.unseal(KEY, "acme", sealed) == PLAIN


@pytest.mark.parametrize(
    "cursor",
    [
        PLAIN,  # a plain (or forged) cursor
        cursors.seal(KEY, "rival", PLAIN),  # another tenant's
        cursors.seal(Fernet.generate_key(), "acme", PLAIN),  # sealed with another key
        cursors.PREFIX + "not-a-token",
        cursors.seal(KEY, "acme", PLAIN)[:-4],
    ],
    ids=["plain", "other-tenant", "other-key", "garbage", "truncated"],
)
def test_any_other_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor, match="not one this API returned"):
        cursors.unseal(KEY, "acme", cursor)
