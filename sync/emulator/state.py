"""Everything the emulator remembers, behind one lock.

Audiences with their members, uploaded files, the request log, fault rules and counters, rate-limit
windows and used auth codes. Every public method takes the lock for its whole read-modify-write, so
concurrent requests see TikTok-like atomic operations; nothing sleeps while holding it.

Validation of request *shape* happens in `endpoints.py` before the lock; checks that depend on what
exists (file paths, audience ids, the 400 cap, the 1,000 floor, processing locks) happen here.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import hashlib
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sync.emulator import errors
from sync.emulator.config import EmulatorConfig
from sync.emulator.errors import ApiError, HttpError
from sync.emulator.faults import FaultPlan, FaultRule
from sync.emulator.identifiers import PARTNER_CALCULATE_TYPE, canonical_calculate_type

AudienceKind = Literal["customer_file", "partner"]

# 19-digit ids like TikTok's, above 2**53 so a client that turns them into floats is caught
# (docs/tiktok-api.md §1: "IDs are strings in v1.3. Some exceed the safe integer range").
AUDIENCE_ID_BASE = 7_100_000_000_000_000_000
HISTORY_LIMIT = 100  # docs/tiktok-api.md §3.5: history_size is at most 100
REQUEST_LOG_LIMIT = 10_000
# How long admitted arrivals are kept for the rate limit: a request is checked after its body is
# read and its configured latency waited, at most seconds after it arrived.
RATE_HISTORY_SECONDS = 60.0


@dataclass(frozen=True)
class HistoryEntry:
    action: str
    action_detail: str
    opt_time: float  # epoch seconds


@dataclass
class Audience:
    audience_id: str
    advertiser_id: str
    name: str
    kind: AudienceKind
    calculate_type: str
    members: dict[str, Hashes]
    create_time: float  # epoch seconds, shown as UTC
    modify_time: float
    retention_in_days: int | None = None
    audience_sub_type: str = "NORMAL"
    processing_until: float = 0.0  # time.monotonic() deadline
    # time.monotonic(): a new segment takes no mappings before (docs/tiktok-api.md §4.1)
    ready_at: float = 0.0
    editable: bool = True
    history: list[HistoryEntry] = field(default_factory=list)


@dataclass(frozen=True)
class AudienceView:
    """A consistent copy of one audience (no member sets), taken under the lock."""

    audience_id: str
    advertiser_id: str
    name: str
    kind: AudienceKind
    calculate_type: str
    audience_sub_type: str
    member_counts: dict[str, int]
    create_time: float
    modify_time: float
    retention_in_days: int | None
    processing: bool
    editable: bool
    history: tuple[HistoryEntry, ...]

    @property
    def member_total(self) -> int:
        return sum(self.member_counts.values())


# A set of hashes, kept as the keys of a dict (values None). Python's collector never tracks a dict
# that holds only strings, but it walks every entry of a set on each full collection; with a few
# million members that made each mapping request slower than the last (emulator CPU per 10,000-row
# request: 37 ms at the start, 110 ms at 3M members), so the emulator, not the sync, set the
# pace of a large first sync.
Hashes = dict[str, None]


@dataclass(frozen=True)
class UploadedFile:
    file_path: str
    advertiser_id: str
    calculate_type: str  # canonical (FIRST_* for MAID_*)
    hashes: Hashes  # never changed once stored
    size: int
    md5: str


@dataclass(frozen=True)
class MappingEntry:
    """One identifier of one /segment/mapping/ row, already shape-checked."""

    row: int
    column: int
    id_type: str
    id_hash: str
    audience_ids: tuple[str, ...]


class State:
    def __init__(self, config: EmulatorConfig) -> None:
        self._lock = threading.Lock()
        self._config = copy.deepcopy(config)
        # Id counters survive reset(): an id is never reused within one emulator, so a client that
        # kept an id across a reset gets 40007 rather than someone else's audience.
        self._audience_seq = 0
        self._file_seq = 0
        self._request_seq = 0
        self._request_salt = secrets.token_hex(3).upper()
        self._in_flight = 0
        self._wipe()

    def _wipe(self) -> None:
        self._audiences: dict[str, Audience] = {}
        self._files: dict[str, UploadedFile] = {}
        self._log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_LIMIT)
        self._faults = FaultPlan()
        # Per token: arrival times of admitted requests, sorted.
        self._rate_windows: dict[str, list[float]] = {}
        self._used_auth_codes: set[str] = set()
        self._auth_codes_issued_at = time.monotonic()
        # Requests in flight outlive a reset: the peak restarts from them.
        self._peak_in_flight = self._in_flight

    # --- configuration ---------------------------------------------------------------------

    @property
    def config(self) -> EmulatorConfig:
        """The current config. Treat as read-only; it is replaced, never mutated, on update."""
        return self._config

    def update_config(self, changes: Mapping[str, Any]) -> EmulatorConfig:
        with self._lock:
            self._config = dataclasses.replace(self._config, **changes)
            return self._config

    def reset(self) -> None:
        """Forget audiences, files, the log, fault rules and counts, used auth codes."""
        with self._lock:
            self._wipe()

    # --- identity, rate limit, faults, log ----------------------------------------------------

    def next_request_id(self) -> str:
        with self._lock:
            self._request_seq += 1
            seq = self._request_seq
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        return f"{stamp}{self._request_salt}{seq:010X}"

    def token_advertisers(self, token: str) -> list[str] | None:
        advertiser_ids = self._config.tokens.get(token)
        return list(advertiser_ids) if advertiser_ids is not None else None

    def allow_request(self, token: str, arrived: float | None = None) -> bool:
        """At most `qps` requests per access token in any one-second window
        (docs/tiktok-api.md §5.1; Airbyte: per token), counted by when each request *arrived*
        (`time.monotonic()`), as a gateway counts them, not by when a busy emulator got round to
        checking it: requests are checked out of arrival order (after their body is read and their
        latency waited), so a request is admitted only if every one-second window holding its
        arrival stays within `qps`.

        Rejected requests are not counted, so a client that waits out the second recovers.
        """
        qps = self._config.qps
        if qps <= 0:
            return True
        now = time.monotonic()
        at = now if arrived is None else arrived
        with self._lock:
            admitted = self._rate_windows.setdefault(token, [])
            del admitted[: bisect.bisect_left(admitted, now - RATE_HISTORY_SECONDS)]
            near = admitted[
                bisect.bisect_right(admitted, at - 1.0) : bisect.bisect_left(admitted, at + 1.0)
            ]
            # The windows [start, start + 1) that hold `at`: the fullest starts at `at` itself
            # or at an earlier admitted arrival.
            starts = [at, *(t for t in near if t <= at)]
            fullest = max(
                bisect.bisect_left(near, start + 1.0) - bisect.bisect_left(near, start)
                for start in starts
            )
            if fullest + 1 > qps:
                return False
            bisect.insort(admitted, at)
            return True

    def redeem_auth_code(self, auth_code: str) -> str:
        """Return the token the code grants; single use, expires (docs/tiktok-api.md §2)."""
        with self._lock:
            token = self._config.auth_codes.get(auth_code)
            expired = time.monotonic() - self._auth_codes_issued_at > (
                self._config.auth_code_ttl_seconds
            )
            if token is None or auth_code in self._used_auth_codes or expired:
                raise ApiError(
                    errors.AUTH_CODE_INVALID,
                    "The auth_code is invalid, already used or expired. "
                    "Please re-authorize and try again with a new auth_code.",
                )
            self._used_auth_codes.add(auth_code)
            return token

    def decide_fault(self, api_path: str) -> FaultRule | None:
        with self._lock:
            return self._faults.pick(api_path)

    def set_faults(self, rules: Any, seed: Any = 0) -> None:
        with self._lock:
            self._faults.set_rules(rules, seed)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear_rules()

    def faults(self) -> dict[str, Any]:
        with self._lock:
            return self._faults.snapshot()

    def request_started(self) -> None:
        """An API request arrived: count it in flight until `request_finished`."""
        with self._lock:
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)

    def request_finished(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def in_flight(self) -> dict[str, int]:
        """API requests being handled now, and the most at once since the start, a reset or
        `clear_peak_in_flight`: how a test sees a client's concurrency without timing it."""
        with self._lock:
            return {"in_flight": self._in_flight, "peak": self._peak_in_flight}

    def clear_peak_in_flight(self) -> None:
        with self._lock:
            self._peak_in_flight = self._in_flight

    def record_request(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._log.append(entry)

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._log))

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    # --- files -----------------------------------------------------------------------------

    def store_file(
        self, advertiser_id: str, calculate_type: str, hashes: Hashes, size: int, md5: str
    ) -> str:
        with self._lock:
            self._file_seq += 1
            # Opaque and 16 characters, like the spec's file_paths items (docs/tiktok-api.md §3.3,
            # §8 question 7).
            file_path = hashlib.md5(f"emulator-file-{self._file_seq}".encode()).hexdigest()[:16]
            self._files[file_path] = UploadedFile(
                file_path=file_path,
                advertiser_id=advertiser_id,
                calculate_type=canonical_calculate_type(calculate_type),
                hashes=hashes,
                size=size,
                md5=md5,
            )
            return file_path

    def _resolve_files(
        self, advertiser_id: str, file_paths: Iterable[str], calculate_type: str
    ) -> Hashes:
        """Union of the files' hashes; every file must be this advertiser's and of this type."""
        wanted = canonical_calculate_type(calculate_type)
        union: Hashes = {}
        for file_path in file_paths:
            uploaded = self._files.get(file_path)
            # docs/tiktok-api.md §3.1/§7: a file_path is bound to the advertiser that uploaded it;
            # to anyone else it does not exist.
            if uploaded is None or uploaded.advertiser_id != advertiser_id:
                raise ApiError(errors.FILE_NOT_FOUND, f"File {file_path} does not exist.")
            if uploaded.calculate_type != wanted:
                raise ApiError(
                    errors.PARAM_ERROR,
                    f"file_paths: file {file_path} was uploaded with calculate_type "
                    f"{uploaded.calculate_type}, which does not match {calculate_type}.",
                )
            union.update(uploaded.hashes)
        return union

    # --- audiences -------------------------------------------------------------------------

    def _new_audience_id(self) -> str:
        self._audience_seq += 1
        return str(AUDIENCE_ID_BASE + self._audience_seq)

    def _check_cap(self, advertiser_id: str) -> None:
        # docs/tiktok-api.md §3.8: at most 400 custom audiences per ad account; §8 question 15 — we
        # count every kind, Partner included, which is the conservative reading.
        limit = self._config.max_audiences
        owned = sum(1 for a in self._audiences.values() if a.advertiser_id == advertiser_id)
        if owned >= limit:
            raise ApiError(
                errors.PARAM_ERROR,
                f"The number of audiences of this advertiser has reached the limit of {limit:,}. "
                "Delete unused audiences and try again.",
            )

    def _owned(self, advertiser_id: str, audience_id: str) -> Audience:
        audience = self._audiences.get(audience_id)
        if audience is None or audience.advertiser_id != advertiser_id:
            raise ApiError(errors.NOT_FOUND, f"Audience {audience_id} does not exist.")
        return audience

    def create_customer_audience(
        self,
        advertiser_id: str,
        name: str,
        calculate_type: str,
        file_paths: list[str],
        retention_in_days: int | None,
        audience_sub_type: str,
    ) -> str:
        with self._lock:
            hashes = self._resolve_files(advertiser_id, file_paths, calculate_type)
            self._check_cap(advertiser_id)
            now = time.time()
            audience_id = self._new_audience_id()
            # docs/tiktok-api.md §3.8: fewer than ~1,000 matches -> the audience is created but ends
            # at size 0 and cannot be edited. We keep the members for inspection; the API shows
            # cover_num 0.
            editable = len(hashes) >= self._config.min_customer_file_size
            self._audiences[audience_id] = Audience(
                audience_id=audience_id,
                advertiser_id=advertiser_id,
                name=name,
                kind="customer_file",
                calculate_type=canonical_calculate_type(calculate_type),
                members={canonical_calculate_type(calculate_type): hashes},
                create_time=now,
                modify_time=now,
                retention_in_days=retention_in_days,
                audience_sub_type=audience_sub_type,
                processing_until=time.monotonic() + self._config.processing_seconds,
                editable=editable,
                history=[HistoryEntry("CREATE", f"{len(file_paths)} file(s)", now)],
            )
            return audience_id

    def update_customer_audience(
        self,
        advertiser_id: str,
        audience_id: str,
        action: str,
        file_paths: list[str] | None,
        name: str | None,
        audience_sub_type: str | None,
    ) -> None:
        with self._lock:
            audience = self._owned(advertiser_id, audience_id)
            if audience.kind != "customer_file":
                raise ApiError(
                    errors.PARAM_ERROR,
                    f"custom_audience_id: audience {audience_id} is a Partner audience; "
                    "change its members with /segment/mapping/.",
                )
            # docs/tiktok-api.md §3.4/§7: an update while TikTok is still processing fails with
            # 40002.
            if time.monotonic() < audience.processing_until:
                raise ApiError(errors.PARAM_ERROR, errors.MSG_PROCESSING)
            if not audience.editable:
                raise ApiError(errors.PARAM_ERROR, errors.MSG_NOT_EDITABLE)
            now = time.time()
            if audience_sub_type is not None:
                # docs/tiktok-api.md §3.4: only NORMAL -> REACH_FREQUENCY; when set, other fields
                # are ignored.
                going_back = audience_sub_type == "NORMAL"
                if going_back and audience.audience_sub_type == "REACH_FREQUENCY":
                    raise ApiError(
                        errors.PARAM_ERROR,
                        "audience_sub_type: only NORMAL -> REACH_FREQUENCY is allowed.",
                    )
                audience.audience_sub_type = audience_sub_type
                audience.modify_time = now
                return
            new_members: Hashes | None = None
            if file_paths is not None:
                incoming = self._resolve_files(advertiser_id, file_paths, audience.calculate_type)
                current = audience.members[audience.calculate_type]
                if action == "APPEND":
                    new_members = current | incoming
                elif action == "REMOVE":
                    new_members = {h: None for h in current if h not in incoming}
                else:
                    new_members = incoming
                floor = self._config.min_customer_file_size
                # docs/tiktok-api.md §3.4: APPEND, REMOVE and REPLACE all fail if the audience would
                # be below 1,000 afterwards; nothing changes.
                if len(new_members) < floor:
                    raise ApiError(
                        errors.PARAM_ERROR,
                        f"The audience would have {len(new_members):,} members after {action}, "
                        f"below the minimum of {floor:,}. Nothing was changed.",
                    )
            if name is not None:
                audience.name = name
                audience.history.append(HistoryEntry("RENAME", name, now))
            if new_members is not None and file_paths is not None:
                audience.members[audience.calculate_type] = new_members
                audience.processing_until = time.monotonic() + self._config.processing_seconds
                audience.history.append(HistoryEntry(action, f"{len(file_paths)} file(s)", now))
            del audience.history[:-HISTORY_LIMIT]
            audience.modify_time = now

    def create_partner_audience(self, advertiser_id: str, name: str) -> str:
        with self._lock:
            self._check_cap(advertiser_id)
            now = time.time()
            audience_id = self._new_audience_id()
            self._audiences[audience_id] = Audience(
                audience_id=audience_id,
                advertiser_id=advertiser_id,
                name=name,
                kind="partner",
                calculate_type=PARTNER_CALCULATE_TYPE,
                members={},
                create_time=now,
                modify_time=now,
                ready_at=time.monotonic() + self._config.segment_ready_seconds,
                history=[HistoryEntry("CREATE", "segment API", now)],
            )
            return audience_id

    def delete_partner_audience(self, advertiser_id: str, audience_id: str) -> None:
        with self._lock:
            audience = self._owned(advertiser_id, audience_id)
            if audience.kind != "partner":
                raise ApiError(
                    errors.PARAM_ERROR,
                    f"delete_audience_id: audience {audience_id} is not a Partner audience.",
                )
            del self._audiences[audience_id]

    def delete_audiences(self, advertiser_id: str, audience_ids: list[str]) -> None:
        """All or nothing: one unknown id and none is deleted."""
        with self._lock:
            for audience_id in audience_ids:
                self._owned(advertiser_id, audience_id)
            for audience_id in audience_ids:
                self._audiences.pop(audience_id, None)

    def apply_mapping(
        self, advertiser_ids: list[str], action: str, entries: list[MappingEntry]
    ) -> None:
        """Add or delete ids as set operations; the whole batch is checked before any change."""
        with self._lock:
            allowed = set(advertiser_ids)
            targets: dict[str, Audience] = {}
            for entry in entries:
                for audience_id in entry.audience_ids:
                    audience = self._audiences.get(audience_id)
                    # docs/tiktok-api.md §4.2: each audience must belong to one of advertiser_ids.
                    # Only Partner audiences take mappings here (docs/tiktok-api.md §8 question 14,
                    # conservative reading).
                    if (
                        audience is None
                        or audience.advertiser_id not in allowed
                        or audience.kind != "partner"
                    ):
                        raise ApiError(
                            errors.PARAM_ERROR,
                            f"Parameter error: invalid audience ID {audience_id} "
                            f"(batch_data[{entry.row}][{entry.column}]).",
                        )
                    targets[audience_id] = audience
            if any(time.monotonic() < audience.ready_at for audience in targets.values()):
                # docs/tiktok-api.md §4.1: a segment just created answers HTTP 400 until it is ready
                raise HttpError(400, "400 Bad Request")
            for entry in entries:
                for audience_id in entry.audience_ids:
                    members = targets[audience_id].members.setdefault(entry.id_type, {})
                    if action == "add":
                        members[entry.id_hash] = None
                    else:
                        members.pop(entry.id_hash, None)
            now = time.time()
            for audience in targets.values():
                # An id type whose last member was deleted disappears, as if never mapped.
                audience.members = {k: v for k, v in audience.members.items() if v}
                audience.modify_time = now

    # --- reading -----------------------------------------------------------------------------

    def _view(self, audience: Audience, now: float) -> AudienceView:
        return AudienceView(
            audience_id=audience.audience_id,
            advertiser_id=audience.advertiser_id,
            name=audience.name,
            kind=audience.kind,
            calculate_type=audience.calculate_type,
            audience_sub_type=audience.audience_sub_type,
            member_counts={k: len(v) for k, v in sorted(audience.members.items())},
            create_time=audience.create_time,
            modify_time=audience.modify_time,
            retention_in_days=audience.retention_in_days,
            processing=now < audience.processing_until,
            editable=audience.editable,
            history=tuple(audience.history),
        )

    def views(self, advertiser_id: str | None = None) -> list[AudienceView]:
        """All audiences (of one advertiser), oldest first."""
        now = time.monotonic()
        with self._lock:
            return [
                self._view(a, now)
                for a in self._audiences.values()
                if advertiser_id is None or a.advertiser_id == advertiser_id
            ]

    def owned_views(self, advertiser_id: str, audience_ids: list[str]) -> list[AudienceView]:
        """The requested audiences in order; 40007 for any this advertiser does not own."""
        now = time.monotonic()
        with self._lock:
            return [self._view(self._owned(advertiser_id, i), now) for i in audience_ids]

    def members(self, audience_id: str) -> dict[str, set[str]]:
        with self._lock:
            audience = self._audiences.get(audience_id)
            if audience is None:
                raise KeyError(audience_id)
            return {k: set(v) for k, v in audience.members.items()}
