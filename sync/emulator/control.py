"""The control API under /_emulator/: how tests and the demo look inside and steer the emulator.

It is deliberately not TikTok-shaped (plain JSON, HTTP status codes, no auth, no rate limit), so
nobody mistakes it for part of the real API.

    GET    /_emulator/                               index of these paths
    GET    /_emulator/audiences/?advertiser_id=      audiences with member counts per id type
    GET    /_emulator/audiences/<id>/members/        {"members": {id_type: [sorted hashes]}}
    GET    /_emulator/requests/                      the request log (secrets redacted)
    DELETE /_emulator/requests/                      clear the log
    POST   /_emulator/reset/                         wipe audiences, files, log, faults
    GET    /_emulator/config/                        the run-time limits
    POST   /_emulator/config/                        change some of them
    GET    /_emulator/faults/                        rules and counts of injected faults
    POST   /_emulator/faults/                        {"seed": int, "rules": [...]} replaces rules
    DELETE /_emulator/faults/                        drop the rules (counts stay until reset)
    GET    /_emulator/in-flight/                     API requests in flight now, and the peak
    DELETE /_emulator/in-flight/                     restart the peak from those in flight now
"""

from __future__ import annotations

import json
import re
from typing import Any

from sync.emulator.config import RUNTIME_FIELDS, EmulatorConfig, EmulatorConfigError
from sync.emulator.faults import FaultRuleError
from sync.emulator.state import AudienceView, State

PREFIX = "/_emulator/"
INDEX = [
    "GET /_emulator/audiences/?advertiser_id=",
    "GET /_emulator/audiences/<audience_id>/members/",
    "GET|DELETE /_emulator/requests/",
    "POST /_emulator/reset/",
    "GET|POST /_emulator/config/",
    "GET|POST|DELETE /_emulator/faults/",
    "GET|DELETE /_emulator/in-flight/",
]
_MEMBERS = re.compile(r"audiences/(\d+)/members/")

Reply = tuple[int, dict[str, Any]]


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def handle(state: State, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Reply:
    """Answer one control request; `path` is relative to /_emulator/."""
    try:
        return _route(state, method, path, query, body)
    except ControlError as exc:
        return exc.status, {"error": exc.message}


def _route(state: State, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Reply:
    if path == "":
        _allow(method, "GET")
        return 200, {"paths": INDEX}
    if path == "audiences/":
        _allow(method, "GET")
        advertiser_id = (query.get("advertiser_id") or [""])[-1] or None
        return 200, {"audiences": [audience_summary(v) for v in state.views(advertiser_id)]}
    match = _MEMBERS.fullmatch(path)
    if match:
        _allow(method, "GET")
        try:
            members = state.members(match.group(1))
        except KeyError:
            raise ControlError(404, f"no audience {match.group(1)}") from None
        return 200, {
            "audience_id": match.group(1),
            "members": {k: sorted(v) for k, v in sorted(members.items())},
        }
    if path == "requests/":
        _allow(method, "GET", "DELETE")
        if method == "DELETE":
            state.clear_requests()
            return 200, {"cleared": True}
        return 200, {"requests": state.requests()}
    if path == "reset/":
        _allow(method, "POST")
        state.reset()
        return 200, {"reset": True}
    if path == "config/":
        _allow(method, "GET", "POST")
        if method == "POST":
            _update_config(state, _json(body))
        return 200, {"config": state.config.runtime_settings()}
    if path == "faults/":
        _allow(method, "GET", "POST", "DELETE")
        if method == "POST":
            data = _json(body)
            unknown = sorted(set(data) - {"seed", "rules"})
            if unknown:
                raise ControlError(400, f"unknown field(s) {', '.join(unknown)}")
            try:
                state.set_faults(data.get("rules", []), data.get("seed", 0))
            except FaultRuleError as exc:
                raise ControlError(400, str(exc)) from None
        elif method == "DELETE":
            state.clear_faults()
        return 200, state.faults()
    if path == "in-flight/":
        _allow(method, "GET", "DELETE")
        if method == "DELETE":
            state.clear_peak_in_flight()
        return 200, state.in_flight()
    raise ControlError(404, f"unknown control path {PREFIX}{path}")


def audience_summary(view: AudienceView) -> dict[str, Any]:
    return {
        "audience_id": view.audience_id,
        "advertiser_id": view.advertiser_id,
        "name": view.name,
        "kind": view.kind,
        "calculate_type": view.calculate_type,
        "audience_sub_type": view.audience_sub_type,
        "members": dict(view.member_counts),
        "member_total": view.member_total,
        "processing": view.processing,
        "editable": view.editable,
    }


def _update_config(state: State, changes: dict[str, Any]) -> None:
    unknown = sorted(set(changes) - set(RUNTIME_FIELDS))
    if unknown:
        raise ControlError(
            400,
            f"cannot change {', '.join(unknown)} at run time; allowed: {', '.join(RUNTIME_FIELDS)}",
        )
    try:
        EmulatorConfig.check_limits(changes, source="config")
    except EmulatorConfigError as exc:
        raise ControlError(400, str(exc)) from None
    state.update_config(changes)


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise ControlError(405, f"method {method} not allowed here; use {', '.join(allowed)}")


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise ControlError(400, "body must be JSON") from None
    if not isinstance(data, dict):
        raise ControlError(400, "body must be a JSON object")
    return data
