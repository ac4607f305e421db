"""A tiny hostile HTTP server on loopback, for what the emulator cannot do wrong on purpose.

The emulator misbehaves the way TikTok does (codes, timeouts, dropped connections). These
servers misbehave the way a broken proxy or an attacker at the configured base URL would: an
answer trickled one byte at a time, a body of hundreds of megabytes, secrets echoed back in any
shape. Each answer is written raw to the socket, so nothing in the standard library's HTTP
server smooths it over.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_PREFIX = "/open_api/v1.3/"


@dataclass
class Request:
    method: str
    path: str  # after /open_api/v1.3/, without the query
    query: str
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived


# Writes the whole answer (status line, headers, body) to the socket; `stop` is set when the
# test is over, so a trickle ends with it.
Answer = Callable[[Request, Any, threading.Event], None]


@dataclass
class HostileServer:
    base_url: str
    requests: list[Request] = field(default_factory=list)


def envelope(code: int, message: str = "OK", request_id: str = "hostile", **data: Any) -> bytes:
    return json.dumps(
        {"code": code, "message": message, "request_id": request_id, "data": data}
    ).encode()


def write_json(wfile: Any, body: bytes, headers: dict[str, str] | None = None) -> None:
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
    for name, value in (headers or {}).items():
        head += f"{name}: {value}\r\n"
    wfile.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)


def trickle(interval: float) -> Answer:
    """A valid envelope (code 0), status line included, one byte every `interval` seconds."""

    def answer(request: Request, wfile: Any, stop: threading.Event) -> None:
        body = envelope(0, list=[], page_info={"total_page": 1})
        whole = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        for i in range(len(whole)):
            if stop.wait(interval):
                return
            wfile.write(whole[i : i + 1])
            wfile.flush()

    return answer


def small(code: int) -> Answer:
    """A well-formed, small error envelope at once (a baseline beside the hostile answers)."""

    def answer(request: Request, wfile: Any, stop: threading.Event) -> None:
        write_json(wfile, envelope(code, "refused"))

    return answer


def huge(size: int, *, declare_length: bool) -> Answer:
    """HTTP 200 and `size` bytes of a JSON string, with or without a Content-Length."""
    chunk = b"a" * (1 << 20)

    def answer(request: Request, wfile: Any, stop: threading.Event) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        if declare_length:
            head += f"Content-Length: {size}\r\n".encode()
        wfile.write(head + b"\r\n" + b'{"code": 0, "message": "')
        sent = 0
        while sent < size and not stop.is_set():
            wfile.write(chunk)
            sent += len(chunk)

    return answer


@contextmanager
def hostile_server(answer: Answer) -> Iterator[HostileServer]:
    """Serve `answer` to every request on a free loopback port until the block ends."""
    stop = threading.Event()
    server_state = HostileServer(base_url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            request = Request(self.command, path.removeprefix(API_PREFIX), query, body)
            server_state.requests.append(request)
            # The client giving up on us mid-answer is what it should do.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                answer(request, self.wfile, stop)
            self.close_connection = True

        do_GET = do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test reads `requests`, not stderr

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server_state.base_url = f"http://127.0.0.1:{server.server_address[1]}{API_PREFIX}"
    try:
        yield server_state
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        time.sleep(0.05)  # let handler threads see `stop`
