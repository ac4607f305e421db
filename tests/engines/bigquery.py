"""BigQuery for the engine tests, through the local emulator crucible (a DOUBLE, not BigQuery).

crucible-emulator (PyPI, pre-alpha) serves BigQuery's REST API on loopback; dbt-bigquery and
google-cloud-bigquery reach it through `api_endpoint` with a dummy OAuth token, so both run
unchanged. It translates each statement to DuckDB with sqlglot and runs it there: it checks our
BigQuery SQL's dialect and logic, not BigQuery's own regex or hash functions. What it refuses, it
refuses with "Not supported by Crucible: ..." rather than guessing.

crucible-emulator 0.1.0a2 pins duckdb==1.5.6 and this project needs duckdb 2, so the emulator
lives in a virtualenv of its own and runs as a separate process:

    python3 -m venv .venv-crucible
    .venv-crucible/bin/pip install 'crucible-emulator[server]==0.1.0a2'

Its interpreter is found as $TIKTOK_SYNC_CRUCIBLE_PYTHON, else <repo>/.venv-crucible/bin/python,
else this interpreter if it can import crucible. That interpreter runs this very file
(`python tests/engines/bigquery.py serve DIR`, standard library only at module level): it binds a
free loopback port itself, writes it to DIR/port once listening, and keeps the emulator's data in
DIR/crucible.duckdb (plus DIR/crucible.duckdb.catalogs/), so the datasets one `dbt build` leaves
are there for the next one and for `query()` here. `stop()` ends the process and removes DIR; a
server whose parent died without stop() removes DIR and exits by itself.

    with BigQueryEngine() as engine:
        output = engine.profile_output(schema="tiktok_sync")   # profiles.yml `outputs.<target>`
        rows = engine.query("select 1")
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from functools import cache
from pathlib import Path
from typing import Any

NAME = "bigquery"
IS_DOUBLE = True
PROJECT = "tiktok-sync-local"  # any project id: the emulator keeps one catalog per project
SCHEMA = "tiktok_sync"  # a BigQuery dataset
LOCATION = "US"
PYTHON_ENV = "TIKTOK_SYNC_CRUCIBLE_PYTHON"
REPO = Path(__file__).resolve().parents[2]
INSTALL_HINT = (
    "python3 -m venv .venv-crucible && "
    ".venv-crucible/bin/pip install 'crucible-emulator[server]==0.1.0a2'"
)
# The emulator checks no credential; google-auth only needs a string to send.
_TOKEN = "crucible-needs-no-token"
# What a server's directory holds besides its data.
_NOT_DATA = shutil.ignore_patterns("port", "port.tmp", "server.log")
_MODULES = ("google.cloud.bigquery", "dbt.adapters.bigquery")


def _candidate_pythons() -> list[str]:
    candidates = []
    if os.environ.get(PYTHON_ENV):
        candidates.append(os.environ[PYTHON_ENV])
    candidates.append(str(REPO / ".venv-crucible" / "bin" / "python"))
    candidates.append(sys.executable)
    return candidates


@cache
def emulator_python() -> str | None:
    """An interpreter that can import crucible's server (checked once per process)."""
    for python in _candidate_pythons():
        if not os.access(python, os.X_OK):
            continue
        try:
            probe = subprocess.run(
                [python, "-c", "import crucible.server.app, crucible.engine, uvicorn"],
                capture_output=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return python
    return None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def unavailable_reason() -> str | None:
    """None when the double can run here, else why not (a missing package)."""
    missing = [m for m in _MODULES if not _installed(m)]
    if missing:
        return (
            f"BigQuery adapter not installed (missing {', '.join(missing)}): "
            "pip install 'dbt-bigquery>=1.11,<1.12'"
        )
    if emulator_python() is None:
        return (
            "BigQuery double crucible-emulator not found (no interpreter among "
            f"${PYTHON_ENV}, .venv-crucible/bin/python, {sys.executable} imports it; it pins "
            f"duckdb 1.5, so it needs its own venv): {INSTALL_HINT}"
        )
    return None


class BigQueryEngine:
    """One crucible server process on a free loopback port, with its data in a temp dir."""

    def __init__(self, parent: Path | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="crucible-", dir=parent))
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._client: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0, data: Path | None = None) -> BigQueryEngine:
        """`data`: another server's directory, to start on a copy of its datasets (files that
        DuckDB reopens with their write-ahead logs; its server must not write meanwhile)."""
        python = emulator_python()
        if data is not None:
            shutil.copytree(data, self.dir, dirs_exist_ok=True, ignore=_NOT_DATA)
        if python is None:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError(f"BigQuery double cannot run here: {unavailable_reason()}")
        log = (self.dir / "server.log").open("ab")
        self._process = subprocess.Popen(
            [python, str(Path(__file__).resolve()), "serve", str(self.dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        port_file = self.dir / "port"
        deadline = time.monotonic() + timeout
        while not port_file.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = (self.dir / "server.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"crucible server did not start:\n{tail}")
            time.sleep(0.1)
        self.port = int(port_file.read_text())
        return self

    def stop(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> BigQueryEngine:
        return self if self._process is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def profile_output(self, schema: str = SCHEMA, threads: int = 1) -> dict[str, Any]:
        """The dbt profile output for dbt-bigquery against this server.

        threads 1 as for DuckDB. On real BigQuery, audience models built in parallel would
        MERGE into the same shared tables at once, which BigQuery may refuse as a concurrent
        update (it retries up to three times).
        """
        return {
            "type": "bigquery",
            "method": "oauth-secrets",
            "token": _TOKEN,
            "project": PROJECT,
            "dataset": schema,
            "location": LOCATION,
            "api_endpoint": self.endpoint,
            "threads": threads,
            "priority": "interactive",
            # One try, bounded waits: a failing double should fail fast, not retry for minutes.
            "job_retries": 0,
            "job_execution_timeout_seconds": 600,
        }

    def client(self) -> Any:
        """A google-cloud-bigquery Client for this server (the driver dbt-bigquery uses)."""
        if self._client is None:
            from google.api_core.client_options import ClientOptions
            from google.auth.credentials import AnonymousCredentials
            from google.cloud import bigquery

            self._client = bigquery.Client(
                project=PROJECT,
                location=LOCATION,
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                client_options=ClientOptions(api_endpoint=self.endpoint),
            )
        return self._client

    def query(self, sql: str, dataset: str | None = None) -> list[tuple[Any, ...]]:
        """Rows of one statement (GoogleSQL) as tuples, [] when it returns none; `dataset`: the
        dataset of unqualified table names."""
        config = None
        if dataset is not None:
            from google.cloud import bigquery

            config = bigquery.QueryJobConfig(default_dataset=f"{PROJECT}.{dataset}")
        return [tuple(row.values()) for row in self.client().query(sql, config).result()]

    def relation(self, name: str, schema: str = SCHEMA) -> str:
        """A table or view of `schema` as a quoted name for query()."""
        return f"`{PROJECT}`.`{schema}`.`{name}`"


def start(parent: Path | None = None) -> BigQueryEngine:
    return BigQueryEngine(parent).start()


class PositionalParameters:
    """Query parameters for crucible, which refuses them ("Not supported by Crucible: jobs.query
    request field queryParameters", 0.1.0a2): an ASGI layer in front of it that writes each
    positional parameter of a query request into the SQL as a literal of the parameter's type,
    `CAST(<value> AS <type>)`, where BigQuery would bind it. The sync job's engine sends real
    parameters (as it does to BigQuery); only the double reads them this way. Placeholders are
    found with sqlglot's BigQuery tokenizer, so a `?` in a string, identifier or comment stays.
    Named, array and struct parameters are passed on untouched, for crucible to refuse."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._tokenize = importlib.import_module("sqlglot.dialects.bigquery").BigQuery().tokenize
        self._placeholder = importlib.import_module("sqlglot.tokens").TokenType.PLACEHOLDER

    def _placeholders(self, sql: str) -> list[int]:
        return [t.start for t in self._tokenize(sql) if t.token_type == self._placeholder]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if scope.get("method") != "POST" or not (
            path.startswith("/bigquery/v2/") and path.endswith(("/jobs", "/queries"))
        ):
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        body = self.inline(body)
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.app({**scope, "headers": headers}, replay, send)

    def inline(self, body: bytes) -> bytes:
        import json

        try:
            request = json.loads(body)
        except ValueError:
            return body
        # jobs.query holds the query at the top; jobs.insert under configuration.query.
        holder = request.get("configuration", {}).get("query") or request
        values = holder.get("queryParameters")
        mode = holder.get("parameterMode", "POSITIONAL")
        if not isinstance(values, list) or mode != "POSITIONAL":
            return body
        literals = [_literal(value) for value in values]
        sql = holder.get("query", "")
        starts = self._placeholders(sql)
        if None in literals or len(starts) != len(literals):
            return body
        for start, literal in reversed(list(zip(starts, literals, strict=True))):
            sql = sql[:start] + literal + sql[start + 1 :]
        holder["query"] = sql
        del holder["queryParameters"]
        holder.pop("parameterMode", None)
        return json.dumps(request).encode()


def _literal(parameter: dict[str, Any]) -> str | None:
    """A positional scalar parameter as a GoogleSQL literal of its type (None: not scalar)."""
    kind = parameter.get("parameterType", {}).get("type")
    if kind in (None, "ARRAY", "STRUCT", "RANGE") or parameter.get("name"):
        return None
    value = parameter.get("parameterValue", {}).get("value")
    if value is None:
        return f"CAST(NULL AS {kind})"
    if kind == "BOOL":
        return "TRUE" if str(value).lower() == "true" else "FALSE"
    if kind == "INT64":
        return f"CAST({int(value)} AS INT64)"
    quoted = "'" + "".join(_ESCAPES.get(c, c) for c in str(value)) + "'"
    if kind == "BYTES":
        return f"FROM_BASE64({quoted})"
    return f"CAST({quoted} AS {kind})"


# GoogleSQL string literal escapes (lexical structure: quoted literals may not hold raw breaks).
_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r"}


def _catalogs_beside(database: Path) -> None:
    """crucible records each project's catalog file by its absolute path: in a copy of another
    server's directory (`start(data=...)`), point them at the copies beside `database`, which
    the emulator allows (it refuses every other path)."""
    if not database.exists():
        return
    duckdb = importlib.import_module("duckdb")  # the emulator's own version
    with duckdb.connect(str(database)) as con:
        if con.execute(
            "select count(*) from duckdb_tables() where table_name = 'catalogs'"
        ).fetchone()[0]:
            con.execute(
                "update catalogs set file = ? || parse_filename(file)",
                [f"{database}.catalogs/"],
            )


def _serve(directory: Path) -> None:
    """The server process (run by the emulator's interpreter): crucible's BigQuery app on a
    free loopback port, data in `directory`. The same two calls as `crucible serve`."""
    import socket

    # Imported by name: they live in the emulator's venv, not in the project's.
    uvicorn = importlib.import_module("uvicorn")
    crucible_engine = importlib.import_module("crucible.engine")
    crucible_app = importlib.import_module("crucible.server.app")

    database = directory.resolve() / "crucible.duckdb"
    _catalogs_beside(database)
    app = crucible_app.create_app("bigquery", crucible_engine.Engine(database))
    app = PositionalParameters(app)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # Access logs off, as `crucible serve` does.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    tmp = directory / "port.tmp"
    tmp.write_text(str(port))

    # Announce the port only once uvicorn listens on the socket.
    startup = server.startup

    async def announce(sockets: list[socket.socket] | None = None) -> None:
        await startup(sockets=sockets)
        os.replace(tmp, directory / "port")

    server.startup = announce

    # Should the process that started us die without stop(), leave nothing behind.
    parent = os.getppid()

    def orphaned() -> None:
        while not server.should_exit:
            if os.getppid() != parent:
                server.should_exit = True
                shutil.rmtree(directory, ignore_errors=True)
            time.sleep(1)

    threading.Thread(target=orphaned, daemon=True).start()
    server.run(sockets=[sock])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        # Run as a script this folder comes first on sys.path; keep it from shadowing packages.
        sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
        _serve(Path(sys.argv[2]))
    else:
        sys.exit(f"usage: {sys.argv[0]} serve DIR")
