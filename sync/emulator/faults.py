"""Injectable faults: the failures a client meets against the real API, on demand and reproducible.

A rule fires either with a probability per matching request (`rate`, drawn from
`random.Random(seed)`, so the same seed and the same request sequence give the same faults) or for
the next N matching requests (`count`). The first rule that fires wins. `FaultPlan` is not
thread-safe by itself: the emulator's state calls it under its one lock.

Why these kinds (docs/tiktok-api.md §5.2 and §7): TikTok throttles with 40100, reports busy tasks
and write conflicts with 40201/40202, fails with 50000/50002/51xxx inside an HTTP 200 envelope,
sometimes with a bare HTTP 5xx page, may be slow enough to exceed a client timeout, may send its
answer so slowly that no single read times out but the whole answer never arrives in time
(`slow_body`: applied, the headers at once, then the body a byte every `delay` seconds), and — with
no idempotency keys — may apply a change and then fail to say so. It throttles some requests with
40132 too ("requests made too frequently for a certain field value": `throttle` with `code` 40132),
and answers 20001 when it applied only part of a request (`partial`: on `segment/mapping/` the first
half of `batch_data` is applied, on `dmp/custom_audience/update/` all of it; the answer does not say
which, since no source shows TikTok saying so, docs/tiktok-api.md §8 question 11). Other endpoints
answer as usual under `partial`: a part of a read, a create or an upload has no meaning we know.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sync.emulator import errors
from sync.emulator.params import ApiRequest

THROTTLE = "throttle"
BUSY = "busy"
SERVER_ERROR = "server_error"
HTTP_5XX = "http_5xx"
SLOW = "slow"
SLOW_BODY = "slow_body"
DROP = "drop"
APPLIED_THEN_ERROR = "applied_then_error"
APPLIED_THEN_DROP = "applied_then_drop"
PARTIAL = "partial"
# Where a `partial` fault answers 20001: the endpoints that apply a set of identifiers.
PARTIAL_PATHS = frozenset({"segment/mapping/", "dmp/custom_audience/update/"})

KINDS = (
    THROTTLE,
    BUSY,
    SERVER_ERROR,
    HTTP_5XX,
    SLOW,
    SLOW_BODY,
    DROP,
    APPLIED_THEN_ERROR,
    APPLIED_THEN_DROP,
    PARTIAL,
)
# Kinds whose request is answered (or dropped) without running the endpoint: nothing is applied.
NOT_APPLIED = frozenset({THROTTLE, BUSY, SERVER_ERROR, HTTP_5XX, DROP})

_DEFAULT_CODES = {
    THROTTLE: errors.RATE_LIMITED,
    BUSY: errors.TASK_NOT_READY,
    SERVER_ERROR: errors.SYSTEM_ERROR,
    HTTP_5XX: 500,  # an HTTP status here, not an envelope code
    APPLIED_THEN_ERROR: errors.TIKTOK_SIDE_ERROR,
    PARTIAL: errors.PARTIAL_SUCCESS,
}

_MESSAGES = {
    errors.RATE_LIMITED: errors.MSG_RATE_LIMITED,
    errors.TASK_NOT_READY: "Task is not ready, please try again later.",
    errors.WRITE_CONFLICT: "Write or update entity conflict, please try again.",
    errors.SYSTEM_ERROR: "System error",
    errors.PARTIAL_SUCCESS: "Partially successful.",
    40132: "The request QPS is limited by the field's value, please try again later.",
    errors.TIKTOK_SIDE_ERROR: "Error processing request on TikTok side, please try again later.",
}

API_PREFIX = "/open_api/v1.3/"


def partial_request(request: ApiRequest) -> ApiRequest:
    """The part of a request a `partial` fault lets through: half of a mapping's batch_data."""
    if request.path != "segment/mapping/":
        return request
    try:
        body = json.loads(request.body)
    except ValueError:
        return request  # the endpoint refuses it as it stands
    rows = body.get("batch_data") if isinstance(body, dict) else None
    if not isinstance(rows, list) or len(rows) < 2:
        return request
    body["batch_data"] = rows[: len(rows) // 2]
    return replace(request, body=json.dumps(body).encode(), parsed=None)


class FaultRuleError(ValueError):
    """A fault rule is malformed; the message names the rule index and field."""


@dataclass
class FaultRule:
    kind: str
    path: str = ""
    """Prefix of the API path relative to /open_api/v1.3/, e.g. "segment/mapping/"; "" = all."""
    rate: float | None = None
    count: int | None = None
    """Remaining firings for a count rule; decremented each time it fires."""
    code: int | None = None
    delay: float = 1.0
    fired: int = 0

    @property
    def effective_code(self) -> int:
        return self.code if self.code is not None else _DEFAULT_CODES.get(self.kind, 0)

    @property
    def message(self) -> str:
        code = self.effective_code
        return _MESSAGES.get(code, f"Internal service error ({code}), please try again later.")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "path": self.path, "fired": self.fired}
        if self.rate is not None:
            out["rate"] = self.rate
        if self.count is not None:
            out["count"] = self.count
        if self.code is not None:
            out["code"] = self.code
        if self.kind in (SLOW, SLOW_BODY):
            out["delay"] = self.delay
        return out


