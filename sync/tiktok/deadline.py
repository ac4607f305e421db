"""A total deadline per request: connecting, sending and the whole answer, not each socket read.

`requests`' read timeout applies to every single read of the socket, so a server that trickles
its answer (a byte every half second, status line and headers included) keeps a request alive
for ever under any read timeout. A timer per request closes the socket at the
deadline instead: the blocked read returns at once, `requests` raises, and the client says "no
complete answer within N s". The socket belongs to urllib3's connection object, which `requests`
does not expose until the headers are in, so the session's adapter uses connection classes that
note, per thread, the connection the current request is using.

Everything else (pooling, TLS, proxies by `HTTP(S)_PROXY`) stays `requests`' own. A SOCKS proxy
uses other connection classes and gets only the per-read timeout.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# The deadline the current thread's request runs under, if any (set by `deadline`).
_current = threading.local()


def _note(connection: HTTPConnection) -> None:
    state: Deadline | None = getattr(_current, "state", None)
    if state is not None:
        state.connection = connection


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _note(self)  # before sending: the socket it opens is the one to close
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _note(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


def watch(session: requests.Session) -> None:
    """Make `session`'s http(s) connections closable by `deadline` (mounts our adapter)."""
    for prefix in ("https://", "http://"):
        session.mount(prefix, _WatchedAdapter())


@dataclass
class Deadline:
    """Whether the timer fired: the request failed because its time was up, not by itself."""

    seconds: float
    expired: bool = False
    connection: HTTPConnection | None = None
    _done: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sock = getattr(self.connection, "sock", None)
            if sock is not None:
                # shutdown wakes a read blocked in another thread; close alone may not.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Close the current thread's connection if the block has not ended within `seconds`.

    Wrap the request and the reading of its whole body. Closing happens under a lock with the
    block's end, so a connection that answered in time is never closed under the pool's feet.
    """
    state = Deadline(seconds)
    _current.state = state
    timer = threading.Timer(seconds, state.expire)
    timer.daemon = True
    timer.start()
    try:
        yield state
    finally:
        with state._lock:
            state._done = True
        timer.cancel()
        _current.state = None
