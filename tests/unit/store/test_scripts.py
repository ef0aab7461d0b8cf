"""The one Lua runner: EVALSHA, and EVAL once Redis has lost the script."""

from typing import Any

from redis.exceptions import NoScriptError, ResponseError

from jobqueue.store.client import TrackedRedis
from jobqueue.store.scripts import Command, LuaScript, rerun_unloaded

ECHO = LuaScript("sweep_orphans")  # any of ours: its text and sha are what is exercised


async def test_a_script_runs_after_redis_lost_it(redis: TrackedRedis) -> None:
    await redis.zadd("q", {"gone": 1})
    await redis.script_flush()
    assert await ECHO.run(redis, ["q"], ["arq:job:", "arq:in-progress:", "gone"]) == [b"gone"]
    assert await redis.script_exists(ECHO.sha) == [True]  # EVAL loaded it again


async def test_only_the_unloaded_calls_are_sent_again_in_their_places() -> None:
    other = LuaScript("claim")
    commands: list[Command] = [
        ECHO.command(["a"], [1]),
        ("GET", "k"),
        other.command(["b"], [2]),
        ECHO.command(["c"], [3]),
    ]
    replies: list[Any] = [NoScriptError("x"), b"v", ResponseError("real"), NoScriptError("y")]
    resent: list[list[Command]] = []

    async def send(again: list[Command]) -> list[Any]:
        resent.append(again)
        return [f"redone {command[3]}" for command in again]

    done = await rerun_unloaded(send, [ECHO], commands, replies)
    assert resent == [[("EVAL", ECHO.text, 1, "a", 1), ("EVAL", ECHO.text, 1, "c", 3)]]
    assert done[0] == "redone a"
    assert done[1] == b"v"
    assert isinstance(done[2], ResponseError)  # not a NOSCRIPT: left as it was
    assert done[3] == "redone c"


async def test_nothing_is_sent_again_when_every_script_was_loaded() -> None:
    async def send(again: list[Command]) -> list[Any]:
        raise AssertionError("sent")

    commands: list[Command] = [ECHO.command([], []), ("GET", "k")]
    assert await rerun_unloaded(send, [ECHO], commands, [1, 2]) == [1, 2]
