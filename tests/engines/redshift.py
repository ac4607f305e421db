"""A DOUBLE of Redshift for the engine tests: the real PostgreSQL server of
tests/engines/postgres.py, reached by redshift_connector (the driver dbt-redshift opens) through a
startup shim.

Redshift speaks PostgreSQL's wire protocol, but redshift_connector cannot connect to
PostgreSQL as it is. Tried against PostgreSQL 15:

1. its startup packet carries Redshift's own parameters (`client_protocol_version`,
   `driver_version`, `os_version`, `driver_discovery_version`), and PostgreSQL refuses the
   connection: FATAL 42704 "unrecognized configuration parameter "client_protocol_version"";
2. without them, it parses the server's `server_version` with `packaging.version` and fails on
   Debian's "15.18 (Debian 15.18-0+deb12u1)" (InvalidVersion).

`StartupShim` is a loopback proxy in front of the server that changes exactly those two things
and nothing after the first ReadyForQuery: it forwards only the startup parameters PostgreSQL
knows (user, database, application_name, options) and reports `server_version` as 8.0.2, what
Redshift reports (the driver then counts rows as it does on Redshift). Without the
`server_protocol_version` answer Redshift gives, the driver falls back to its base protocol
(text results), as it does with an old Redshift. Everything else is the real driver and the real
server: the extended protocol with bound parameters, DECLARE/FETCH cursors, transactions, errors.

The server is set up as Redshift reads SQL where the project relies on it:
`standard_conforming_strings` off once the demo is built (`read_literals_as_redshift`: Redshift
reads backslash escapes in ordinary literals, which the redshift__ literal macros are written
for), and the two Redshift functions the project calls that PostgreSQL lacks, defined from
Redshift's documentation: `sha2(text, bits)` (the hex text of the SHA-2 digest of the UTF-8
bytes, '' for an unknown bit length; docs: SHA2) and `getdate()` (the session's time, UTC, to the
second: what dbt-redshift's current_timestamp_in_utc_backcompat renders, which
redshift__check_sync_lock compares leases with; docs: GETDATE).

What the double does NOT show is Redshift itself: its SQL dialect (no ON CONFLICT, no advisory
locks, VARCHAR(256) for TEXT, leader-node cursors, the 1,000-row FETCH limit of single-node
clusters), its isolation (serializable) and its catalog. PostgreSQL runs the same statements with
its own semantics.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

from tests.engines.postgres import DATABASE, SUPERUSER, PostgresServer
from tests.engines.postgres import unavailable_reason as postgres_unavailable

NAME = "redshift"
IS_DOUBLE = True
SCHEMA = "tiktok_sync"

# The startup parameters PostgreSQL accepts from redshift_connector; the rest are Redshift's.
_KEPT = {b"user", b"database", b"application_name", b"options"}
_SSL_REQUEST = 80877103
REDSHIFT_SERVER_VERSION = b"8.0.2"

# Redshift's functions the project calls that PostgreSQL lacks, created on the fresh database.
REDSHIFT_FUNCTIONS = (
    "create function public.sha2(text, integer) returns varchar language sql immutable as $$ "
    "select case $2 "
    "when 0 then encode(sha256(convert_to($1, 'UTF8')), 'hex') "
    "when 224 then encode(sha224(convert_to($1, 'UTF8')), 'hex') "
    "when 256 then encode(sha256(convert_to($1, 'UTF8')), 'hex') "
    "when 384 then encode(sha384(convert_to($1, 'UTF8')), 'hex') "
    "when 512 then encode(sha512(convert_to($1, 'UTF8')), 'hex') "
    "else '' end $$",
    "create function public.getdate() returns timestamp language sql stable as $$ "
    "select date_trunc('second', now() at time zone 'UTC') $$",
)


def unavailable_reason() -> str | None:
    try:
        import dbt.adapters.redshift  # noqa: F401
        import redshift_connector  # noqa: F401
    except ImportError:
        return "dbt-redshift is not installed (pip install 'tiktok-audience-sync[redshift]')"
    return postgres_unavailable()


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class StartupShim:
    """A loopback port that forwards to PostgreSQL, rewriting only the startup exchange."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.dropped: set[str] = set()  # the parameters the driver sent that were left out
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(32)
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._sockets.append(client)
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            (length,) = struct.unpack("!i", _recv_exact(client, 4))
            body = _recv_exact(client, length - 4)
            if struct.unpack("!i", body[:4])[0] == _SSL_REQUEST:
                client.sendall(b"N")  # no TLS on loopback (the profile says sslmode: disable)
                return self._connect(client)
            fields = body[4:].split(b"\0")
            pairs = [(fields[i], fields[i + 1]) for i in range(0, len(fields) - 1, 2) if fields[i]]
            self.dropped |= {key.decode() for key, _ in pairs if key not in _KEPT}
            payload = body[:4] + b"".join(k + b"\0" + v + b"\0" for k, v in pairs if k in _KEPT)
            payload += b"\0"
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._sockets.append(upstream)
            upstream.sendall(struct.pack("!i", len(payload) + 4) + payload)
            threading.Thread(target=self._answer, args=(upstream, client), daemon=True).start()
            _pipe(client, upstream)
        return None

    def _answer(self, upstream: socket.socket, client: socket.socket) -> None:
        """The server's startup messages, `server_version` as Redshift's; then a plain pipe."""
        with contextlib.suppress(OSError, ConnectionError):
            while True:
                head = _recv_exact(upstream, 5)
                kind = head[:1]
                body = _recv_exact(upstream, struct.unpack("!i", head[1:])[0] - 4)
                if kind == b"S" and body.startswith(b"server_version\0"):
                    body = b"server_version\0" + REDSHIFT_SERVER_VERSION + b"\0"
                    head = kind + struct.pack("!i", len(body) + 4)
                client.sendall(head + body)
                if kind in (b"Z", b"E"):  # ready for query, or the login failed
                    break
            _pipe(upstream, client)


