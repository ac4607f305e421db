"""The HTTP side: a threading server on loopback that speaks TikTok's wire format.

Order of checks for an API request, as TikTok's gateway does it (docs/tiktok-api.md §1, §5): route
(plain HTTP 404/405, never the envelope) -> Access-Token (40104/40105) -> rate limit (40100) ->
injected fault -> the endpoint. Every API answer is HTTP 200 with `{code, message, request_id,
data}`.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

from sync.emulator import control, errors, faults, multipart, requestlog
from sync.emulator.config import EmulatorConfig, EmulatorConfigError
from sync.emulator.endpoints import ENDPOINTS
from sync.emulator.errors import ApiError, HttpError
from sync.emulator.params import ApiRequest, parse_json
from sync.emulator.state import State

API_PREFIX = "/open_api/v1.3/"
CONTROL_PREFIX = control.PREFIX
# Room for multipart overhead above the file limit; anything larger is refused before reading.
BODY_SLACK = 16 * 1024 * 1024

logger = logging.getLogger(__name__)


class _BodyTooLarge(Exception):
    pass


# Linux's SO_TIMESTAMPNS, which the socket module does not name: the kernel stamps each packet it
# receives with the wall-clock time, and recvmsg hands the stamp over as an SCM_TIMESTAMPNS
# message (the same number) holding a struct timespec.
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@qq")
_STAMPS = sys.platform == "linux"


class _StampedReader(io.RawIOBase):
    """A connection's raw reads, noting when the kernel received the first bytes read since
    `received` was last cleared.

    A gateway counts a request when it reaches it. The emulator's handler thread notices a
    request only when it gets the interpreter, which a busy emulator (parsing another request's
    1.2 MB of JSON, on a machine it shares with the client) can hold for tens of milliseconds,
    enough to make ten requests sent 105 ms apart look like eleven in one second.
    """

    def __init__(self, connection: socket.socket) -> None:
        super().__init__()
        self._connection = connection
        self.received: float | None = None  # time.time(), per the kernel

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        # The socket's timeout applies (TimeoutError), as to StreamRequestHandler's own reads.
        n, ancdata, _flags, _address = self._connection.recvmsg_into([buffer], _TIMESPEC.size * 4)
        if self.received is None:
            for level, kind, data in ancdata:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                    seconds, nanoseconds = _TIMESPEC.unpack_from(data)
                    self.received = seconds + nanoseconds / 1e9
        return int(n)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a slow or idle connection never blocks stop()
    # socketserver's default backlog of 5 drops SYNs when a client opens more connections at once,
    # which costs a 1 s TCP retransmit per dropped connection.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: State) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.state = state
        super().__init__(address, _Handler)

    stamps = False  # whether the kernel stamps what connections receive (_StampedReader)

    def server_bind(self) -> None:
        if _STAMPS:
            # Set on the listening socket, the stamping covers the bytes a connection receives
            # before it is accepted; accepted connections inherit it.
            try:
                self.socket.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
                self.stamps = True
            except OSError:
                pass  # a kernel without it: arrivals are stamped when the handler notices them
        super().server_bind()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (timeouts, dropped connections) are expected, not worth a traceback.
        logger.debug("connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a pooled client expects
    server_version = "TikTokEmulator/1.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are closed after this many seconds
    # Headers and body go out in separate writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms per request on Linux).
    disable_nagle_algorithm = True
    server: _HTTPServer
    _stamped: _StampedReader | None = None

    def setup(self) -> None:
        super().setup()
        if not self.server.stamps:
            return
        # Buffered as StreamRequestHandler's own rfile, over a raw reader that keeps the stamp.
        self.rfile.close()
        self._stamped = _StampedReader(self.connection)
        self.rfile = io.BufferedReader(self._stamped)

    def handle_one_request(self) -> None:
        if self._stamped is not None:
            self._stamped.received = None  # the next read from the socket begins the request
        super().handle_one_request()

    def _arrival(self) -> tuple[float, float]:
        """(time.monotonic(), time.time()) of the request's arrival: when the kernel received
        its first bytes where it says so, else now (its headers read)."""
        monotonic, wall = time.monotonic(), time.time()
        received = self._stamped.received if self._stamped is not None else None
        if received is None or received > wall:
            return monotonic, wall  # already buffered (a pipelined request): no stamp of its own
        return monotonic - (wall - received), received

    def log_message(self, format: str, *args: Any) -> None:
        # http.server's access line holds the full request line, query string included, and
        # oauth2/advertiser/get/ carries the app secret there: log the path without the query.
        line = format % args
        if "?" in line:
            line = re.sub(r"\?[^ \"]*", "?[query redacted]", line)
        logger.debug("%s - %s", self.address_string(), line)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    # --- plumbing --------------------------------------------------------------------------

    def _dispatch(self) -> None:
        # When the request arrived: what the rate limit counts and the log's `time` and
        # `duration_ms` start from.
        started, arrived_at = self._arrival()
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            body = self._read_body()
        except _BodyTooLarge as exc:
            self.close_connection = True
            self._send(413, str(exc).encode(), "text/plain; charset=utf-8")
            return
        except ValueError as exc:
            self.close_connection = True
            self._send(400, str(exc).encode(), "text/plain; charset=utf-8")
            return
        if url.path.startswith(CONTROL_PREFIX):
            relative = url.path[len(CONTROL_PREFIX) :]
            status, payload = control.handle(self.server.state, self.command, relative, query, body)
            self._send(status, json.dumps(payload).encode(), "application/json")
            return
        self._api(url.path, query, body, started, arrived_at)

    def _read_body(self) -> bytes:
        limit = self.server.state.config.max_file_bytes + BODY_SLACK
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        raw_length = self.headers.get("Content-Length") or "0"
        if not raw_length.isdigit():
            raise ValueError("invalid Content-Length")
        length = int(raw_length)
        if length > limit:
            raise _BodyTooLarge(f"request body of {length} bytes is too large")
        return self.rfile.read(length)

    def _read_chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            size = int(size_line, 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > limit:
                raise _BodyTooLarge(f"request body over {limit} bytes is too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(
        self,
        status: int,
        payload: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
        trickle: float = 0.0,
    ) -> None:
        """Answer; with `trickle`, the body goes out a byte every `trickle` seconds."""
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if trickle:
                self._trickle(payload, trickle)
            else:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. a read timeout); fine

    def _trickle(self, payload: bytes, interval: float) -> None:
        """Each read gets a byte well within any read timeout, the whole answer takes
        len(payload) * interval seconds. A client that gives up closes the socket: the next
        write raises BrokenPipe or ConnectionReset, which ends this."""
        for index in range(len(payload)):
            self.wfile.write(payload[index : index + 1])
            self.wfile.flush()
            time.sleep(interval)

    # --- the TikTok API --------------------------------------------------------------------

    def _api(
        self,
        path: str,
        query: dict[str, list[str]],
        body: bytes,
        started: float,
        arrived_at: float,
    ) -> None:
        state = self.server.state
        headers = {name.lower(): value for name, value in self.headers.items()}
        content_type = headers.get("content-type", "")
        is_json = multipart.header_params(content_type)[0] == "application/json"
        parsed = parse_json(body) if body and is_json else None  # once, for the log and the API
        entry: dict[str, Any] = {
            "time": arrived_at,
            "request_id": None,
            "method": self.command,
            "path": path,
            "query": requestlog.redact_query(query),
            "access_token": requestlog.REDACTED if "access-token" in headers else None,
            "body": requestlog.summarise_body(content_type, body, parsed),
            # what travelled, for bench/: bodies over 1 MB are kept only summarised
            "body_bytes": len(body),
            "http_status": None,
            "code": None,
            "message": None,
            "fault": None,
        }
        relative = path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path
        request = ApiRequest(
            self.command, relative, query, headers, body, arrived=started, parsed=parsed
        )
        state.request_started()
        try:
            self._wait_latency(state, request.path)
            response = self._answer_api(state, request, entry)
        finally:
            state.request_finished()
        if response is not None:
            entry["http_status"] = response.status
        entry["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
        # Logged before answering: once a client has its response, the log already shows it.
        state.record_request(entry)
        if response is None:
            self.close_connection = True  # drop: not a byte of response
        else:
            self._send(
                response.status,
                response.payload,
                response.content_type,
                response.headers,
                response.trickle,
            )

    @staticmethod
    def _wait_latency(state: State, relative: str) -> None:
        """The configured round trip (config `latency`) of the path relative to the API prefix,
        before the request is handled and outside every lock, so requests side by side wait
        side by side."""
        fixed, jitter = state.config.latency_of(relative)
        delay = fixed + (random.uniform(0.0, jitter) if jitter else 0.0)
        if delay > 0:
            time.sleep(delay)

    def _answer_api(
        self, state: State, request: ApiRequest, entry: dict[str, Any]
    ) -> _Response | None:
        """The response to send, or None to close the connection without one."""
        relative = request.path
        endpoint = ENDPOINTS.get(relative)
        if endpoint is None:
            # docs/tiktok-api.md §1: a missing trailing slash (or any unknown path) is HTTP 404,
            # not an envelope.
            return _Response.text(404, "404 page not found")
        if self.command != endpoint.method:
            return _Response.text(405, "405 method not allowed", {"Allow": endpoint.method})
        request_id = state.next_request_id()
        entry["request_id"] = request_id
        fault: faults.FaultRule | None = None
        try:
            if endpoint.needs_token:
                _authenticate(state, request)
            fault = state.decide_fault(relative)  # only after auth succeeded
            if fault is not None:
                entry["fault"] = fault.kind
                if fault.kind in faults.NOT_APPLIED:
                    return _injected(fault, request_id, entry)
                if fault.kind == faults.SLOW:
                    time.sleep(fault.delay)  # outside every lock
                if fault.kind == faults.PARTIAL:
                    request = faults.partial_request(request)
            code, message, data = errors.OK, errors.MSG_OK, endpoint.handler(state, request)
        except ApiError as exc:
            code, message, data = exc.code, exc.message, {}
        except HttpError as exc:
            return _Response.text(exc.status, exc.text)
        except Exception:
            # An emulator bug must be loud: HTTP 500 and the traceback in the log, never a
            # retryable-looking envelope that a client would quietly retry.
            entry["internal_error"] = traceback.format_exc()
            logger.exception("emulator internal error on %s", relative)
            return _Response.text(500, "emulator internal error")
        if fault is not None and fault.kind == faults.APPLIED_THEN_DROP:
            entry["code"] = code  # what TikTok did, though the client never hears it
            return None
        if fault is not None and fault.kind == faults.APPLIED_THEN_ERROR:
            entry["applied_code"] = code
            code, message, data = fault.effective_code, fault.message, {}
        if (
            fault is not None
            and fault.kind == faults.PARTIAL
            and code == errors.OK
            and relative in faults.PARTIAL_PATHS
        ):
            code, message, data = fault.effective_code, fault.message, {}
        response = _envelope(request_id, code, message, data, entry)
        if fault is not None and fault.kind == faults.SLOW_BODY:
            return replace(response, trickle=fault.delay)
        return response


@dataclass(frozen=True)
class _Response:
    status: int
    payload: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0
    """Seconds between the body's bytes (a `slow_body` fault); 0 sends it at once."""

    @classmethod
    def text(cls, status: int, text: str, headers: dict[str, str] | None = None) -> _Response:
        return cls(status, text.encode(), "text/plain; charset=utf-8", headers or {})


