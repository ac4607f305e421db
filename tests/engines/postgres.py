"""PostgreSQL for the engine tests: a real, throwaway server (not a double).

`PostgresServer` runs Debian's PostgreSQL 15 (`apt-get install postgresql-15`) in a
temporary directory: `initdb` with trust authentication, the server listening on a free
port of 127.0.0.1 and on a unix socket inside that directory, ready once it accepts a
connection, stopped (`pg_ctl stop -m immediate`) and deleted afterwards. The server is
this process's child and gets SIGQUIT should this process die first, so a killed test run
leaves no server running. `query()` talks to it through psycopg2, the driver dbt-postgres
uses.

initdb, pg_ctl and postgres refuse to run as root ("cannot be run as root"). When this
process is root they run as an unprivileged OS user instead (`postgres`, which Debian's
package creates, or $TIKTOK_SYNC_PG_OS_USER) through subprocess's `user=`/`group=`, and
the temporary directory is handed to that user; nothing else needs root.

Environment: $TIKTOK_SYNC_PG_BIN overrides where initdb/pg_ctl/postgres are looked for
(default: the newest /usr/lib/postgresql/<version>/bin, then `pg_config --bindir`, then
PATH).

    with PostgresServer() as server:
        output = server.profile_output(schema="tiktok_sync")   # profiles.yml `outputs.<target>`
        rows = server.query("select 1")
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

NAME = "postgres"
IS_DOUBLE = False  # a real server
SCHEMA = "tiktok_sync"
OS_USER_ENV = "TIKTOK_SYNC_PG_OS_USER"
BIN_ENV = "TIKTOK_SYNC_PG_BIN"
DATABASE = "tiktok_sync"
SUPERUSER = "postgres"
_TOOLS = ("initdb", "pg_ctl", "postgres")

# Server settings (postgres -c). fsync/synchronous_commit/full_page_writes off only
# because the cluster is thrown away: they make writes cheap, never change results.
# jit is left at its default (on), as on users' servers: the SQL must cope with it.
SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "30",
    "log_min_messages": "warning",
}


def _bin_dir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None."""
    candidates: list[str] = []
    if os.environ.get(BIN_ENV):
        candidates.append(os.environ[BIN_ENV])
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: int(Path(path).parent.name) if Path(path).parent.name.isdigit() else 0,
        reverse=True,
    )
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            candidates.append(
                subprocess.run(
                    [pg_config, "--bindir"], capture_output=True, text=True, timeout=10
                ).stdout.strip()
            )
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).parent))
    for candidate in candidates:
        if candidate and all(os.access(Path(candidate, tool), os.X_OK) for tool in _TOOLS):
            return Path(candidate)
    return None


def _os_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as when we are root (None: run as us)."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get(OS_USER_ENV, "postgres")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def unavailable_reason() -> str | None:
    """Why a PostgreSQL server cannot run here, or None when it can."""
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed (pip install 'dbt-postgres>=1.11,<1.12')"
    try:
        import dbt.adapters.postgres  # noqa: F401
    except ImportError:
        return "dbt-postgres is not installed (pip install 'dbt-postgres>=1.11,<1.12')"
    if _bin_dir() is None:
        return (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in "
            f"/usr/lib/postgresql/*/bin, pg_config --bindir or PATH; apt-get install "
            f"postgresql-15, or set {BIN_ENV}"
        )
    if os.geteuid() == 0 and _os_user() is None:
        name = os.environ.get(OS_USER_ENV, "postgres")
        return (
            f"running as root, and initdb refuses root; no OS user {name!r} to run the "
            f"server as (create one, or set {OS_USER_ENV})"
        )
    return None


