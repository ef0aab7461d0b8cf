"""With auth off the API serves loopback only, unless the operator says otherwise
(`JOBQUEUE_ALLOW_REMOTE_WITHOUT_AUTH=true`): `python -m jobqueue serve` refuses, before it
listens, any `--host` (or `UVICORN_HOST`, or an inherited `--fd` socket) beyond loopback."""

import ipaddress
import os
import socket

REFUSAL = (
    "JOBQUEUE_AUTH=off serves every request as an admin's, so the API listens on loopback only, "
    "and {where} is not. Set JOBQUEUE_API_KEYS_FILE (and remove JOBQUEUE_AUTH), or, if a proxy "
    "in front checks who may call, JOBQUEUE_ALLOW_REMOTE_WITHOUT_AUTH=true."
)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve to anything
        return False


def _option(args: list[str], name: str) -> str | None:
    """The option's value as uvicorn's parser (click) takes it: the last one given."""
    found = None
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith(name + "="):
            found = arg.partition("=")[2]
    return found


def listening_beyond_loopback(args: list[str]) -> str | None:
    """Where uvicorn would listen, given its command line, if that is beyond loopback."""
    if _option(args, "--uds") is not None:
        return None  # a Unix socket: this machine only
    fd = _option(args, "--fd")
    if fd is not None and fd.isdigit():
        with socket.socket(fileno=os.dup(int(fd))) as inherited:
            host = str(inherited.getsockname()[0])
    else:
        host = _option(args, "--host") or os.environ.get("UVICORN_HOST") or "127.0.0.1"
    return None if is_loopback(host) else host


def refusal(args: list[str], *, auth_off: bool, allow_remote: bool) -> str | None:
    """Why `serve` must not start with these arguments, or None."""
    if not auth_off or allow_remote:
        return None
    where = listening_beyond_loopback(args)
    return None if where is None else REFUSAL.format(where=where)
