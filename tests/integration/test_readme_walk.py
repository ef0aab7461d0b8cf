"""The README's curl examples, pasted in order against a fresh service, answer what they show.

Every `curl` command in the README's ```sh blocks is read in document order (shell words:
quotes, `\\` continuations, bodies spanning lines inside single quotes, a trailing comment) and
sent with httpx to a stack of our own: a private redis-server, a real `arq
worker_settings.WorkerSettings` and a real uvicorn API, with the default settings of a fresh
`make run`. The comment lines under a command show its response: the HTTP status, then a JSON
body, SSE events or lines of text, with `…` standing for anything. Each response must have that
status and hold what is shown (literally, where it is literal), and none may be a 5xx.

A reader pastes at a reader's pace, so a state the README shows "a moment later" (a job that
has failed by then, a cron run that has finished) is reached by re-sending a GET until it
matches, within a deadline; a POST or DELETE is sent once. An SSE command reads the stream until
the events shown have arrived, then disconnects. `<name>` stands for a value from an earlier
response: the last `name` field of a JSON body, or for `<id>` the last SSE event id read.
"""

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.processes import RedisServer
from scripts.run_local import local_admin_key, local_secrets_key
from tests.helpers import GaveUp, eventually
from tests.helpers.services import REPO_ROOT, start_api, start_worker
from tests.helpers.sse import SseEvent, read_sse

README = REPO_ROOT / "README.md"
README_ADDRESS = "localhost:8000"
ELLIPSIS = "…"
POLL_DEADLINE_S = 10.0
STREAM_DEADLINE_S = 10.0
WALK_DEADLINE_S = 60.0
SHELL_VARIABLE = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*")


# --- Reading the README: shell words, curl commands, the responses they show --------------------


class ShellSyntaxError(ValueError):
    """A command uses shell syntax this reader does not model (so it cannot be checked)."""


def read_command(text: str, pos: int) -> tuple[list[str], str, int]:
    """The shell words of the command starting at `pos`, its trailing comment, and the index of
    the newline that ends it (a newline outside quotes, not escaped by `\\`)."""
    words: list[str] = []
    word: list[str] | None = None
    i = pos
    while i < len(text):
        char = text[i]
        if char == "\\" and text.startswith("\n", i + 1):
            i += 2
        elif char == "\n":
            break
        elif char in " \t":
            if word is not None:
                words.append("".join(word))
                word = None
            i += 1
        elif char == "#" and word is None:
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            return words, text[i + 1 : end].strip(), end
        else:
            word = [] if word is None else word
            i = _read_word_part(text, i, word)
    if word is not None:
        words.append("".join(word))
    return words, "", i


def _read_word_part(text: str, i: int, word: list[str]) -> int:
    char = text[i]
    if char == "'":
        end = text.find("'", i + 1)
        if end < 0:
            raise ShellSyntaxError(f"unterminated single quote: {text[i : i + 40]!r}")
        word.append(text[i + 1 : end])
        return end + 1
    if char == '"':
        i += 1
        while i < len(text) and text[i] != '"':
            if variable := SHELL_VARIABLE.match(text, i):  # kept as `$NAME`: see `substitute`
                word.append(variable.group())
                i = variable.end()
                continue
            if text[i] in "$`":
                raise ShellSyntaxError(f"shell expansion inside double quotes: {text[i:]!r}")
            if text[i] == "\\" and text[i + 1 : i + 2] in ('"', "\\", "$", "`", "\n"):
                i += 1
            word.append(text[i])
            i += 1
        if i >= len(text):
            raise ShellSyntaxError("unterminated double quote")
        return i + 1
    if char == "\\":
        word.append(text[i + 1])
        return i + 2
    if char in "|;&<>()$`*?[{":
        raise ShellSyntaxError(f"unquoted {char!r}: pipes, redirects, expansions not modelled")
    word.append(char)
    return i + 1


