"""The cipher of secret args: sealed values hide the value, every listed key unseals (rotation),
a value no key decrypts is `SecretUnreadable` naming the field only; masking and revealing."""

import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from jobqueue.access.secrets import (
    MASK,
    SEALED_PREFIX,
    Cipher,
    SecretUnreadable,
    cipher_for,
    masked,
    parse_keys,
    revealed,
)
from jobqueue.settings import Settings
from tests.helpers.secret_keys import NEXT_SECRETS_KEY, ROTATED, SECRETS_KEY

VALUE = "Bearer s3cr3t-7f2a"


def cipher(keys: str) -> Cipher:
    return Cipher(parse_keys(keys))


def test_a_sealed_value_is_prefixed_holds_no_plaintext_and_unseals() -> None:
    box = cipher(SECRETS_KEY)
    sealed = box.seal(VALUE)
    assert sealed.startswith(SEALED_PREFIX)
    assert VALUE not in sealed
    assert "s3cr3t" not in sealed
    assert box.unseal(sealed, "headers.Authorization") == VALUE


def test_sealing_twice_gives_two_ciphertexts() -> None:
    box = cipher(SECRETS_KEY)
    assert box.seal(VALUE) != box.seal(VALUE)  # (Fernet's random IV)


def test_a_rotated_list_unseals_what_the_old_key_sealed_and_seals_with_the_new() -> None:
    old, rotated, new_only = cipher(SECRETS_KEY), cipher(ROTATED), cipher(NEXT_SECRETS_KEY)
    assert rotated.unseal(old.seal(VALUE), "x") == VALUE
    assert new_only.unseal(rotated.seal(VALUE), "x") == VALUE  # the first key sealed it


def test_a_value_no_key_decrypts_is_unreadable_naming_the_field_not_the_value() -> None:
    sealed = cipher(SECRETS_KEY).seal(VALUE)
    with pytest.raises(SecretUnreadable) as raised:
        cipher(NEXT_SECRETS_KEY).unseal(sealed, "headers.Authorization")
    message = str(raised.value)
    assert message.startswith("headers.Authorization: ")
    assert "JOBQUEUE_SECRETS_KEY" in message
    assert VALUE not in message
    assert sealed not in message


def test_a_damaged_token_is_unreadable() -> None:
    sealed = cipher(SECRETS_KEY).seal(VALUE)
    with pytest.raises(SecretUnreadable):
        cipher(SECRETS_KEY).unseal(sealed[:-4] + "AAAA", "x")


def test_a_malformed_key_stops_the_settings_naming_its_place_not_printing_it() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(secrets_key=f"{SECRETS_KEY}, not-a-key")
    assert "key 2 is not a Fernet key" in str(raised.value)
    assert SECRETS_KEY not in str(raised.value)
    assert "not-a-key" not in str(raised.value)


def test_no_key_or_an_empty_one_means_no_cipher() -> None:
    assert cipher_for(Settings()) is None
    assert cipher_for(Settings(secrets_key="  ")) is None
    assert cipher_for(Settings(secrets_key=SECRETS_KEY)) is not None


def test_the_key_setting_is_masked_in_the_settings_repr() -> None:
    assert SECRETS_KEY not in repr(Settings(secrets_key=SECRETS_KEY))


def test_masked_shows_every_sealed_string_as_the_mask_and_keeps_the_rest() -> None:
    sealed = cipher(SECRETS_KEY).seal(VALUE)
    args = {"url": "u", "headers": {"A": sealed, "B": "plain"}, "list": [sealed, 1]}
    assert masked(args) == {"url": "u", "headers": {"A": MASK, "B": "plain"}, "list": [MASK, 1]}


def test_masked_returns_args_without_secrets_as_they_are() -> None:
    args = {"message": "hi", "nested": {"n": [1, 2]}}
    assert masked(args) is args


def test_revealed_decrypts_what_a_key_can_and_keeps_the_rest() -> None:
    box = cipher(SECRETS_KEY)
    lookalike = SEALED_PREFIX + "not-a-token"
    args = {"a": box.seal(VALUE), "b": [lookalike]}
    assert revealed(args, box) == {"a": VALUE, "b": [lookalike]}


def test_secrets_key_prints_a_key_the_settings_accept() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "jobqueue", "secrets-key"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Fernet(printed.encode())
    assert cipher_for(Settings(secrets_key=printed)) is not None