def normalise_path(path: str) -> str:
    """Accept "segment/mapping/", "/segment/mapping/" or the full "/open_api/v1.3/…" form."""
    if path.startswith(API_PREFIX):
        return path[len(API_PREFIX) :]
    return path.lstrip("/")


def parse_rule(raw: Any, index: int) -> FaultRule:
    where = f"rules[{index}]"
    if not isinstance(raw, Mapping):
        raise FaultRuleError(f"{where}: must be an object")
    allowed = {"kind", "rate", "count", "path", "code", "delay"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise FaultRuleError(f"{where}: unknown field(s) {', '.join(unknown)}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise FaultRuleError(f"{where}.kind: must be one of {', '.join(KINDS)}")
    rate, count = raw.get("rate"), raw.get("count")
    if (rate is None) == (count is None):
        raise FaultRuleError(f"{where}: give exactly one of rate (0..1) or count (N)")
    if rate is not None and (
        isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1
    ):
        raise FaultRuleError(f"{where}.rate: must be a number between 0 and 1")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
        raise FaultRuleError(f"{where}.count: must be an integer >= 0")
    path = raw.get("path", "")
    if not isinstance(path, str):
        raise FaultRuleError(f"{where}.path: must be a string")
    code = raw.get("code")
    if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
        raise FaultRuleError(f"{where}.code: must be an integer")
    if kind == HTTP_5XX and code is not None and not 500 <= code <= 599:
        raise FaultRuleError(f"{where}.code: http_5xx takes an HTTP status 500..599")
    delay = raw.get("delay", 1.0)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise FaultRuleError(f"{where}.delay: must be a number of seconds >= 0")
    return FaultRule(
        kind=kind,
        path=normalise_path(path),
        rate=float(rate) if rate is not None else None,
        count=count,
        code=code,
        delay=float(delay),
    )


class FaultPlan:
    """The active rules, their random source, and how many faults of each kind were injected."""

    def __init__(self) -> None:
        self.seed = 0
        self.rules: list[FaultRule] = []
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(0)

    def set_rules(self, raw_rules: Any, seed: Any = 0) -> None:
        """Replace the rules and reseed; raises FaultRuleError and changes nothing on bad input."""
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise FaultRuleError("seed: must be an integer")
        if not isinstance(raw_rules, list):
            raise FaultRuleError("rules: must be a list")
        rules = [parse_rule(raw, i) for i, raw in enumerate(raw_rules)]
        self.seed = seed
        self.rules = rules
        self._rng = random.Random(seed)

    def clear_rules(self) -> None:
        """Drop the rules; the injected counts stay until a reset."""
        self.rules = []

    def pick(self, api_path: str) -> FaultRule | None:
        """Decide the fault for one request on `api_path` (relative to /open_api/v1.3/)."""
        for rule in self.rules:
            if not api_path.startswith(rule.path):
                continue
            if rule.count is not None:
                if rule.count <= 0:
                    continue
                rule.count -= 1
            elif self._rng.random() >= (rule.rate or 0.0):
                continue
            rule.fired += 1
            self.counts[rule.kind] += 1
            return rule
        return None

    def snapshot(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "rules": [rule.to_dict() for rule in self.rules],
            "counts": dict(self.counts),
        }