@dataclass(frozen=True)
class Example:
    line: int  # in the README, 1-based
    words: list[str]
    shown: str  # the response the README shows: "" if none

    def __str__(self) -> str:
        return f"README.md:{self.line}: {' '.join(self.words)}"


def sh_blocks(text: str) -> Iterator[tuple[int, str]]:
    """Each ```sh block's first line number (1-based) and its body."""
    for match in re.finditer(r"^```sh\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        yield text.count("\n", 0, match.start(1)) + 1, match.group(1)


def curl_examples(text: str) -> list[Example]:
    """Every curl command in the ```sh blocks, in order, with the response shown under it: the
    comment lines right below it (up to a blank line or the next command), preceded by its
    trailing comment when that starts with a status code."""
    examples = []
    for first_line, block in sh_blocks(text):
        pos = 0
        while pos < len(block):
            end_of_line = block.find("\n", pos)
            end_of_line = len(block) if end_of_line < 0 else end_of_line
            if block[pos:end_of_line].split(maxsplit=1)[:1] != ["curl"]:
                pos = end_of_line + 1
                continue
            line = first_line + block.count("\n", 0, pos)
            words, trailing, end = read_command(block, pos)
            shown = [trailing] if re.match(r"\d{3}\b", trailing) else []
            pos = end + 1
            while pos < len(block):
                end_of_line = block.find("\n", pos)
                end_of_line = len(block) if end_of_line < 0 else end_of_line
                comment = block[pos:end_of_line].strip()
                if not comment.startswith("#"):
                    break
                shown.append(comment[1:].removeprefix(" "))
                pos = end_of_line + 1
            examples.append(Example(line, words, "\n".join(shown)))
    return examples


# --- Patterns: JSON as the README shows it, `…` for what varies or is left out ------------------


class Anything:
    def __repr__(self) -> str:
        return ELLIPSIS


ANYTHING = Anything()


@dataclass(frozen=True)
class ObjectPattern:
    fields: dict[str, Any]
    open: bool  # `…` among the members: other fields may follow


@dataclass(frozen=True)
class ListPattern:
    head: list[Any]
    tail: list[Any]
    open: bool  # `…` among the items: items may sit between head and tail


class PatternParser:
    """JSON with holes: `…` (or `…words…`) as a value, an object member or a list item, and
    inside strings. Parses one value from the start of the text; whatever follows is prose."""

    DECODER = json.JSONDecoder()
    NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def parse(self) -> tuple[Any, str]:
        value = self.value()
        return value, self.text[self.i :]

    def skip(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def peek(self) -> str:
        self.skip()
        return self.text[self.i : self.i + 1]

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise ValueError(f"expected {char!r} at {self.text[self.i : self.i + 30]!r}")
        self.i += 1

    def ellipsis(self) -> bool:
        """Consume `…` or `…words…` if it comes next."""
        if self.peek() != ELLIPSIS:
            return False
        self.i += 1
        rest = self.text[self.i :].lstrip()
        if rest[:1] not in (",", "}", "]", ""):
            self.i = self.text.index(ELLIPSIS, self.i) + 1  # a labelled hole: …job view…
        return True

    def value(self) -> Any:
        char = self.peek()
        if self.ellipsis():
            return ANYTHING
        if char == "{":
            return self.object()
        if char == "[":
            return self.array()
        if char == '"':
            string, self.i = self.DECODER.raw_decode(self.text, self.i)
            return string
        for word, literal in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.i):
                self.i += len(word)
                return literal
        number = self.NUMBER.match(self.text, self.i)
        if number is None:
            raise ValueError(f"not a value: {self.text[self.i : self.i + 30]!r}")
        self.i = number.end()
        return json.loads(number.group())

    def object(self) -> ObjectPattern:
        self.expect("{")
        fields: dict[str, Any] = {}
        is_open = False
        while self.peek() != "}":
            if self.ellipsis():
                is_open = True
            else:
                key = self.value()
                if not isinstance(key, str):
                    raise ValueError(f"object key {key!r} is not a string")
                self.expect(":")
                fields[key] = self.value()
            if self.peek() == ",":
                self.i += 1
        self.i += 1
        return ObjectPattern(fields, is_open)

    def array(self) -> ListPattern:
        self.expect("[")
        head: list[Any] = []
        tail: list[Any] = []
        is_open = False
        while self.peek() != "]":
            if self.ellipsis():
                if tail:
                    raise ValueError("items between two `…` in a list")
                is_open = True
            else:
                (tail if is_open else head).append(self.value())
            if self.peek() == ",":
                self.i += 1
        self.i += 1
        return ListPattern(head, tail, is_open)


def parse_pattern(text: str) -> Any:
    return PatternParser(text).parse()[0]


def glob_matches(pattern: str, actual: str) -> bool:
    """`…` in a shown string stands for any text."""
    regex = ".*".join(re.escape(part) for part in pattern.split(ELLIPSIS))
    return re.fullmatch(regex, actual, flags=re.DOTALL) is not None


def mismatch(pattern: Any, actual: Any, path: str = "$") -> str | None:
    """Where `actual` differs from what the pattern shows, or None if it holds all of it."""
    if pattern is ANYTHING:
        return None
    if isinstance(pattern, ObjectPattern):
        return _object_mismatch(pattern, actual, path)
    if isinstance(pattern, ListPattern):
        return _list_mismatch(pattern, actual, path)
    if isinstance(pattern, str):
        if isinstance(actual, str) and glob_matches(pattern, actual):
            return None
    elif isinstance(pattern, bool) or pattern is None:
        if actual is pattern:
            return None
    elif isinstance(actual, int | float) and not isinstance(actual, bool) and actual == pattern:
        return None
    return f"{path}: shown {pattern!r}, got {actual!r}"


def _object_mismatch(pattern: ObjectPattern, actual: Any, path: str) -> str | None:
    if not isinstance(actual, dict):
        return f"{path}: shown an object, got {actual!r}"
    for key, value in pattern.fields.items():
        if key not in actual:
            return f"{path}: no field {key!r} (fields: {sorted(actual)})"
        if (found := mismatch(value, actual[key], f"{path}.{key}")) is not None:
            return found
    unshown = sorted(set(actual) - set(pattern.fields))
    if unshown and not pattern.open:
        return f"{path}: fields {unshown} are not shown and there is no `…`"
    return None


def _list_mismatch(pattern: ListPattern, actual: Any, path: str) -> str | None:
    if not isinstance(actual, list):
        return f"{path}: shown a list, got {actual!r}"
    shown = len(pattern.head) + len(pattern.tail)
    if len(actual) < shown or (len(actual) != shown and not pattern.open):
        return f"{path}: shown {shown}{'+' if pattern.open else ''} items, got {len(actual)}"
    tail_start = len(actual) - len(pattern.tail)
    pairs = [*enumerate(pattern.head), *((tail_start + n, p) for n, p in enumerate(pattern.tail))]
    for index, item in pairs:
        if (found := mismatch(item, actual[index], f"{path}[{index}]")) is not None:
            return found
    return None


@dataclass(frozen=True)
class ShownEvent:
    fields: dict[str, Any]  # "id" and "event": glob strings; "data": a pattern


@dataclass(frozen=True)
class Shown:
    """The response an example shows."""

    status: int | None = None
    json_body: Any = None  # a pattern, when a JSON body is shown
    events: list[ShownEvent] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # lines of a text body

    @property
    def has_json(self) -> bool:
        return self.json_body is not None

    @classmethod
    def parse(cls, text: str) -> "Shown":
        status_match = re.match(r"\s*(\d{3})\b", text)
        status = int(status_match.group(1)) if status_match else None
        rest = text[status_match.end() :] if status_match else text
        body = rest.strip()
        if body.startswith(("{", "[")):
            return cls(status, json_body=parse_pattern(body))
        if re.match(r"(id|event|data):", body):
            return cls(status, events=_parse_events(body))
        lines = [line.strip() for line in body.splitlines()]
        return cls(status, lines=[line for line in lines if line and line != ELLIPSIS])


def _parse_events(text: str) -> list[ShownEvent]:
    events: list[ShownEvent] = []
    current: dict[str, Any] = {}
    for line in [*text.splitlines(), ""]:
        name, colon, value = line.strip().partition(":")
        if colon and name in ("id", "event", "data"):
            current[name] = parse_pattern(value.strip()) if name == "data" else value.strip()
        elif not line.strip() and current:
            events.append(ShownEvent(current))
            current = {}
    return events


def event_mismatch(shown: ShownEvent, event: SseEvent) -> str | None:
    for name, actual in (("id", event.id), ("event", event.type)):
        if name in shown.fields and not glob_matches(shown.fields[name], actual):
            return f"{name}: shown {shown.fields[name]!r}, got {actual!r}"
    return mismatch(shown.fields["data"], event.data) if "data" in shown.fields else None


# --- Turning a curl command into an httpx request ------------------------------------------------


@dataclass
class CurlRequest:
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes | None
    stream: bool  # -N: read as it arrives (Server-Sent Events)


def to_request(words: list[str], base_url: str, values: dict[str, str]) -> CurlRequest:
    if words[:1] != ["curl"]:
        raise ShellSyntaxError(f"not a curl command: {words}")
    method: str | None = None
    headers: list[tuple[str, str]] = []
    body: bytes | None = None
    stream = False
    urls: list[str] = []
    args = iter(words[1:])
    for arg in args:
        if arg in ("-s", "--silent"):
            continue
        if arg in ("-N", "--no-buffer"):
            stream = True
        elif arg in ("-X", "--request"):
            method = next(args)
        elif arg in ("-H", "--header"):
            name, _, value = substitute(next(args), values).partition(":")
            headers.append((name.strip(), value.strip()))
        elif arg in ("-d", "--data"):
            data = next(args)
            if data.startswith("@"):
                raise ShellSyntaxError(f"-d {data}: reading a file is not modelled here")
            body = substitute(data, values).encode()
        elif arg.startswith("-"):
            raise ShellSyntaxError(f"curl option {arg} is not modelled here")
        else:
            urls.append(arg)
    if len(urls) != 1:
        raise ShellSyntaxError(f"expected one URL, got {urls}")
    if body is not None and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))  # as curl does
    url = substitute(urls[0], values).removeprefix("http://")
    if not url.startswith(README_ADDRESS):
        raise ShellSyntaxError(f"{urls[0]} is not on {README_ADDRESS}")
    return CurlRequest(
        method or ("POST" if body is not None else "GET"),
        base_url + url.removeprefix(README_ADDRESS),
        headers,
        body,
        stream,
    )


