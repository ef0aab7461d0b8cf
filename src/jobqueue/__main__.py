"""`python -m jobqueue serve [uvicorn's options]`: the API as deployed; `python -m jobqueue keys
create …` mints an API key (`jobqueue.access.cli`); `python -m jobqueue secrets-key` prints a new
`JOBQUEUE_SECRETS_KEY` (`jobqueue.access.secrets`).

That is `uvicorn jobqueue.main:app --http jobqueue.main:http_protocol`: uvicorn's own command
line (so `--host`, `--port`, `--fd`, TLS, `--proxy-headers`, `UVICORN_*` variables all work),
with the protocol that adds the service's deadlines for slow clients and its connection cap.
With `JOBQUEUE_AUTH=off` it refuses to listen beyond loopback (`jobqueue.serving.bind_check`).
"""

import sys

import uvicorn.main
from pydantic import ValidationError

from jobqueue.serving import bind_check
from jobqueue.settings import Settings

USAGE = (
    "usage: python -m jobqueue serve [uvicorn options, e.g. --host 127.0.0.1 --port 8000]\n"
    "       python -m jobqueue keys create NAME --scopes jobs:read,jobs:write [--tenant T] "
    "[--rate N]\n"
    "       python -m jobqueue secrets-key"
)


def main(argv: list[str]) -> None:
    if argv[:1] == ["keys"]:
        from jobqueue.access import cli  # (not imported to serve)

        sys.exit(cli.main(argv[1:]))
    if argv == ["secrets-key"]:
        from jobqueue.access.secrets import new_key

        print(new_key())
        return
    if not argv or argv[0] != "serve":
        sys.exit(USAGE)
    _refuse_remote_without_auth(argv[1:])
    # (No WebSockets: the API has none, and uvicorn would answer an upgrade with a bare 403.)
    options = ["jobqueue.main:app", "--http", "jobqueue.main:http_protocol", "--ws", "none"]
    uvicorn.main.main([*options, *argv[1:]], prog_name="python -m jobqueue serve")


def _refuse_remote_without_auth(args: list[str]) -> None:
    try:
        settings = Settings()
    except ValidationError:
        return  # the app reports bad settings, naming them, as it starts
    why = bind_check.refusal(
        args, auth_off=settings.auth == "off", allow_remote=settings.allow_remote_without_auth
    )
    if why is not None:
        sys.exit(f"jobqueue: {why}")


if __name__ == "__main__":
    main(sys.argv[1:])