class RedshiftDouble:
    """A PostgreSQL server and the shim in front of it."""

    def __init__(self) -> None:
        self.server = PostgresServer()
        self.shim: StartupShim | None = None

    def start(self) -> RedshiftDouble:
        self.server.start()
        for statement in REDSHIFT_FUNCTIONS:
            self.server.query(statement)
        self.shim = StartupShim(self.server.port)
        return self

    def read_literals_as_redshift(self) -> None:
        """From now on, sessions read backslash escapes in ordinary literals, as Redshift does
        (after dbt-postgres built the demo: its postgres__ literals assume the standard)."""
        self.server.query(f'alter database "{DATABASE}" set standard_conforming_strings = off')

    def stop(self) -> None:
        if self.shim is not None:
            self.shim.close()
            self.shim = None
        self.server.stop()

    def profile_output(self, schema: str = SCHEMA, password: str = "unused") -> dict[str, Any]:
        """A dbt-redshift profile output pointing at the shim (trust authentication: the
        password is not checked)."""
        assert self.shim is not None, "not started"
        return {
            "type": "redshift",
            "host": "127.0.0.1",
            "port": self.shim.port,
            "user": SUPERUSER,
            "password": password,
            "dbname": DATABASE,
            "schema": schema,
            "threads": 1,
            "sslmode": "disable",
            # No connect_timeout: dbt-redshift hands it to redshift_connector as the socket's
            # timeout, which then bounds every statement too (the demo's phone normaliser runs
            # longer than 10 s on PostgreSQL, unfenced as on Redshift).
            "retries": 1,
        }

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Unqualified names are the target schema's (psycopg2, straight to the server)."""
        return self.server.query(f"set search_path to {SCHEMA}; {sql}")


@contextlib.contextmanager
def start() -> Iterator[RedshiftDouble]:
    double = RedshiftDouble().start()
    try:
        yield double
    finally:
        double.stop()
