"""Snowflake for the engine tests, through the local double fakesnow (a DOUBLE, not Snowflake).

fakesnow's server mode speaks Snowflake's HTTP protocol on loopback, so the real
`snowflake-connector-python` and `dbt-snowflake` run unchanged. It translates each statement to
DuckDB with sqlglot and runs it there: it checks our Snowflake SQL's dialect and logic, not
Snowflake's own regex or hash functions.

The server runs in its own process (`python tests/engines/snowflake.py serve DIR`): it binds a
free loopback port itself and writes it to DIR/port. Every session shares one DuckDB database per
Snowflake database, kept as a file DIR/<DATABASE>.db, so the tables one `dbt build` leaves are
there for the next one and for `query()` here, for as long as the server runs (and after a
restart on the same DIR). `stop()` ends the process and removes DIR.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

NAME = "snowflake"
IS_DOUBLE = True
DATABASE = "TIKTOK_SYNC"
SCHEMA = "ANALYTICS"
# What fakesnow's own server() hands its clients; fakesnow checks none of them.
_CONNECT = {"account": "fakesnow", "user": "fake", "password": "snow", "protocol": "http"}
# What a server's directory holds besides its databases.
_NOT_DATA = shutil.ignore_patterns("port", "port.tmp", "server.log")
_MODULES = ("fakesnow", "uvicorn", "starlette", "snowflake.connector", "dbt.adapters.snowflake")


def unavailable_reason() -> str | None:
    """None when the double can run here, else why not (a missing package)."""
    missing = [m for m in _MODULES if not _installed(m)]
    if missing:
        return (
            f"Snowflake double not installed (missing {', '.join(missing)}): "
            "pip install 'fakesnow[server]' 'dbt-snowflake>=1.11,<1.12'"
        )
    return None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


class SnowflakeEngine:
    """One fakesnow server process on a free loopback port, with its data in a temp dir."""

    def __init__(self, parent: Path | None = None) -> None:
        self.parent = parent
        self.dir = Path()
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Any = None

    def start(self, timeout: float = 60.0, data: Path | None = None) -> SnowflakeEngine:
        """`data`: another server's directory, to start on a copy of its databases (files that
        DuckDB reopens with their write-ahead logs; its server must not write meanwhile)."""
        self.dir = Path(tempfile.mkdtemp(prefix="fakesnow-", dir=self.parent))
        if data is not None:
            shutil.copytree(data, self.dir, dirs_exist_ok=True, ignore=_NOT_DATA)
        log = (self.dir / "server.log").open("ab")
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "serve", str(self.dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # fakesnow makes a stage directory with mkdtemp at import and never removes it.
            env={**os.environ, "TMPDIR": str(self.dir)},
        )
        log.close()
        port_file = self.dir / "port"
        deadline = time.monotonic() + timeout
        while not port_file.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = (self.dir / "server.log").read_text()[-2000:]
                self.stop()
                raise RuntimeError(f"fakesnow server did not start:\n{tail}")
            time.sleep(0.1)
        self.port = int(port_file.read_text())
        return self

    def stop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # the server may be gone already
                conn.close()
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> SnowflakeEngine:
        return self if self._process is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def profile_output(self, schema: str = SCHEMA, threads: int = 1) -> dict[str, Any]:
        """The dbt profile output for dbt-snowflake against this server."""
        return {
            "type": "snowflake",
            **_CONNECT,
            "host": "127.0.0.1",
            "port": self.port,
            "database": DATABASE,
            "warehouse": "FAKESNOW",
            "schema": schema,
            "threads": threads,
            # One try, short timeouts: a failing double should fail fast, not retry for minutes.
            "connect_retries": 0,
            "connect_timeout": 10,
        }

    def connect(self, schema: str = SCHEMA) -> Any:
        """A new snowflake-connector-python connection to this server (the driver dbt uses)."""
        import snowflake.connector

        return snowflake.connector.connect(
            **_CONNECT,
            host="127.0.0.1",
            port=self.port,
            database=DATABASE,
            schema=schema,
            warehouse="FAKESNOW",
            login_timeout=10,
        )

    def relation(self, name: str, schema: str = SCHEMA) -> str:
        """A table or view of `schema` for query() (unquoted: Snowflake upper-cases it, as dbt
        created it)."""
        return f"{DATABASE}.{schema}.{name}"

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self._conn is None:
            self._conn = self.connect()
        cursor = self._conn.cursor()
        try:
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()


def start(parent: Path | None = None) -> SnowflakeEngine:
    return SnowflakeEngine(parent).start()


def _teach_qualified_temporary_tables() -> None:
    """Let the double create `temporary table db.schema.t`, as dbt's unit tests do.

    fakesnow 0.12 hands it to DuckDB, which refuses: `Parser Error: TEMPORARY table names can
    *only* use the "temp" catalog`. Snowflake allows it, and dbt-snowflake's unit-test
    materialization creates `<db>.<schema>.<unit test>__dbt_tmp` that way only to read its column
    types, then drops it. So in the double such a table becomes an ordinary table in that schema:
    visible to other sessions until dbt drops it, which no test here relies on either way.
    Unqualified temporary tables, which fakesnow supports, are left alone.
    """
    from fakesnow.cursor import FakeSnowflakeCursor
    from sqlglot import exp

    transform = FakeSnowflakeCursor._transform

    def _transform(self: FakeSnowflakeCursor, expression: exp.Expr, params: Any) -> exp.Expr:
        if (
            isinstance(expression, exp.Create)
            and str(expression.args.get("kind")).upper() == "TABLE"
        ):
            table = expression.find(exp.Table)
            if table is not None and (table.catalog or table.db):
                for temporary in list(expression.find_all(exp.TemporaryProperty)):
                    temporary.pop()
        return transform(self, expression, params)

    FakeSnowflakeCursor._transform = _transform  # type: ignore[method-assign]


class RetriedQueries:
    """Snowflake's answer to a retried query, which fakesnow lacks: an ASGI layer in front of it.

    The connector gives a query request 60 seconds to answer (DEFAULT_SOCKET_CONNECT_TIMEOUT in
    snowflake/connector/network.py) and then sends it again with the same `requestId`. Snowflake
    answers long queries early and has the client poll, and runs a request id once; fakesnow
    runs every request it gets, on the session's one DuckDB connection. On a loaded machine a
    seed's INSERT can take longer than 60 s there, and the retry then fails with DuckDB's
    "connection is busy" (or, after the first ended, would run the INSERT twice). Here a
    request id runs once: a retry waits for the first request's answer and gets it too."""

    KEEP = 1024  # answers kept for retries that arrive after the first request ended

    def __init__(self, app: Any) -> None:
        self.app = app
        self._answers: dict[str, Any] = {}  # request id -> Future of the response's messages

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import asyncio
        from urllib.parse import parse_qs

        request_id = None
        if scope["type"] == "http" and scope.get("path") == "/queries/v1/query-request":
            query = parse_qs(scope.get("query_string", b"").decode())
            request_id = (query.get("requestId") or [None])[0]
        if request_id is None:
            await self.app(scope, receive, send)
            return
        answer = self._answers.get(request_id)
        if answer is None:
            answer = asyncio.get_running_loop().create_future()
            self._answers[request_id] = answer
            while len(self._answers) > self.KEEP:
                self._answers.pop(next(iter(self._answers)))
            messages: list[Any] = []

            async def keep(message: Any) -> None:
                messages.append(message)

            try:
                await self.app(scope, receive, keep)
            except BaseException as exc:
                answer.set_exception(exc)
                raise
            answer.set_result(messages)
        for message in await asyncio.shield(answer):
            await send(message)


