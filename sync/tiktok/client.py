"""The TikTok Business API client: one class that owns the session and checks the envelope.

Every call goes through `TikTokClient._call`: pace (rate limiter), send with (connect, read)
timeouts and a total deadline for the whole answer (`deadline`), read at most
`transport.MAX_BODY_BYTES` of it, read the `{code, message, request_id, data}` envelope, turn a
non-zero code into the typed error from `codes.classify`, retry what the retry-safety rule
allows. Endpoint methods only validate their input, shape the request and parse `data`.

Retry safety (TikTok has no idempotency keys, docs/tiktok-api.md §7): set operations (segment
mapping add/delete, customer-file update APPEND/REMOVE/REPLACE), uploads, GETs and deletes are
retried on every `RetryableError`. Creates are retried only when TikTok surely did not apply them:
the connection could not be opened, or TikTok throttled the call. Otherwise (read timeout, dropped
connection, HTTP 5xx, non-JSON, 5xxxx code) they raise `AmbiguousWriteError` and the caller looks
the audience up by name before creating again.

Logging (loggers under `sync.tiktok`): DEBUG lines carry method, path without query, HTTP status,
TikTok code, request_id and elapsed time, never the token, app secret or auth code. urllib3's own
DEBUG logging prints full URLs, including the `secret` query of `oauth2/advertiser/get/`, so the CLI
must not enable it; `redact.protect_urllib3_logs` masks those values in case someone does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from enum import Enum
from typing import Any
from urllib.parse import urlencode

import polars as pl
import requests

from sync import __version__
from sync.tiktok.checks import (
    check_calculate_type,
    check_file_paths,
    check_hashes,
    check_mapping,
    check_name,
    check_upload,
    refused,
)
from sync.tiktok.customer_file import FormData, file_content
from sync.tiktok.deadline import deadline, watch
from sync.tiktok.errors import (
    AmbiguousWriteError,
    AuthError,
    FatalError,
    RetryableError,
    TransportError,
)
from sync.tiktok.models import (
    UPDATE_ACTIONS,
    Advertiser,
    ApiResponse,
    AudienceDetails,
    AudienceSummary,
    CreatedId,
    TokenGrant,
    hash_length,
)
from sync.tiktok.ratelimit import RateLimiter
from sync.tiktok.redact import REDACTED, protect_urllib3_logs, remember
from sync.tiktok.retry import RetryPolicy, call_with_retry
from sync.tiktok.transport import read_body, read_envelope, surely_not_applied, transport_failure

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://business-api.tiktok.com/open_api/v1.3/"
AUTH_PORTAL_URL = "https://business-api.tiktok.com/portal/auth"  # docs/tiktok-api.md §2

# Paths relative to the base URL. TikTok answers HTTP 404 without the trailing slash (§1).
OAUTH_ACCESS_TOKEN = "oauth2/access_token/"
OAUTH_ADVERTISERS = "oauth2/advertiser/get/"
FILE_UPLOAD = "dmp/custom_audience/file/upload/"
CUSTOM_AUDIENCE_CREATE = "dmp/custom_audience/create/"
CUSTOM_AUDIENCE_UPDATE = "dmp/custom_audience/update/"
CUSTOM_AUDIENCE_GET = "dmp/custom_audience/get/"
CUSTOM_AUDIENCE_LIST = "dmp/custom_audience/list/"
CUSTOM_AUDIENCE_DELETE = "dmp/custom_audience/delete/"
SEGMENT_AUDIENCE = "segment/audience/"
SEGMENT_MAPPING = "segment/mapping/"

# `custom_audience_ids` on get/list/delete: 1 to 100 (docs/tiktok-api.md §3.5-§3.7).
MAX_IDS_PER_CALL = 100
MAX_PAGE_SIZE = 100  # list page_size (docs/tiktok-api.md §1)
CUSTOM_AUDIENCE_NAME_MAX = 128  # docs/tiktok-api.md §3.3
# TikTok truncates longer segment names to 67 chars + "…" (docs/tiktok-api.md §4.1); the stored name
# would then no longer match the one we look up after an ambiguous create, so refuse them.
SEGMENT_NAME_MAX = 70
DEFAULT_MAPPING_BATCH_LIMIT = 10_000  # project default, docs/tiktok-api.md §0
# TikTok's Basic tier: 600 requests a minute per app, a 5-minute pause past it (docs/tiktok-api.md
# §5.1).
DEFAULT_REQUESTS_PER_MINUTE = 600
MIN_READ_TIMEOUT = 1.0  # seconds a request still gets in all when the run's deadline is (nearly) up


def authorization_url(app_id: str, redirect_uri: str, state: str) -> str:
    """The page where an advertiser grants this app access (docs/tiktok-api.md §2)."""
    query = urlencode({"app_id": app_id, "state": state, "redirect_uri": redirect_uri})
    return f"{AUTH_PORTAL_URL}?{query}"


class _Retry(Enum):
    ALWAYS = "always"  # idempotent: every RetryableError is retried
    IF_NOT_APPLIED = "if_not_applied"  # creates: only when TikTok surely did nothing


class TikTokClient:
    """TikTok Business API v1.3, the audience endpoints this project uses."""

    def __init__(
        self,
        access_token: str | None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        max_attempts: int = 5,
        max_total_wait: float = 60,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        requests_per_second: float | None = 10,
        requests_per_minute: int | None = DEFAULT_REQUESTS_PER_MINUTE,
        mapping_batch_limit: int = DEFAULT_MAPPING_BATCH_LIMIT,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if mapping_batch_limit < 1:
            raise ValueError(f"mapping_batch_limit must be >= 1, got {mapping_batch_limit}")
        self._access_token = access_token or None
        remember(access_token)  # masked in every output of this process from now on
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = (connect_timeout, read_timeout)
        # A time.monotonic() value after which no retry starts and a request's total time is
        # cut to what is left (at least MIN_READ_TIMEOUT): how `run --max-duration` bounds a run.
        self.deadline: float | None = None
        self.mapping_batch_limit = mapping_batch_limit
        self._policy = RetryPolicy(
            max_attempts=max_attempts,
            base_delay=backoff_base,
            max_delay=backoff_cap,
            max_total_wait=max_total_wait,
        )
        self._sleep = sleep
        self.requests_per_second = requests_per_second  # the pace, for what derives from it
        self._limiter = RateLimiter(
            requests_per_second, per_minute=requests_per_minute, sleep=sleep
        )
        # One session per thread that sends (a run keeps several mapping requests in flight):
        # requests does not promise a Session is thread-safe, and a session's pool keeps
        # only 10 connections. A session given here is the caller's, used by every thread.
        self._given_session = session
        if session is not None:
            watch(session)  # each request's total deadline can close its connection
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        protect_urllib3_logs()

    def __repr__(self) -> str:
        token = REDACTED if self._access_token else None
        return f"TikTokClient(base_url={self.base_url!r}, access_token={token!r})"

    def close(self) -> None:
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def _session(self) -> requests.Session:
        """The calling thread's session (made on its first request), or the one given."""
        if self._given_session is not None:
            return self._given_session
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            watch(session)
            with self._sessions_lock:
                self._sessions.append(session)
            self._local.session = session
        return session

    def __enter__(self) -> TikTokClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- OAuth (docs/tiktok-api.md §2) ------------------------------------------------------------

    def exchange_auth_code(self, app_id: str, secret: str, auth_code: str) -> TokenGrant:
        """Trade the `auth_code` from the OAuth redirect for a long-lived access token."""
        remember(public=(app_id,))  # shown in output; never mistaken for a piece of a secret
        response = self._call(
            "POST",
            OAUTH_ACCESS_TOKEN,
            json_body={"app_id": app_id, "secret": secret, "auth_code": auth_code},
            authenticated=False,
            # The auth code is single use: after an ambiguous failure it may be spent.
            retry=_Retry.IF_NOT_APPLIED,
            ambiguous_step="the auth code may be used up: run `tiktok-sync auth` again",
            secrets=(secret, auth_code),
        )
        token = response.data.get("access_token")
        if not isinstance(token, str) or not token:
            raise _malformed(f"POST {OAUTH_ACCESS_TOKEN}", "data.access_token", response)
        return TokenGrant(
            access_token=token,
            advertiser_ids=tuple(str(a) for a in response.data.get("advertiser_ids") or ()),
            scope=tuple(int(s) for s in response.data.get("scope") or () if str(s).isdigit()),
        )

    def get_authorized_advertisers(self, app_id: str, secret: str) -> list[Advertiser]:
        """The advertisers this token may act for. TikTok takes the app secret in the query."""
        remember(public=(app_id,))
        response = self._call(
            "GET", OAUTH_ADVERTISERS, params={"app_id": app_id, "secret": secret}, secrets=(secret,)
        )
        items = _items(f"GET {OAUTH_ADVERTISERS}", response, "advertiser_id")
        return [Advertiser.from_api(item) for item in items]

    # --- Customer File API (docs/tiktok-api.md §3) ------------------------------------------------

    def upload_customer_file(
        self,
        advertiser_id: str,
        content: bytes | bytearray | memoryview,
        calculate_type: str,
        file_name: str = "audience.csv",
    ) -> str:
        """Upload one header-less file of hashes; return its `file_path` for create/update.

        Retried freely: a repeated upload only leaves an unused file that TikTok expires.
        """
        endpoint = f"POST {FILE_UPLOAD}"
        check_calculate_type(calculate_type, endpoint)
        content = memoryview(content).cast("B")
        content_type = check_upload(content, file_name, endpoint)
        form = {
            "advertiser_id": advertiser_id,
            "calculate_type": calculate_type,
            # Lowercase hex MD5 of exactly the bytes sent; TikTok checks it (40900, §3.1).
            "file_signature": hashlib.md5(content).hexdigest(),
        }
        body = FormData(form, "file", file_name, content, content_type)
        response = self._call("POST", FILE_UPLOAD, form_data=body)
        return _required_str(endpoint, response, "file_path")

    def upload_hashes(
        self,
        advertiser_id: str,
        hashes: Sequence[str] | pl.Series,
        calculate_type: str,
        file_name: str = "audience.csv",
    ) -> str:
        """Upload `hashes` as one customer file (one per line); return its `file_path`.

        Every value is checked to be a hash of the type before the file is written, so nothing
        else reaches TikTok (`check_hashes`).
        """
        endpoint = f"POST {FILE_UPLOAD}"
        check_calculate_type(calculate_type, endpoint)
        checked = check_hashes(hashes, calculate_type, endpoint)
        content = file_content(checked, hash_length(calculate_type))
        return self.upload_customer_file(advertiser_id, content, calculate_type, file_name)

    def create_custom_audience(
        self,
        advertiser_id: str,
        name: str,
        calculate_type: str,
        file_paths: Sequence[str],
        retention_in_days: int | None = None,
    ) -> CreatedId:
        """Create a customer-file audience from uploaded files; return its id."""
        endpoint = f"POST {CUSTOM_AUDIENCE_CREATE}"
        check_name(name, CUSTOM_AUDIENCE_NAME_MAX, endpoint)
        check_calculate_type(calculate_type, endpoint)
        check_file_paths(file_paths, endpoint)
        body: dict[str, Any] = {
            "advertiser_id": advertiser_id,
            "custom_audience_name": name,
            "calculate_type": calculate_type,
            "file_paths": list(file_paths),
        }
        if retention_in_days is not None:
            if not 1 <= retention_in_days <= 365:
                raise refused(
                    endpoint, f"retention_in_days must be 1 to 365, got {retention_in_days}"
                )
            body["retention_in_days"] = retention_in_days
        response = self._call(
            "POST", CUSTOM_AUDIENCE_CREATE, json_body=body, retry=_Retry.IF_NOT_APPLIED
        )
        # The SDK spec says `custom_audience_id`, Pipedream reads `audience_id` (docs/tiktok-api.md
        # §8 question 8).
        return _created_id(endpoint, response, "custom_audience_id", "audience_id")

    def update_custom_audience(
        self, advertiser_id: str, audience_id: str, file_paths: Sequence[str], action: str
    ) -> ApiResponse:
        """APPEND, REMOVE or REPLACE the audience's members with uploaded files (§3.4).

        TikTok's default action is REPLACE, so `action` is required here and always sent.
        """
        endpoint = f"POST {CUSTOM_AUDIENCE_UPDATE}"
        if action not in UPDATE_ACTIONS:
            raise refused(
                endpoint, f"action must be one of {sorted(UPDATE_ACTIONS)}, got {action!r}"
            )
        check_file_paths(file_paths, endpoint)
        return self._call(
            "POST",
            CUSTOM_AUDIENCE_UPDATE,
            json_body={
                "advertiser_id": advertiser_id,
                "custom_audience_id": audience_id,
                "action": action,
                "file_paths": list(file_paths),
            },
        )

    def rename_custom_audience(
        self, advertiser_id: str, audience_id: str, name: str
    ) -> ApiResponse:
        """Rename a customer-file audience: an update with a name and no files (docs/tiktok-api.md
        §3.4: "either custom_audience_name or file_paths is required"). Setting a name twice changes
        nothing, so it is retried as any update is."""
        endpoint = f"POST {CUSTOM_AUDIENCE_UPDATE}"
        check_name(name, CUSTOM_AUDIENCE_NAME_MAX, endpoint)
        return self._call(
            "POST",
            CUSTOM_AUDIENCE_UPDATE,
            json_body={
                "advertiser_id": advertiser_id,
                "custom_audience_id": audience_id,
                "custom_audience_name": name,
            },
        )

    def get_custom_audiences(
        self, advertiser_id: str, audience_ids: Sequence[str]
    ) -> list[AudienceDetails]:
        """Details (size, validity, expiry) of the given audiences, 100 ids per request."""
        found: list[AudienceDetails] = []
        for chunk in _chunks(audience_ids, MAX_IDS_PER_CALL):
            response = self._call(
                "GET",
                CUSTOM_AUDIENCE_GET,
                params={"advertiser_id": advertiser_id, "custom_audience_ids": _json_array(chunk)},
            )
            for item in _items(f"GET {CUSTOM_AUDIENCE_GET}", response):
                details = item.get("audience_details", item)
                if not isinstance(details, Mapping) or "audience_id" not in details:
                    raise _malformed(f"GET {CUSTOM_AUDIENCE_GET}", "audience_details", response)
                found.append(AudienceDetails.from_api(details))
        return found

    def list_custom_audiences(
        self,
        advertiser_id: str,
        page_size: int = MAX_PAGE_SIZE,
        audience_ids: Sequence[str] | None = None,
    ) -> Iterator[AudienceSummary]:
        """Every audience the advertiser owns or was shared, page by page (§3.6); only those of
        `audience_ids` if given (list's `custom_audience_ids` filter, 100 ids per request)."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise refused(
                f"GET {CUSTOM_AUDIENCE_LIST}", f"page_size must be 1 to 100, got {page_size}"
            )
        if audience_ids is None:
            return self._pages(advertiser_id, page_size)
        return (
            audience
            for chunk in _chunks(audience_ids, MAX_IDS_PER_CALL)
            for audience in self._pages(advertiser_id, page_size, _json_array(chunk))
        )

    def _pages(
        self, advertiser_id: str, page_size: int, audience_ids: str | None = None
    ) -> Iterator[AudienceSummary]:
        page = 1
        params: dict[str, object] = {"advertiser_id": advertiser_id, "page_size": page_size}
        if audience_ids is not None:
            params["custom_audience_ids"] = audience_ids
        while True:
            response = self._call("GET", CUSTOM_AUDIENCE_LIST, params={**params, "page": page})
            items = _items(f"GET {CUSTOM_AUDIENCE_LIST}", response, "audience_id")
            yield from (AudienceSummary.from_api(item) for item in items)
            page_info = response.data.get("page_info")
            total_page = page_info.get("total_page") if isinstance(page_info, Mapping) else None
            if not items or not isinstance(total_page, int) or page >= total_page:
                return
            page += 1

    def delete_custom_audiences(
        self, advertiser_id: str, audience_ids: Sequence[str]
    ) -> list[ApiResponse]:
        """Delete audiences (customer-file or segment), 100 ids per request; one response each."""
        return [
            self._call(
                "POST",
                CUSTOM_AUDIENCE_DELETE,
                json_body={"advertiser_id": advertiser_id, "custom_audience_ids": list(chunk)},
            )
            for chunk in _chunks(audience_ids, MAX_IDS_PER_CALL)
        ]

    # --- Segment API, "Partner" audiences (docs/tiktok-api.md §4) ---------------------------------

    def create_segment_audience(self, advertiser_id: str, name: str) -> CreatedId:
        """Create an empty segment audience; return the `audience_id` mappings refer to."""
        endpoint = f"POST {SEGMENT_AUDIENCE}"
        check_name(name, SEGMENT_NAME_MAX, endpoint)
        response = self._call(
            "POST",
            SEGMENT_AUDIENCE,
            json_body={
                "advertiser_id": advertiser_id,
                "action": "create",
                "custom_audience_name": name,
            },
            retry=_Retry.IF_NOT_APPLIED,
        )
        return _created_id(endpoint, response, "audience_id")

    def delete_segment_audience(self, advertiser_id: str, audience_id: str) -> ApiResponse:
        return self._call(
            "POST",
            SEGMENT_AUDIENCE,
            json_body={
                "advertiser_id": advertiser_id,
                "action": "delete",
                "delete_audience_id": audience_id,
            },
        )

    def map_segment(
        self,
        advertiser_id: str,
        audience_id: str,
        action: str,
        id_type: str,
        hashes: Sequence[str] | pl.Series,
    ) -> ApiResponse:
        """Add or delete one batch of hashed ids of one type to or from a segment audience.

        One id per row, so `id_schema` has a single entry and rows need no `{}` padding
        (docs/tiktok-api.md §4.2, §8 question 2). The batch is the unit TikTok accepts or rejects.
        """
        endpoint = f"POST {SEGMENT_MAPPING}"
        schema, checked = check_mapping(action, id_type, hashes, self.mapping_batch_limit, endpoint)
        body = mapping_body(advertiser_id, audience_id, action, schema, checked)
        return self._call("POST", SEGMENT_MAPPING, json_bytes=body)

    # --- Transport and envelope ----------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
        json_bytes: bytes | None = None,
        form_data: FormData | None = None,
        authenticated: bool = True,
        retry: _Retry = _Retry.ALWAYS,
        ambiguous_step: str | None = None,
        secrets: Sequence[str] = (),
    ) -> ApiResponse:
        endpoint = f"{method} {path}"
        headers = {"User-Agent": f"tiktok-audience-sync/{__version__}"}
        data: bytes | FormData | None = None
        if form_data is not None:
            # multipart/form-data built by us: the file goes out from its buffer, uncopied.
            headers["Content-Type"] = form_data.content_type
            data = form_data
        if json_bytes is not None:
            # A body already encoded (mapping batches, built from the column): sent as is.
            headers["Content-Type"] = "application/json"
            data = json_bytes
        if authenticated:
            if not self._access_token:
                raise AuthError("no access token is configured", endpoint=endpoint)
            headers["Access-Token"] = self._access_token  # not `Authorization` (§1)
        remember(*secrets)
        known_secrets = (self._access_token or "", *secrets)

        def attempt() -> ApiResponse:
            try:
                response = self._send(method, path, params, json_body, data, headers, known_secrets)
            except RetryableError as err:
                if retry is _Retry.ALWAYS or surely_not_applied(err):
                    raise
                cause = err
            else:
                if response.partial and method == "GET":
                    # A read TikTok answered only in part (20001) may lack what we look for:
                    # an audience missing from it is not deleted, nor a name free. Ask again.
                    raise RetryableError(
                        f"TikTok answered only in part (code {response.code}: {response.message})",
                        endpoint=endpoint,
                        code=response.code,
                        request_id=response.request_id,
                    )
                return response
            raise AmbiguousWriteError.after(cause, ambiguous_step) from cause

        return call_with_retry(
            attempt, policy=self._policy, sleep=self._sleep, deadline=self.deadline
        )

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Mapping[str, Any] | None,
        data: bytes | FormData | None,
        headers: Mapping[str, str],
        secrets: Sequence[str],
    ) -> ApiResponse:
        endpoint = f"{method} {path}"
        self._limiter.acquire()
        started = time.monotonic()
        # One total budget per request, connecting and the whole answer included (the read
        # timeout alone is per socket read: a trickling server would never hit it), cut to
        # what is left of the run's deadline, but at least MIN_READ_TIMEOUT.
        budget = sum(self.timeout)
        if self.deadline is not None:
            budget = min(budget, max(self.deadline - started, MIN_READ_TIMEOUT))
        timeout = (min(self.timeout[0], budget), min(self.timeout[1], budget))
        with deadline(budget) as watch:
            try:
                response = self._session().request(
                    method,
                    self.base_url + path,
                    params=params,
                    json=json_body,
                    data=data,
                    headers=headers,
                    timeout=timeout,
                    # A redirect would carry the Access-Token header (requests strips only
                    # `Authorization`) to wherever it points; TikTok's API never redirects.
                    allow_redirects=False,
                    stream=True,  # read by read_body, capped, under the deadline
                )
                with response:
                    body = read_body(response, endpoint)
            except requests.RequestException as exc:
                # The exception's text holds the full URL (with `secret` on
                # oauth2/advertiser/get/) and its request holds the headers: describe it in our
                # own words, chain nothing.
                failure = transport_failure(
                    exc, endpoint, timeout, budget if watch.expired else None
                )
            else:
                if not watch.expired:
                    return read_envelope(
                        response, body, endpoint, time.monotonic() - started, secrets
                    )
                # Closed at the deadline, an answer without a length just ends: cut short.
                failure = TransportError(
                    f"no complete answer within {budget:.1f} s",
                    endpoint=endpoint,
                    request_sent=True,
                )
        logger.debug("%s -> %s after %.3f s", endpoint, failure.message, time.monotonic() - started)
        raise failure


def mapping_body(
    advertiser_id: str, audience_id: str, action: str, schema: str, hashes: pl.Series
) -> bytes:
    """The /segment/mapping/ JSON body, one row per hash, joined by Polars from the column.

    The same JSON as `json.dumps` of {"advertiser_ids": [...], "action": ..., "id_schema":
    [schema], "batch_data": [[{"id": hash, "audience_ids": [audience_id]}], ...]} (reference
    §4.2), without 10,000 dicts per batch. The hashes must be checked hex (`check_mapping`):
    they go in unescaped, everything else through json.dumps.
    """
    audience_ids = json.dumps([audience_id])
    head = json.dumps({"advertiser_ids": [advertiser_id], "action": action, "id_schema": [schema]})
    row_end = f'", "audience_ids": {audience_ids}}}]'
    rows: str = hashes.str.join(f'{row_end}, [{{"id": "').item()
    return f'{head[:-1]}, "batch_data": [[{{"id": "{rows}{row_end}]}}'.encode()


# --- Parsing `data` -------------------------------------------------------------------------------


def _malformed(endpoint: str, what: str, response: ApiResponse) -> FatalError:
    return FatalError(
        f"TikTok answered code {response.code} without a usable {what}",
        endpoint=endpoint,
        request_id=response.request_id,
        next_step="not retried; the API may have changed, report it with the request_id",
    )


def _items(
    endpoint: str, response: ApiResponse, required: str | None = None
) -> list[Mapping[str, Any]]:
    items = response.data.get("list") or []
    if not isinstance(items, list) or not all(
        isinstance(i, Mapping) and (required is None or required in i) for i in items
    ):
        raise _malformed(endpoint, "data.list", response)
    return items


def _required_str(endpoint: str, response: ApiResponse, key: str) -> str:
    value = response.data.get(key)
    if value is None or value == "":
        raise _malformed(endpoint, f"data.{key}", response)
    return str(value)


def _created_id(endpoint: str, response: ApiResponse, *keys: str) -> CreatedId:
    for key in keys:
        value = response.data.get(key)
        if value is not None and value != "":
            return CreatedId(str(value), response.request_id)
    # TikTok said OK, so the audience most likely exists: the caller must find it by name.
    raise AmbiguousWriteError(
        f"TikTok answered code {response.code} without data.{keys[0]}",
        endpoint=endpoint,
        code=response.code,
        request_id=response.request_id,
    )


def _chunks(values: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _json_array(values: Sequence[str]) -> str:
    # Array query params go as one JSON-encoded string, `["123"]`, as Segment and bububa send
    # them (docs/tiktok-api.md §1; repeated params are the generated SDK's reading, §8 question 9).
    return json.dumps([str(v) for v in values], separators=(",", ":"))