def _die_with_parent() -> None:
    """In the server's process, before exec: SIGQUIT (PostgreSQL's immediate shutdown)
    when the process that started it dies, so a killed test run leaves no server behind
    (Linux prctl PR_SET_PDEATHSIG; set after subprocess switched user, so it holds)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGQUIT)  # 1 = PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One throwaway PostgreSQL cluster; use as a context manager (or start()/stop())."""

    def __init__(
        self, start_timeout: float = 60.0, settings: Mapping[str, str] | None = None
    ) -> None:
        """`settings`: more `postgres -c` settings over SERVER_SETTINGS (the benchmarks load
        pg_stat_statements)."""
        self.start_timeout = start_timeout
        self.settings = {**SERVER_SETTINGS, **(settings or {})}
        self.port = 0
        self.workdir: Path | None = None
        self._bin: Path | None = None
        self._user = _os_user()
        self._connection: Any = None
        self._process: subprocess.Popen[bytes] | None = None

    # -- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def data_dir(self) -> Path:
        assert self.workdir is not None, "server not started"
        return self.workdir / "data"

    def _as_user(self) -> dict[str, Any]:
        """subprocess arguments that run a command as the unprivileged user, if any."""
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def _run(
        self, *args: str, timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.workdir,
            env={**os.environ, **(env or {})},
            **self._as_user(),
        )

    def start(self) -> None:
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(f"PostgreSQL cannot run here: {reason}")
        self._bin = _bin_dir()
        assert self._bin is not None
        self.workdir = Path(tempfile.mkdtemp(prefix="tiktok-sync-pg-"))
        try:
            if self._user is not None:
                os.chown(self.workdir, self._user.pw_uid, self._user.pw_gid)
            # UTF8 with the C.UTF-8 locale: byte-order collation like DuckDB, and
            # Unicode-aware lower()/upper() as on a usual en_US.UTF-8 server (the C
            # locale changes ASCII letters only). C where the OS lacks C.UTF-8.
            for locale in ("C.UTF-8", "C"):
                init = self._run(
                    str(self._bin / "initdb"),
                    "-D", str(self.data_dir),
                    "-U", SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    f"--locale={locale}",
                    "--no-sync",
                    env={"LC_ALL": locale, "LANG": locale},
                )  # fmt: skip
                if init.returncode == 0:
                    break
                shutil.rmtree(self.data_dir, ignore_errors=True)
            else:
                raise RuntimeError(f"initdb failed ({init.returncode}):\n{init.stderr[-3000:]}")
            self._start_server()
            admin = self._connect("postgres")
            try:
                admin.autocommit = True
                with admin.cursor() as cursor:
                    cursor.execute(f'create database "{DATABASE}"')
            finally:
                admin.close()
        except BaseException:
            self.stop()
            raise

    def _start_server(self) -> None:
        """The postmaster as our child (not daemonised by pg_ctl), so that it gets
        SIGQUIT (immediate shutdown) should this process die without stopping it."""
        log_path = self.workdir / "server.log"  # type: ignore[operator]
        for _attempt in range(5):
            self.port = _free_port()
            settings = {
                **self.settings,
                "port": str(self.port),
                "unix_socket_directories": str(self.workdir),
            }
            command = [str(self._bin / "postgres"), "-D", str(self.data_dir)]  # type: ignore[operator]
            for key, value in settings.items():
                command += ["-c", f"{key}={value}"]
            with log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                    preexec_fn=_die_with_parent,
                    **self._as_user(),
                )
            if self._wait_ready():
                return
            text = log_path.read_text(errors="replace")
            if "could not bind" in text or "Address already in use" in text:
                log_path.write_text("")
                continue  # another process took the port between probe and bind
            raise RuntimeError(
                f"PostgreSQL did not start (exit {self._process.returncode}):\n{text[-3000:]}"
            )
        raise RuntimeError("PostgreSQL did not start: no free loopback port after 5 tries")

    def _wait_ready(self) -> bool:
        """True once the server accepts connections; False if it exited first."""
        import psycopg2

        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                self._connect("postgres").close()
                return True
            except psycopg2.OperationalError as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL not accepting connections after {self.start_timeout:.0f} s:"
                        f" {error}"
                    ) from error
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server (immediately: the data is thrown away) and delete its directory."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
        if self._process is not None:
            if self._process.poll() is None and self._bin is not None:
                with contextlib.suppress(subprocess.SubprocessError, OSError):
                    self._run(
                        str(self._bin / "pg_ctl"), "stop", "-D", str(self.data_dir),
                        "-m", "immediate", "-w", "-t", "30", timeout=60,
                    )  # fmt: skip
            if self._process.poll() is None:  # pg_ctl failed: signal the postmaster
                with contextlib.suppress(OSError):
                    self._process.send_signal(signal.SIGQUIT)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=30)
            self._process = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    # -- what the tests use ----------------------------------------------------------

    def connection_kwargs(self, dbname: str = DATABASE) -> dict[str, Any]:
        """psycopg2.connect() keyword arguments for this server (what dbt-postgres passes)."""
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "user": SUPERUSER,
            "password": "",
            "dbname": dbname,
            "sslmode": "disable",
            "connect_timeout": 10,
        }

    def _connect(self, dbname: str = DATABASE) -> Any:
        import psycopg2

        return psycopg2.connect(**self.connection_kwargs(dbname))

    def profile_output(self, schema: str = "tiktok_sync", threads: int = 1) -> dict[str, Any]:
        """A dbt profile output (profiles.yml `outputs.<target>`) for dbt-postgres.

        threads 1 as for DuckDB: audience models replace their slice of shared tables.
        """
        return {
            "type": "postgres",
            "host": "127.0.0.1",
            "port": self.port,
            "user": SUPERUSER,
            "password": "",  # trust authentication; dbt-postgres requires the key
            "dbname": DATABASE,
            "schema": schema,
            "threads": threads,
            "sslmode": "disable",
            "connect_timeout": 10,
            "retries": 1,
        }

    def relation(self, name: str, schema: str = SCHEMA) -> str:
        """A table or view of `schema` as a quoted name for query()."""
        return f'"{schema}"."{name}"'

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement in its own transaction; its rows ([] when it returns none)."""
        if self._connection is None or self._connection.closed:
            self._connection = self._connect()
            self._connection.autocommit = True
        with self._connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description is not None else []

    def dump(self, dbname: str, path: Path) -> None:
        """Database `dbname` as a plain SQL script (pg_dump), for `restore` on another server."""
        self._client("pg_dump", "--no-owner", "--no-privileges", "-d", dbname, "-f", str(path))

    def restore(self, dbname: str, path: Path) -> None:
        """Run a `dump` script in database `dbname` (which exists, empty)."""
        self._client("psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", dbname, "-f", str(path))

    def _client(self, tool: str, *args: str) -> None:
        assert self._bin is not None, "server not started"
        where = ("-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER)
        proc = subprocess.run(
            [str(self._bin / tool), *where, *args], capture_output=True, text=True, timeout=300
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def start(parent: Path | None = None) -> PostgresServer:
    """A started server (the engine modules' common entry point; `parent` is not needed)."""
    server = PostgresServer()
    server.start()
    return server


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A started server, stopped and deleted on exit."""
    with PostgresServer() as server:
        yield server
