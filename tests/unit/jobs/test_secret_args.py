"""Where an args model's secrets are: found by type wherever they sit, sealed in the stored
args (or refused without a key), unsealed by type for the worker, masked in a 422's echo."""

import enum
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field, SecretBytes, SecretStr, ValidationError

from jobqueue.access.secrets import MASK, SEALED_PREFIX, Cipher, SecretUnreadable, parse_keys
from jobqueue.jobs.context import JobContext
from jobqueue.jobs.declaration import job
from jobqueue.jobs.secret_args import (
    MaskGiven,
    SecretsKeyMissing,
    masked_input,
    seal_args,
    shape_of,
    unseal_kwargs,
)
from jobqueue.jobs.webhook import WebhookArgs
from tests.helpers.secret_keys import NEXT_SECRETS_KEY, ROTATED, SECRETS_KEY

CIPHER = Cipher(parse_keys(SECRETS_KEY))


class Login(BaseModel):
    user: str
    password: SecretStr


class Everywhere(BaseModel):
    plain: str = "p"
    token: SecretStr | None = None
    login: Login | None = None
    tokens: list[SecretStr] = Field(default_factory=list)
    by_name: dict[str, SecretStr] = Field(default_factory=dict)


class Plain(BaseModel):
    message: str


def everywhere() -> Everywhere:
    return Everywhere.model_validate(
        {
            "token": "t-1",
            "login": {"user": "u", "password": "pw-2"},
            "tokens": ["l-3", "l-4"],
            "by_name": {"A": "d-5"},
        }
    )


def test_a_model_without_secrets_has_no_shape() -> None:
    assert shape_of(Plain) is None


def test_the_webhook_headers_values_are_secret_and_nothing_else_is() -> None:
    shape = shape_of(WebhookArgs)
    assert shape is not None
    assert set(shape.fields) == {"headers"}
    values = shape.fields["headers"].values
    assert values is not None
    assert values.secret


def test_seal_args_seals_every_secret_wherever_it_sits_and_keeps_the_rest() -> None:
    stored = seal_args(everywhere(), CIPHER)
    sealed = [
        stored["token"],
        stored["login"]["password"],
        *stored["tokens"],
        stored["by_name"]["A"],
    ]
    assert all(value.startswith(SEALED_PREFIX) for value in sealed)
    assert [CIPHER.unseal(value, "") for value in sealed] == ["t-1", "pw-2", "l-3", "l-4", "d-5"]
    assert (stored["plain"], stored["login"]["user"]) == ("p", "u")


def test_seal_args_without_a_cipher_names_every_secret() -> None:
    with pytest.raises(SecretsKeyMissing) as raised:
        seal_args(everywhere(), None)
    assert raised.value.paths == [
        ("token",),
        ("login", "password"),
        ("tokens", 0),
        ("tokens", 1),
        ("by_name", "A"),
    ]


def test_args_without_secret_values_need_no_cipher() -> None:
    assert seal_args(Everywhere(), None) == Everywhere().model_dump(mode="json")
    args = WebhookArgs.model_validate({"url": "https://example.com/h", "payload": {"a": 1}})
    assert seal_args(args, None)["headers"] == {}


def test_unseal_kwargs_gives_the_model_the_real_values() -> None:
    stored = seal_args(everywhere(), CIPHER)
    unsealed = unseal_kwargs(Everywhere, stored, CIPHER)
    model = Everywhere.model_validate(unsealed)
    assert model.login is not None
    assert model.login.password.get_secret_value() == "pw-2"
    assert [t.get_secret_value() for t in model.tokens] == ["l-3", "l-4"]
    assert stored["token"].startswith(SEALED_PREFIX)  # (the stored args are not changed)


def test_a_worker_with_the_rotated_list_unseals_what_the_old_key_sealed() -> None:
    stored = seal_args(everywhere(), CIPHER)
    unsealed = unseal_kwargs(Everywhere, stored, Cipher(parse_keys(ROTATED)))
    assert unsealed["by_name"] == {"A": "d-5"}


def test_a_secret_no_key_decrypts_is_unreadable_naming_its_field() -> None:
    stored = seal_args(everywhere(), CIPHER)
    with pytest.raises(SecretUnreadable, match=r"^token: "):
        unseal_kwargs(Everywhere, stored, Cipher(parse_keys(NEXT_SECRETS_KEY)))


def test_a_sealed_secret_and_no_key_at_all_is_unreadable() -> None:
    stored = seal_args(everywhere(), CIPHER)
    with pytest.raises(SecretUnreadable, match="JOBQUEUE_SECRETS_KEY is not set"):
        unseal_kwargs(Everywhere, stored, None)


def test_only_secret_fields_are_unsealed_a_lookalike_elsewhere_is_left_as_written() -> None:
    lookalike = SEALED_PREFIX + "written-by-the-client"
    stored = {"plain": lookalike, "token": CIPHER.seal("t")}
    assert unseal_kwargs(Everywhere, stored, CIPHER) == {"plain": lookalike, "token": "t"}


def test_a_secret_stored_in_clear_before_it_was_secret_still_runs_as_stored() -> None:
    assert unseal_kwargs(Everywhere, {"token": "old"}, CIPHER) == {"token": "old"}


