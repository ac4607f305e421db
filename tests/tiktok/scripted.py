"""A scripted TikTok stand-in: a real HTTP server on loopback that answers from a queue.

The client is exercised over real sockets (timeouts, dropped connections, multipart bodies),
not through a patched `requests`. Each test queues the replies it wants, in order, and reads back
what the client sent. A request with nothing queued gets HTTP 418, which the client reports as a
`RequestError`, so an unexpected extra request fails the test loudly.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "tok-SUPERSECRET-123"
APP_ID = "app-42"
APP_SECRET = "appsecret-SUPERSECRET-456"
AUTH_CODE = "authcode-SUPERSECRET-789"
ADVERTISER = "7000000000000000001"
API_PREFIX = "/open_api/v1.3/"


@dataclass
class Reply:
    """One scripted answer. `body` is a dict (sent as JSON) or raw bytes."""

    body: dict[str, Any] | bytes = b""
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering (to outlast a read timeout)
    drop: bool = False  # close the connection without answering


def ok(data: dict[str, Any] | None = None, *, code: int = 0, message: str = "OK") -> Reply:
    return Reply({"code": code, "message": message, "request_id": "req-ok", "data": data or {}})


def fail(code: int, message: str, *, request_id: str = "req-err") -> Reply:
    """TikTok's usual error shape: HTTP 200 with a non-zero code."""
    return Reply({"code": code, "message": message, "request_id": request_id, "data": {}})


@dataclass
class Recorded:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: Message
    body: bytes

    @property
    def endpoint(self) -> str:
        """The path relative to the API base, e.g. "segment/mapping/"."""
        return self.path.removeprefix(API_PREFIX)

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, Any]:
        """Multipart fields: text fields as str, file fields as (filename, bytes, content type)."""
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + self.body)
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            filename = part.get_filename()
            if filename is None:
                fields[str(name)] = payload.decode()
            else:
                fields[str(name)] = (filename, payload, part.get_content_type())
        return fields


@dataclass
class ScriptedServer:
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                server.requests.append(
                    Recorded(self.command, url.path, parse_qs(url.query), self.headers, body)
                )
                reply = server.replies.popleft() if server.replies else Reply(b"unscripted", 418)
                time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    return
                payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body)
                data = payload.encode() if isinstance(payload, str) else payload
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up waiting (read-timeout tests)
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{API_PREFIX}"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
