"""BigQuery: reached through dbt-bigquery (google-cloud-bigquery).

The connection is the `google.cloud.bigquery.Client` dbt-bigquery creates from the profile
(OAuth, service account file or JSON, impersonation, `api_endpoint`, ...); its project bills the
jobs, the target's `project`/`dataset` hold the tables. Every statement is a query job.

Parameters: our `?` placeholders are BigQuery's own positional parameters, so the SQL goes as it
is and each value travels as a typed `ScalarQueryParameter`, never inside the SQL. The type comes
from the value (str STRING, int INT64, bool BOOL, datetime TIMESTAMP, ...), or, for a None, from
the `cast(? as <type>)` around the placeholder: BigQuery refuses an untyped NULL parameter, and a
NULL typed STRING would not go into an INT64 or TIMESTAMP column. A None outside a cast is a
STRING (only string columns take those in sync/warehouse.py). Statements without values go
without a `queryParameters` field at all.

Writes: each `execute` is one DML job, committed when `query_and_wait` returns (BigQuery DML is
atomic per statement and there are no multi-statement transactions outside scripts: none are
needed, every write of the sync job is one append, docs/decisions/0001). Reads (`fetch`) use the
same call, which runs short queries through jobs.query without a job to poll.

Streams: a query job whose result (an anonymous table, fixed when the job finishes: batch events
appended while it is read change nothing in it) is read with `to_arrow_iterable`. With
google-cloud-bigquery-storage installed and BigQuery's own endpoint, through the Storage Read
API (Arrow record batches; one stream, since the query has ORDER BY; a queue of a few messages);
otherwise through the REST API in pages of `batch_rows` rows, one record batch per page. Either
way each batch is cut to at most `batch_rows` rows here.

Relations: dbt's Relation renders `project`.`dataset`.`table` with backticks. BigQuery names
are case-sensitive; dbt creates ours lower case. `present_relations` lists the dataset's tables
and views with tables.list (no INFORMATION_SCHEMA query, no region qualifier to guess).

One run at a time: a lease in tiktok_sync_locks (sync/engines/lease.py). A DML INSERT returns
only once committed, and every query that starts afterwards sees it, which is the lease's first
assumption. A DML job takes a second or a few (scheduling and commit) rather than Snowflake's
tenths, so a claim may take up to `lease_commit_bound` (10 s) to return before the run withdraws
it; a run therefore waits about 12 s after claiming. A second run refuses at once with exit 2
naming the run that holds the lease; `dbt build` of the sync models stops with one line while a
lease is active; a crashed run's lease expires after `lease_ttl` (10 minutes).
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import pyarrow as pa
import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.cloud import bigquery

from sync.engines.base import Params
from sync.engines.dbt_target import DbtTarget, open_handle, redact, relation_name
from sync.engines.lease import LeaseLock
from sync.errors import WarehouseError

# `cast(? as <type>)`, or a bare `?`, in the order they appear. Our SQL has no `?` inside
# literals or comments (the same assumption as base.qmark_to_format).
_PLACEHOLDER = re.compile(r"cast\(\s*\?\s+as\s+([a-z0-9_]+)\s*\)|\?", re.IGNORECASE)
# GoogleSQL's names for the type names our SQL casts to (dbt's type macros render these).
_CAST_TYPES = {
    "bigint": "INT64",
    "int": "INT64",
    "integer": "INT64",
    "int64": "INT64",
    "timestamp": "TIMESTAMP",
    "string": "STRING",
    "varchar": "STRING",
    "text": "STRING",
    "boolean": "BOOL",
    "bool": "BOOL",
    "float64": "FLOAT64",
    "double": "FLOAT64",
    "numeric": "NUMERIC",
    "decimal": "NUMERIC",
    "date": "DATE",
    "datetime": "DATETIME",
}

# What to do about an error, by the reason BigQuery gives (cloud.google.com/bigquery/docs/
# error-messages); the HTTP status when there is no reason.
_FIXES = {
    "notFound": "run `dbt build` with this project and profile (and check the target's "
    "project, dataset and location)",
    "accessDenied": "grant the profile's account what dbt build has: BigQuery Data Editor on "
    "the dataset and BigQuery Job User on the project",
    "bytesBilledLimitExceeded": "the query hit the profile's maximum_bytes_billed; raise it",
    "quotaExceeded": "a BigQuery quota ran out; wait and run again (nothing more was sent)",
    "rateLimitExceeded": "BigQuery limited the rate of jobs; wait a minute and run again",
    "responseTooLarge": "the result is too large for the REST API; "
    "pip install google-cloud-bigquery-storage",
    "jobRateLimitExceeded": "BigQuery limited the rate of jobs on the table; run again",
    "backendError": "BigQuery failed on its side; run again",
    "internalError": "BigQuery failed on its side; run again",
}
_AUTH_FIX = (
    "the profile's credentials were refused or expired; renew them "
    "(gcloud auth application-default login, or the keyfile) and check with dbt debug"
)
_DEFAULT_FIX = "nothing more was sent; see the message (dbt debug checks the connection)"


class BigQueryEngine(LeaseLock):
    types = ("bigquery",)
    #: A DML INSERT is a job: scheduling and commit take a second or a few, more on a busy
    #: project (a guess from BigQuery's documentation, not measured on BigQuery itself).
    lease_commit_bound: ClassVar[timedelta] = timedelta(seconds=10)

    def __init__(self, target: DbtTarget) -> None:
        super().__init__("BigQuery", target.schema)
        self.driver_errors = (
            api_exceptions.GoogleAPIError,
            auth_exceptions.GoogleAuthError,
            requests.exceptions.RequestException,
        )
        self._target = target
        # Any: google-cloud-bigquery ships no type information (and need not be installed to
        # type-check the rest of the package).
        self._client: Any = open_handle(target, "tiktok-sync")
        credentials = target.credentials
        self._project = str(target.database or self._client.project)
        self._max_bytes = getattr(credentials, "maximum_bytes_billed", None)
        # The Storage Read API is BigQuery's own (gRPC) endpoint; a profile that points the REST
        # API elsewhere (api_endpoint: a proxy, an emulator) reads through that instead.
        self._use_storage = not getattr(credentials, "api_endpoint", None)
        self._read_client: Any = None

    @classmethod
    def open(cls, target: DbtTarget) -> BigQueryEngine:
        return cls(target)

    def relation(self, identifier: str) -> str:
        return relation_name(self._target, identifier)

    def present_relations(self) -> set[str]:
        dataset = bigquery.DatasetReference(self._project, self.schema)
        try:
            return {item.table_id.lower() for item in self._client.list_tables(dataset)}
        except api_exceptions.NotFound:  # no dataset: dbt build has not run here
            return set()

    # --- statements -----------------------------------------------------------------------------

    def _config(self, sql: str, params: Params) -> bigquery.QueryJobConfig:
        config = bigquery.QueryJobConfig(maximum_bytes_billed=self._max_bytes)
        if params:
            config.query_parameters = parameters(sql, params)
        return config

    def write(self, sql: str, params: Params = ()) -> None:
        self._client.query_and_wait(sql, job_config=self._config(sql, params))

    def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        rows = self._client.query_and_wait(sql, job_config=self._config(sql, params))
        return [tuple(row.values()) for row in rows]

    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        job = self._client.query(sql, job_config=self._config(sql, params))
        rows = job.result(page_size=batch_rows)
        for batch in rows.to_arrow_iterable(bqstorage_client=self._storage()):
            for offset in range(0, batch.num_rows, batch_rows):
                yield batch.slice(offset, batch_rows)

    def _storage(self) -> Any:
        """The Storage Read API client, or None to read through the REST API."""
        if self._use_storage and self._read_client is None:
            self._use_storage = False  # unless the client is made below
            if importlib.util.find_spec("google.cloud.bigquery_storage") is None:
                return None
            # The client's own helper, what RowIterator.to_arrow(create_bqstorage_client=True)
            # calls (private): the Read API client with this client's credentials, or None
            # with a warning for a version it cannot use.
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self._read_client = self._client._ensure_bqstorage_client()
            except Exception:  # an old or broken install: read through REST
                self._read_client = None
            self._use_storage = self._read_client is not None
        return self._read_client

    def integer_division(self, expression: str, divisor: int) -> str:
        # `/` is FLOAT64 division in BigQuery; div() is INT64 division, exact. It truncates
        # toward zero, which is rounding down for the row numbers this divides (never negative).
        # The parentheses are for the double: sqlglot 30.22 writes div(a - 1, n) as `a - 1 // n`
        # for DuckDB, dropping them (crucible 0.1.0a2 then divides only the 1).
        return f"div(({expression}), {int(divisor)})"

    # --- errors and life ------------------------------------------------------------------------

    def error(self, exc: BaseException, doing: str) -> WarehouseError:
        reason, text = _reason_and_message(exc)
        if isinstance(exc, auth_exceptions.GoogleAuthError | api_exceptions.Unauthorized):
            fix = _AUTH_FIX
        elif isinstance(exc, requests.exceptions.RequestException):
            fix = "BigQuery could not be reached; check the network (dbt debug does too)"
        else:
            fix = _FIXES.get(reason, _DEFAULT_FIX)
        job_id = getattr(getattr(exc, "query_job", None), "job_id", None)
        where = f" (job {job_id})" if job_id else ""
        text = redact(" ".join(text.split()), self._target.credentials)
        return WarehouseError(f"BigQuery failed while {doing}: {text}{where}; {fix}")

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
        self._read_client = None


def parameters(sql: str, params: Params) -> list[bigquery.ScalarQueryParameter]:
    """The values for the `?` placeholders of `sql`, as typed positional parameters."""
    casts = [m.group(1) for m in _PLACEHOLDER.finditer(sql)]
    if len(casts) != len(params):
        raise ValueError(f"{len(casts)} placeholders but {len(params)} values")
    return [
        bigquery.ScalarQueryParameter(None, _type_of(value, cast), value)
        for value, cast in zip(params, casts, strict=True)
    ]


def _type_of(value: Any, cast: str | None) -> str:
    if value is None:
        return _CAST_TYPES.get((cast or "string").lower(), "STRING")
    if isinstance(value, bool):  # before int: a bool is an int in Python
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, Decimal):
        return "NUMERIC"
    if isinstance(value, datetime):
        # A naive datetime is UTC to the client (it sends '... +00:00'), as ours are.
        return "TIMESTAMP"
    if isinstance(value, date):
        return "DATE"
    if isinstance(value, bytes):
        return "BYTES"
    return "STRING"


def _reason_and_message(exc: BaseException) -> tuple[str, str]:
    """BigQuery's reason code and its message, without the HTTP method and URL."""
    errors = getattr(exc, "errors", None) or []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    reason = str(first.get("reason") or "")
    message = str(first.get("message") or getattr(exc, "message", "") or exc or "")
    # google-cloud-core prefixes "POST https://.../queries?prettyPrint=false: ".
    message = re.sub(r"^(GET|POST|PUT|PATCH|DELETE) \S+: ", "", message.strip())
    if not reason and isinstance(exc, api_exceptions.NotFound):
        reason = "notFound"
    if not reason and isinstance(exc, api_exceptions.Forbidden):
        reason = "accessDenied"
    return reason, message or type(exc).__name__
