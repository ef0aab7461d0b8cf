"""`python -m jobqueue keys create NAME --scopes jobs:read,jobs:write [--tenant T] [--rate N]`.

Prints the new token alone on the first line (for `| head -1` or a secret store), then the
`[[keys]]` entry to add to the keys file. The token is stored nowhere and never shown again.
"""

import argparse
import json

from pydantic import ValidationError

from jobqueue.access import tokens
from jobqueue.access.keyring import ApiKey
from jobqueue.access.scopes import Scope


def _scopes(text: str) -> frozenset[Scope]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    known = {scope.value for scope in Scope}
    unknown = sorted(set(chosen) - known)
    if unknown or not chosen:
        listed = ", ".join(sorted(known))
        given = f"unknown scope(s) {unknown}" if unknown else "no scope given"
        raise argparse.ArgumentTypeError(f"{given}: use {listed}")
    return frozenset(Scope(part) for part in chosen)


def parser() -> argparse.ArgumentParser:
    keys = argparse.ArgumentParser(prog="python -m jobqueue keys", description=__doc__)
    commands = keys.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="mint a token and print its keys-file entry")
    create.add_argument("name", help="the key's name (in audit lines and job views)")
    create.add_argument("--scopes", type=_scopes, required=True, help="comma-separated")
    create.add_argument(
        "--tenant",
        default=None,
        help="its tenant (default: the name; when replacing a key, give the old key's tenant)",
    )
    create.add_argument(
        "--rate", type=float, default=None, help="enqueues a second (bursts of twice that)"
    )
    return keys


def entry(key: ApiKey) -> str:
    """The key's `[[keys]]` table, as TOML (JSON strings are valid TOML basic strings)."""
    lines = ["[[keys]]", f"name = {json.dumps(key.name)}", f"hash = {json.dumps(key.hash)}"]
    lines.append(f"scopes = {json.dumps(sorted(s.value for s in key.scopes))}")
    # Always written: a key's successor (a new name) must keep its tenant, or its client's jobs
    # would be another tenant's (the default tenant is the key's name).
    lines.append(f"tenant = {json.dumps(key.tenant_name)}")
    if key.rate_per_second is not None:
        lines.append(f"rate_per_second = {key.rate_per_second:g}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    options = parser().parse_args(argv)
    token = tokens.mint()
    try:
        key = ApiKey(
            name=options.name,
            hash=tokens.hash_of(token),
            scopes=options.scopes,
            tenant=options.tenant,
            rate_per_second=options.rate,
        )
    except ValidationError as exc:  # a bad name, tenant or rate
        error = exc.errors(include_url=False)[0]
        parser().error(f"{'.'.join(map(str, error['loc']))}: {error['msg']}")
    print(token)
    print(entry(key))
    return 0