def substitute(text: str, values: dict[str, str]) -> str:
    """`<name>` becomes the value of `name` in an earlier response, and `$NAME` (in double
    quotes) the shell variable's, which the README has the reader set (`values["$NAME"]`)."""

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise AssertionError(f"<{name}>: no earlier response had it (seen: {sorted(values)})")
        return values[name]

    def variable(match: re.Match[str]) -> str:
        if match.group() not in values:
            raise AssertionError(f"{match.group()}: the README never says to set it")
        return values[match.group()]

    text = SHELL_VARIABLE.sub(variable, text)
    return re.sub(r"<([A-Za-z_][A-Za-z0-9_]*)>", value_of, text)


# --- Running the walk ----------------------------------------------------------------------------


async def until(probe: Callable[[], Awaitable[str | None]], deadline_s: float) -> str | None:
    """Call `probe` until it reports no mismatch (None) or the deadline passes; the last report."""
    last: list[str | None] = [None]

    async def matches() -> bool:
        last[0] = await probe()
        return last[0] is None

    try:
        await eventually(matches, timeout=deadline_s, interval=0.05)
    except GaveUp:
        return last[0]
    return None


@dataclass
class Walk:
    client: httpx.AsyncClient
    base_url: str
    values: dict[str, str] = field(default_factory=dict)

    async def run(self, example: Example) -> None:
        """Send the example's request and fail, naming its README line, unless the response
        is what the README shows."""
        try:
            found = await self.check(example)
        except httpx.TransportError as exc:
            found = f"no response: {exc!r}"
        except (AssertionError, ShellSyntaxError) as exc:  # a 5xx; a value or syntax missing
            found = str(exc)
        if found is not None:
            raise AssertionError(f"{example}\n  {found}")

    async def check(self, example: Example) -> str | None:
        shown = Shown.parse(example.shown)
        if shown.status is None and not shown.events:
            return "it shows no response (a `# <status> …` comment line under it)"
        request = to_request(example.words, self.base_url, self.values)
        if request.stream:
            return await self.read_stream(request, shown)
        if request.method == "GET":
            return await until(lambda: self.send(request, shown), POLL_DEADLINE_S)
        return await self.send(request, shown)

    async def send(self, request: CurlRequest, shown: Shown) -> str | None:
        response = await self.client.request(
            request.method, request.url, headers=request.headers, content=request.body
        )
        if response.status_code >= 500:  # never what the README shows, and not worth a retry
            raise AssertionError(f"status {response.status_code}: {response.text[:2000]}")
        body: Any = None
        if response.headers.get("content-type", "").startswith("application/json"):
            body = response.json()
            if isinstance(body, dict):
                self.values.update({k: v for k, v in body.items() if isinstance(v, str)})
        found = self.status_mismatch(shown, response.status_code)
        if found is None and shown.has_json:
            found = mismatch(shown.json_body, body) if body is not None else "the body is not JSON"
        if found is None and shown.lines:
            found = self.lines_mismatch(shown.lines, response.text.splitlines())
        return None if found is None else f"{found}\n  body: {response.text[:2000]}"

    @staticmethod
    def status_mismatch(shown: Shown, status: int) -> str | None:
        expected = shown.status if shown.status is not None else 200
        return None if status == expected else f"status: shown {expected}, got {status}"

    @staticmethod
    def lines_mismatch(shown: list[str], lines: list[str]) -> str | None:
        for wanted in shown:
            if not any(glob_matches(wanted, line) for line in lines):
                return f"no line matching {wanted!r}"
        return None

    async def read_stream(self, request: CurlRequest, shown: Shown) -> str | None:
        """Read events until the ones shown have arrived in order (other events may come
        between them), or the stream ends, or the deadline passes."""
        pending = list(shown.events)
        last: str | None = None
        async with self.client.stream(
            request.method, request.url, headers=request.headers, content=request.body
        ) as response:
            if (found := self.status_mismatch(shown, response.status_code)) is not None:
                return f"{found}: {(await response.aread())[:500]!r}"
            if not pending:
                return None
            try:
                async with asyncio.timeout(STREAM_DEADLINE_S):
                    async for event in read_sse(response):
                        self.values["id"] = event.id
                        if event_mismatch(pending[0], event) is None:
                            pending.pop(0)
                        else:
                            last = f"{event.type} {event.data}"
                        if not pending:
                            return None
            except TimeoutError:
                pass
        return f"events not seen: {pending[0].fields} and {len(pending) - 1} more; last: {last}"