def _injected(fault: faults.FaultRule, request_id: str, entry: dict[str, Any]) -> _Response | None:
    if fault.kind == faults.DROP:
        return None
    if fault.kind == faults.HTTP_5XX:
        # A gateway error page, not JSON: the client must not parse it as an envelope.
        status = fault.effective_code
        page = f"<html><body><h1>{status} Server Error</h1></body></html>"
        return _Response(status, page.encode(), "text/html; charset=utf-8")
    return _envelope(request_id, fault.effective_code, fault.message, {}, entry)


def _envelope(
    request_id: str, code: int, message: str, data: dict[str, Any], entry: dict[str, Any]
) -> _Response:
    entry["code"], entry["message"] = code, message
    payload = {"code": code, "message": message, "request_id": request_id, "data": data}
    # docs/tiktok-api.md §1: responses also carry X-TT-LOGID; same value as request_id here.
    return _Response(
        200, json.dumps(payload).encode(), "application/json", {"X-Tt-Logid": request_id}
    )


def _authenticate(state: State, request: ApiRequest) -> None:
    token = request.header("Access-Token")
    if not token:
        raise ApiError(errors.TOKEN_EMPTY, errors.MSG_TOKEN_EMPTY)
    advertiser_ids = state.token_advertisers(token)
    if advertiser_ids is None:
        raise ApiError(errors.TOKEN_INVALID, errors.MSG_TOKEN_INVALID)
    # docs/tiktok-api.md §5.1: HTTP 200 + 40100, no 429, no rate-limit headers.
    if not state.allow_request(token, request.arrived):
        raise ApiError(errors.RATE_LIMITED, errors.MSG_RATE_LIMITED)
    request.token = token
    request.token_advertisers = advertiser_ids