@pytest.mark.parametrize(
    ("loc", "error_type", "given", "shown"),
    [
        (("token",), "string_type", 5, MASK),
        (("by_name", "A"), "value_error", "d-5\r\n", MASK),
        (("by_name",), "value_error", {"A": "x", "B": "y"}, {"A": MASK, "B": MASK}),
        (("by_name", "A", "[key]"), "value_error", "A", "A"),
        (("login", "password"), "missing", {"user": "u"}, {"user": "u"}),
        (("plain",), "missing", {"token": "t", "plain": 1}, {"token": MASK, "plain": 1}),
        (("plain",), "string_type", 1, 1),
        ((), "model_type", {"login": {"password": "x"}}, {"login": {"password": MASK}}),
    ],
)
def test_a_422_echo_shows_the_secrets_it_holds_as_the_mask(
    loc: tuple[str, ...], error_type: str, given: Any, shown: Any
) -> None:
    assert masked_input(Everywhere, loc, error_type, given) == shown


class Bytes(BaseModel):
    key: SecretBytes


class SetOfSecrets(BaseModel):
    keys: frozenset[SecretStr]


class Node(BaseModel):
    token: SecretStr
    children: list["Node"] = Field(default_factory=list)


class Tree(BaseModel):
    label: str
    children: list["Tree"] = Field(default_factory=list)


class SecretKeys(BaseModel):
    by_secret: dict[SecretStr, str]


@pytest.mark.parametrize(
    "model",
    [Bytes, SetOfSecrets, Node, SecretKeys],
    ids=["SecretBytes", "set", "recursive", "secret-keys"],
)
def test_a_secret_that_could_not_be_stored_fails_the_job_declaration(
    model: type[BaseModel],
) -> None:
    async def run(ctx: JobContext, args: model) -> None:  # type: ignore[valid-type]
        return None

    with pytest.raises(TypeError, match="cannot be stored"):
        job(timeout=1)(run)


def test_a_recursive_model_without_secrets_is_declared_as_any_other() -> None:
    assert shape_of(Tree) is None


class StrOrSecret(BaseModel):
    token: str | SecretStr


class Env(enum.Enum):
    prod = "prod"


class ByEnv(BaseModel):
    tokens: dict[Env, SecretStr]


@pytest.mark.parametrize("model", [StrOrSecret, ByEnv], ids=["str-or-secret", "enum-keys"])
def test_args_whose_secrets_would_be_stored_in_clear_or_misplaced_fail_the_declaration(
    model: type[BaseModel],
) -> None:
    async def run(ctx: JobContext, args: model) -> None:  # type: ignore[valid-type]
        return None

    with pytest.raises(TypeError, match=r"cannot be stored|str or int keys"):
        job(timeout=1)(run)


class WithToken(BaseModel):
    token: SecretStr


class WithKey(BaseModel):
    key: SecretStr


class ArmA(BaseModel):
    kind: Literal["a"] = "a"
    cfg: WithToken


class ArmB(BaseModel):
    kind: Literal["b"] = "b"
    cfg: WithKey


class EitherArm(BaseModel):
    x: ArmA | ArmB


class Aliased(BaseModel):
    model_config = {"populate_by_name": True}
    api_token: SecretStr = Field(alias="apiToken")


@pytest.mark.parametrize(
    ("model", "given", "path"),
    [
        (EitherArm, {"x": {"kind": "b", "cfg": {"key": "k-1"}}}, ("x", "cfg", "key")),
        (EitherArm, {"x": {"kind": "a", "cfg": {"token": "t-1"}}}, ("x", "cfg", "token")),
        (Aliased, {"apiToken": "a-1"}, ("api_token",)),
    ],
    ids=["second-arm", "first-arm", "alias"],
)
def test_what_the_api_seals_the_worker_unseals(
    model: type[BaseModel], given: dict[str, Any], path: tuple[str, ...]
) -> None:
    stored = seal_args(model.model_validate(given), CIPHER)
    value: Any = stored
    for segment in path:
        value = value[segment]
    assert value.startswith(SEALED_PREFIX)  # sealed at rest
    unsealed: Any = unseal_kwargs(model, stored, CIPHER)
    for segment in path:
        unsealed = unsealed[segment]
    assert not unsealed.startswith(SEALED_PREFIX)  # and the job gets the value back
    assert unsealed.endswith("-1")


def test_the_mask_is_refused_as_a_secret() -> None:
    with pytest.raises(MaskGiven) as given:
        seal_args(Login(user="u", password=SecretStr(MASK)), CIPHER)
    assert given.value.paths == [("password",)]


class Short(BaseModel):
    kind: Literal["short"]
    token: SecretStr = Field(min_length=30)


class Long(BaseModel):
    kind: Literal["long"]
    token: SecretStr


class AuthUnion(BaseModel):
    auth: Short | Long


def test_a_422_inside_a_unions_arm_masks_the_secret() -> None:
    given = {"auth": {"kind": "short", "token": "PLAINTEXT-1"}}
    with pytest.raises(ValidationError) as failed:
        AuthUnion.model_validate(given)
    echoes = [
        masked_input(AuthUnion, e["loc"], e["type"], e["input"]) for e in failed.value.errors()
    ]
    assert echoes
    assert "PLAINTEXT-1" not in repr(echoes)