@pytest.fixture
def fresh_stack(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Redis, worker and API as a fresh `make run` has them: no `JOBQUEUE_*` settings but the
    Redis URL (and JSON logs, for the log files)."""
    with ExitStack() as stack, pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("JOBQUEUE_")]:
            patch.delenv(name)  # the processes inherit this environment
        server = RedisServer(tmp_path / "redis")
        server.start()
        stack.callback(server.stop)
        # The keys file and token as `make run` makes them (in its run directory).
        keys_file, token_file = local_admin_key(tmp_path / "run")
        env = {
            "JOBQUEUE_REDIS_URL": server.url,
            "JOBQUEUE_LOG_FORMAT": "json",
            "JOBQUEUE_API_KEYS_FILE": str(keys_file),
            "JOBQUEUE_SECRETS_KEY": local_secrets_key(tmp_path / "run"),
        }
        worker = start_worker(env, tmp_path)
        stack.callback(worker.stop)
        # (first: SIGKILL. The walk leaves a long `sleep` running, and a stop would give it the
        # default 20 s grace; how a worker stops is tested in test_shutdown.py)
        stack.callback(worker.process.kill)
        api, url = start_api(env, tmp_path)
        stack.callback(api.stop)
        yield url, token_file.read_text().strip()


@pytest.fixture
async def walk(fresh_stack: tuple[str, str]) -> AsyncIterator[Walk]:
    url, token = fresh_stack
    async with httpx.AsyncClient(timeout=70, trust_env=False) as client:
        # `export TOKEN=$(cat .run/token)`, as the README (and `make run`) tell the reader
        yield Walk(client, url, {"$TOKEN": token})


async def test_readme_curl_examples_answer_what_they_show_in_order(walk: Walk) -> None:
    text = README.read_text()
    assert "export TOKEN=$(cat .run/token)" in text  # where `$TOKEN` comes from
    examples = curl_examples(text)
    assert len(examples) >= 20, f"found only {len(examples)} curl examples in README.md"
    async with asyncio.timeout(WALK_DEADLINE_S):
        for example in examples:
            await walk.run(example)


# --- The reader and the matcher themselves: a checker that accepts anything proves nothing -------


def test_curl_examples_are_read_with_continuations_multiline_bodies_and_comments() -> None:
    text = (
        "```sh\n"
        "make run   # not curl\n"
        "curl -s -X POST localhost:8000/v1/jobs -H 'Content-Type: application/json' \\\n"
        '     -d \'{"a": 1,\n'
        '          "b": "#x"}\'\n'
        '# 202 {"a": 1, …}\n'
        "\n"
        'curl -s "localhost:8000/v1/jobs?status=failed&limit=2"   # 200 [] and prose\n'
        "```\n"
    )
    first, second = curl_examples(text)
    assert first.words == [
        "curl",
        "-s",
        "-X",
        "POST",
        "localhost:8000/v1/jobs",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"a": 1,\n          "b": "#x"}',
    ]
    assert (first.line, first.shown) == (3, '202 {"a": 1, …}')
    assert second.words == ["curl", "-s", "localhost:8000/v1/jobs?status=failed&limit=2"]
    assert second.shown == "200 [] and prose"
    request = to_request(second.words, "http://127.0.0.1:1", {})
    assert (request.method, request.url) == (
        "GET",
        "http://127.0.0.1:1/v1/jobs?status=failed&limit=2",
    )


@pytest.mark.parametrize(
    ("shown", "actual"),
    [
        ('{"status": "succeeded", …}', {"status": "failed", "tries": 1}),
        ('{"status": "ok"}', {"status": "ok", "extra": 1}),
        ('{"tries": 1, …}', {"tries": True}),
        ('[{"name": "echo", …}, …]', []),
        ('{"jobs": [{…}], …}', {"jobs": [{}, {}]}),
        ('{"job_id": "cron:sweep:…"}', {"job_id": "cron:queue_stats:1"}),
        ('{"next_cursor": null}', {"next_cursor": "abc"}),
    ],
)
def test_a_response_that_differs_from_what_is_shown_is_reported(shown: str, actual: Any) -> None:
    assert mismatch(parse_pattern(shown), actual) is not None


@pytest.mark.parametrize(
    ("shown", "actual"),
    [
        ('{"a": 1, …, "b": {…x…}}', {"a": 1.0, "b": {"c": 2}, "d": 3}),
        ('[{"s": 202, …}, …, {"s": 422, …}]', [{"s": 202}, {"s": 200}, {"s": 422}]),
        ('{"list": […any list…], "id": "ab…", "n": …}', {"list": [], "id": "abc", "n": None}),
    ],
)
def test_a_response_holding_what_is_shown_matches(shown: str, actual: Any) -> None:
    assert mismatch(parse_pattern(shown), actual) is None
