"""The Lua scripts (`lua/*.lua`), and the one way they are run.

Each opens with a `#!lua` shebang (Redis 7's script flags): Redis then treats it as a script
that may write and, when memory is over `maxmemory` under `noeviction`, refuses it with an OOM
error before it runs, instead of letting it write past the limit (without the shebang, Redis
checks memory only until the script's first write). Only `renew.lua`, which just moves expiry
times, says `flags=allow-oom`.

Each is sent by EVALSHA: its text travels only after Redis has lost it (a restart, SCRIPT FLUSH),
when Redis answers NOSCRIPT. Two ways to run one, with that fallback each:
- `run`: on its own;
- `queue` on a pipeline (also inside a MULTI), then `rerun_unloaded` over the pipeline's replies:
  a NOSCRIPT fails only its own command (inside a MULTI the rest of the transaction ran), so
  the failed calls are sent again as EVAL, in their original order, in one round trip.
"""

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError

Command = tuple[Any, ...]


def sha1(text: str) -> str:
    """A script's name in Redis's cache (what EVALSHA sends)."""
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


SHEBANG = "#!lua"  # Redis 7's script flags (see the module docstring)
SCRIPTS: list["LuaScript"] = []  # every script of this process


class LuaScript:
    def __init__(self, name: str) -> None:
        self.name = name
        self.text = (files("jobqueue.store") / "lua" / f"{name}.lua").read_text()
        self.sha = sha1(self.text)
        SCRIPTS.append(self)

    @property
    def body(self) -> str:
        """The script without its shebang line (for an engine that does not read one)."""
        first, _, rest = self.text.partition("\n")
        return rest if first.startswith(SHEBANG) else self.text

    async def run(self, redis: Redis, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[misc]
        except NoScriptError:
            return await redis.eval(self.text, len(keys), *keys, *args)  # type: ignore[misc]

    def command(self, keys: Sequence[Any], args: Sequence[Any]) -> Command:
        """The EVALSHA that runs it, to send (or queue) as it is."""
        return ("EVALSHA", self.sha, len(keys), *keys, *args)

    def queue(self, pipe: Pipeline, keys: Sequence[Any], args: Sequence[Any]) -> None:
        pipe.execute_command(*self.command(keys, args))

    def sent_by(self, command: Command) -> bool:
        return command[:2] == ("EVALSHA", self.sha)

    def as_eval(self, command: Command) -> Command:
        return ("EVAL", self.text, *command[2:])


async def rerun_unloaded(
    send: Callable[[list[Command]], Awaitable[list[Any]]],
    scripts: Sequence[LuaScript],
    commands: Sequence[Command],
    replies: list[Any],
) -> list[Any]:
    """`replies` with every NOSCRIPT failure of one of `scripts` replaced by the reply of the
    same call sent again as EVAL (by `send`, which returns one reply per command)."""
    failed: list[tuple[int, Command]] = []
    for i, (command, reply) in enumerate(zip(commands, replies, strict=True)):
        if isinstance(reply, NoScriptError):
            script = next((s for s in scripts if s.sent_by(command)), None)
            if script is not None:
                failed.append((i, script.as_eval(command)))
    if not failed:
        return replies
    redone = await send([command for _, command in failed])
    replies = list(replies)
    for (i, _), reply in zip(failed, redone, strict=True):
        replies[i] = reply
    return replies