class Emulator:
    """A local TikTok Business API on loopback, plus in-process views of what it holds.

    >>> with Emulator() as emu:            # doctest: +SKIP
    ...     requests.get(emu.base_url + "dmp/custom_audience/list/", ...)
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        config = config if config is not None else EmulatorConfig.default()
        config.validate()
        self._state = State(config)
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._root = ""
        self._address: tuple[str, int] = ("", 0)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a daemon thread; return the API base URL (…/open_api/v1.3/)."""
        if self._server is not None:
            raise RuntimeError("emulator already started")
        server = _HTTPServer((host, port), self._state)
        bound_host, bound_port = server.server_address[:2]
        host_text = bound_host.decode() if isinstance(bound_host, bytes) else str(bound_host)
        shown = f"[{host_text}]" if ":" in host_text else host_text
        self._root = f"http://{shown}:{bound_port}"
        self._address = (host_text, int(bound_port))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"tiktok-emulator-{bound_port}",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is None:
            return
        server = self._server
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        # serve_forever only notices shutdown between polls; an empty connection wakes it now
        # rather than after poll_interval, which adds up over hundreds of tests.
        time.sleep(0.001)
        with contextlib.suppress(OSError):
            socket.create_connection(self._address, timeout=1).close()
        stopper.join(timeout=5)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None
        self._root = ""

    def __enter__(self) -> Emulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._url(API_PREFIX)

    @property
    def control_url(self) -> str:
        return self._url(CONTROL_PREFIX)

    def _url(self, prefix: str) -> str:
        if not self._root:
            raise RuntimeError("emulator not started")
        return self._root + prefix

    # --- in-process mirror of the control API -------------------------------------------

    @property
    def config(self) -> EmulatorConfig:
        """A copy of the current config; change limits with configure()."""
        return copy.deepcopy(self._state.config)

    def members(self, audience_id: str) -> dict[str, set[str]]:
        """Members per id type; KeyError for an unknown audience."""
        return self._state.members(audience_id)

    def audiences(self, advertiser_id: str | None = None) -> list[dict[str, Any]]:
        return [control.audience_summary(v) for v in self._state.views(advertiser_id)]

    def requests(self) -> list[dict[str, Any]]:
        return self._state.requests()

    def clear_requests(self) -> None:
        self._state.clear_requests()

    def set_faults(self, rules: Sequence[Mapping[str, Any]], seed: int = 0) -> None:
        """Replace the fault rules (same shape as POST /_emulator/faults/); ValueError if bad."""
        self._state.set_faults([dict(rule) for rule in rules], seed)

    def clear_faults(self) -> None:
        self._state.clear_faults()

    def faults(self) -> dict[str, Any]:
        return self._state.faults()

    def configure(self, **changes: Any) -> None:
        """Change run-time limits (qps, processing_seconds, …) like POST /_emulator/config/."""
        status, payload = control.handle(
            self._state, "POST", "config/", {}, json.dumps(changes).encode()
        )
        if status != 200:
            raise ValueError(payload["error"])

    def in_flight(self) -> dict[str, int]:
        """{"in_flight", "peak"}: API requests handled now, and the most at once."""
        return self._state.in_flight()

    def reset(self) -> None:
        self._state.reset()

    def internal_errors(self) -> list[str]:
        """Tracebacks of emulator bugs hit while serving; tests assert this stays empty."""
        return [r["internal_error"] for r in self._state.requests() if "internal_error" in r]


def _refuse(message: str) -> NoReturn:
    """One line on stderr and exit 2: the command line or the config file is wrong."""
    print(f"tiktok emulator: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def run_forever(host: str, port: int, config_path: str | None) -> None:
    """Serve until Ctrl-C or SIGTERM; print one line with the base URL first."""
    try:
        config = EmulatorConfig.load(config_path) if config_path else EmulatorConfig.default()
    except EmulatorConfigError as exc:
        _refuse(str(exc))
    emulator = Emulator(config)
    try:
        base_url = emulator.start(host=host, port=port)
    except (OSError, OverflowError) as exc:  # in use, not allowed; or no port at all (80000)
        _refuse(f"cannot listen on {host}:{port} ({exc}); pick another --port")
    stopping = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, _on_signal)
    print(f"TikTok emulator listening on {base_url}", flush=True)
    try:
        while not stopping.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