def _serve(directory: Path) -> None:
    """The server process: fakesnow's app on a free loopback port, data in `directory`."""
    import socket

    import uvicorn
    from fakesnow.instance import FakeSnow

    # The package's own `fakesnow.server` is a function that shadows this module's name.
    app_module = importlib.import_module("fakesnow.server")

    _teach_qualified_temporary_tables()
    # Sessions share one instance (as fakesnow's server does by default), file-backed here.
    app_module.shared_fs = FakeSnow(db_path=directory)  # type: ignore[attr-defined]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            RetriedQueries(app_module.app), log_level="warning", timeout_graceful_shutdown=5
        )
    )
    tmp = directory / "port.tmp"
    tmp.write_text(str(port))

    # Announce the port only once uvicorn listens on the socket.
    startup = server.startup

    async def announce(sockets: list[socket.socket] | None = None) -> None:
        await startup(sockets=sockets)
        os.replace(tmp, directory / "port")

    server.startup = announce  # type: ignore[method-assign]

    # Should the process that started us die without stop(), leave nothing behind.
    parent = os.getppid()

    def orphaned() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        shutil.rmtree(directory, ignore_errors=True)
        os._exit(0)

    threading.Thread(target=orphaned, daemon=True).start()
    server.run(sockets=[sock])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        # Run as a script, this folder comes first on sys.path, and this file would shadow
        # the `snowflake` package fakesnow imports.
        sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
        _serve(Path(sys.argv[2]))
    else:
        sys.exit(f"usage: {sys.argv[0]} serve DIR")
