"""Who may call the emulator and which limits it enforces.

Identities (advertisers, tokens, apps, auth codes) are fixed for the life of an emulator; the limits
can also be changed at run time through the control API (`POST /_emulator/config/`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

DEMO_ADVERTISER_ID = "7000000000000000001"
DEMO_TOKEN = "emulator-token"
DEMO_APP_ID = "emulator-app"
DEMO_APP_SECRET = "emulator-secret"
DEMO_AUTH_CODE = "emulator-auth-code"

# The limits that may change while the emulator runs (control API). Identities may not: a token
# that appears mid-run would make request logs hard to read.
RUNTIME_FIELDS = (
    "qps",
    "processing_seconds",
    "segment_ready_seconds",
    "mapping_batch_limit",
    "max_audiences",
    "min_customer_file_size",
    "max_file_bytes",
    "auth_code_ttl_seconds",
    "latency",
)
# A `latency` key: an endpoint path under /open_api/v1.3/ (e.g. "segment/mapping/"), or "*" for
# every endpoint without a key of its own.
ANY_ENDPOINT = "*"


class EmulatorConfigError(ValueError):
    """The configuration is unusable; the message says which field and why."""


def _demo_advertisers() -> dict[str, str]:
    return {DEMO_ADVERTISER_ID: "Demo advertiser"}


def _demo_tokens() -> dict[str, list[str]]:
    return {DEMO_TOKEN: [DEMO_ADVERTISER_ID]}


def _demo_apps() -> dict[str, str]:
    return {DEMO_APP_ID: DEMO_APP_SECRET}


def _demo_auth_codes() -> dict[str, str]:
    return {DEMO_AUTH_CODE: DEMO_TOKEN}


@dataclass
class EmulatorConfig:
    """Identities and limits. Omitted identity fields default to the single demo advertiser."""

    advertisers: dict[str, str] = field(default_factory=_demo_advertisers)
    """advertiser_id -> advertiser name."""
    tokens: dict[str, list[str]] = field(default_factory=_demo_tokens)
    """access token -> the advertiser_ids it may manage."""
    apps: dict[str, str] = field(default_factory=_demo_apps)
    """app_id -> app secret."""
    auth_codes: dict[str, str] = field(default_factory=_demo_auth_codes)
    """auth_code -> the access token it grants (single use, docs/tiktok-api.md §2)."""
    qps: float = 10
    """Requests a second per token, 0 = unlimited; Basic tier 10 (docs/tiktok-api.md §5.1)."""
    mapping_batch_limit: int = 10_000
    """Rows per /segment/mapping/ request (docs/tiktok-api.md §0, §4.2 Braze's 10k users)."""
    processing_seconds: float = 0.0
    """How long a customer-file audience stays locked after a change (docs/tiktok-api.md §7)."""
    segment_ready_seconds: float = 0.0
    """How long a new segment audience answers /segment/mapping/ with a plain HTTP 400
    (docs/tiktok-api.md §4.1: "usually 1-2 minutes"). 0 in tests and the demo, which would only
    wait.
    """
    max_audiences: int = 400
    """Audiences per advertiser, all kinds counted (docs/tiktok-api.md §3.8)."""
    min_customer_file_size: int = 1000
    """The 1,000 floor for customer-file audiences (docs/tiktok-api.md §3.4, §3.8)."""
    max_file_bytes: int = 50 * 1024 * 1024
    """Largest accepted upload (docs/tiktok-api.md §0: 50 MB)."""
    auth_code_ttl_seconds: float = 3600.0
    """auth_code lifetime, from emulator start or reset (docs/tiktok-api.md §2: valid 1 hour)."""
    latency: dict[str, dict[str, float]] = field(default_factory=dict)
    """Added round trip per endpoint: path (or "*") -> {"fixed": s, "jitter": s}. Each API request
    waits `fixed` plus a uniform 0..`jitter` seconds before it is handled: real TikTok answers a
    mapping request in a few hundred milliseconds, loopback in one."""

    def latency_of(self, endpoint: str) -> tuple[float, float]:
        """(fixed, jitter) seconds for an endpoint path."""
        rule = self.latency.get(endpoint, self.latency.get(ANY_ENDPOINT, {}))
        return float(rule.get("fixed", 0.0)), float(rule.get("jitter", 0.0))

    @classmethod
    def default(cls) -> EmulatorConfig:
        """One advertiser, one token, one app, one auth code: enough for the demo and most tests."""
        return cls()

    @classmethod
    def load(cls, path: str | Path) -> EmulatorConfig:
        """Read a JSON object with any of this class's fields; missing ones keep their defaults."""
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise EmulatorConfigError(f"{source}: cannot read config file: {exc.strerror}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EmulatorConfigError(
                f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
            ) from exc
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: Any, source: str = "config") -> EmulatorConfig:
        if not isinstance(data, dict):
            raise EmulatorConfigError(f"{source}: expected a JSON object at the top level")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise EmulatorConfigError(
                f"{source}: unknown key(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(known))}"
            )
        config = cls(**data)
        config.validate(source)
        return config

    def validate(self, source: str = "config") -> None:
        """Check types and cross-references; raise EmulatorConfigError naming the field."""
        _check_str_map(self.advertisers, "advertisers", source)
        _check_str_map(self.apps, "apps", source)
        _check_str_map(self.auth_codes, "auth_codes", source)
        for advertiser_id in self.advertisers:
            if not advertiser_id.isdigit():
                raise EmulatorConfigError(
                    f"{source}: advertisers: id {advertiser_id!r} must be a numeric string"
                )
        if not isinstance(self.tokens, dict):
            raise EmulatorConfigError(f"{source}: tokens must be an object")
        for token, advertiser_ids in self.tokens.items():
            if not token or not isinstance(advertiser_ids, list):
                raise EmulatorConfigError(
                    f"{source}: tokens: {token!r} must map to a list of advertiser ids"
                )
            for advertiser_id in advertiser_ids:
                if advertiser_id not in self.advertisers:
                    raise EmulatorConfigError(
                        f"{source}: tokens: advertiser {advertiser_id!r} is not in advertisers"
                    )
        for code, token in self.auth_codes.items():
            if token not in self.tokens:
                raise EmulatorConfigError(
                    f"{source}: auth_codes: {code!r} grants unknown token (not in tokens)"
                )
        self.check_limits(asdict(self), source)

    @staticmethod
    def check_limits(values: dict[str, Any], source: str = "config") -> None:
        """Validate any subset of RUNTIME_FIELDS (shared with the control API)."""
        for name in ("qps", "processing_seconds", "segment_ready_seconds", "auth_code_ttl_seconds"):
            if name in values:
                value = values[name]
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise EmulatorConfigError(f"{source}: {name} must be a number >= 0")
        for name in ("mapping_batch_limit", "max_audiences", "max_file_bytes"):
            if name in values:
                value = values[name]
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise EmulatorConfigError(f"{source}: {name} must be an integer >= 1")
        if "min_customer_file_size" in values:
            value = values["min_customer_file_size"]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise EmulatorConfigError(
                    f"{source}: min_customer_file_size must be an integer >= 0"
                )
        if "latency" in values:
            _check_latency(values["latency"], source)

    def runtime_settings(self) -> dict[str, Any]:
        """The limits only, safe to show: no tokens or secrets."""
        return {name: getattr(self, name) for name in RUNTIME_FIELDS}


def _check_str_map(value: Any, name: str, source: str) -> None:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()
    ):
        raise EmulatorConfigError(f"{source}: {name} must be an object of non-empty string keys")


def _check_latency(value: Any, source: str) -> None:
    shape = 'an object of endpoint path (or "*") -> {"fixed": seconds, "jitter": seconds}'
    if not isinstance(value, dict):
        raise EmulatorConfigError(f"{source}: latency must be {shape}")
    for endpoint, rule in value.items():
        path = isinstance(endpoint, str) and endpoint.endswith("/")
        if not (path or endpoint == ANY_ENDPOINT):
            raise EmulatorConfigError(
                f"{source}: latency: {endpoint!r} must be an endpoint path ending in / "
                f'(e.g. "segment/mapping/") or "*"'
            )
        if not isinstance(rule, dict) or set(rule) - {"fixed", "jitter"}:
            raise EmulatorConfigError(f"{source}: latency: {endpoint!r} must be {shape}")
        for name, seconds in rule.items():
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                raise EmulatorConfigError(
                    f"{source}: latency: {endpoint!r} {name} must be a number of seconds >= 0"
                )
