"""A local HTTP server that answers webhook calls with scripted status codes, and an
in-process client that records what a webhook sends."""

import json
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from scripts.processes import free_port


def recording_client() -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    """An HTTP client whose every request is kept (in the list) and answered 204, in process."""
    sent: list[httpx.Request] = []

    def target(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    return httpx.AsyncClient(transport=httpx.MockTransport(target)), sent


class WebhookTarget:
    """`script(name, [500, 503, 200])`: calls to `/{name}` get those statuses in turn (the last
    one repeats); `hits[name]` records each call's JSON body and headers (`headers` as a dict,
    `raw_headers` as sent: every line, repeats and case kept)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.hits: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._scripts: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, name: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/{name}"

    def script(self, name: str, statuses: list[int]) -> None:
        with self._lock:
            self._scripts[name] = list(statuses)

    def _next_status(self, name: str) -> int:
        with self._lock:
            statuses = self._scripts.get(name, [200])
            return statuses.pop(0) if len(statuses) > 1 else statuses[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                name = self.path.strip("/")
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"null")
                with target._lock:
                    target.hits[name].append(
                        {
                            "body": body,
                            "headers": dict(self.headers),
                            "raw_headers": self.headers.items(),
                        }
                    )
                self.send_response(target._next_status(name))
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
