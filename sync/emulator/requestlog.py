"""What the request log keeps of a request: enough to assert on, never a secret.

Secrets stay secret (README "Guarantees"). The emulator's log is shown by the control API and may
be printed by tests, so `secret`, `auth_code` and `access_token` values and the Access-Token header
are replaced by "***" wherever they appear at the top level of the query or body.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sync.emulator import multipart
from sync.emulator.params import parse_json

REDACTED = "***"
SECRET_KEYS = frozenset({"secret", "auth_code", "access_token", "app_secret", "client_secret"})
# Bigger JSON bodies are summarised (keys kept, long lists replaced by their length) so a soak test
# with 10,000-row mapping batches does not keep gigabytes of hashes alive.
FULL_BODY_LIMIT = 1024 * 1024
LONG_LIST = 100


def redact_query(query: dict[str, list[str]]) -> dict[str, list[str]]:
    return {k: [REDACTED] * len(v) if k in SECRET_KEYS else list(v) for k, v in query.items()}


def summarise_body(content_type: str, body: bytes, parsed: tuple[bool, Any] | None = None) -> Any:
    """What the log keeps of `body`; `parsed` is `params.parse_json(body)` if already done."""
    if not body:
        return None
    media_type, _ = multipart.header_params(content_type)
    if media_type == "application/json":
        is_json, data = parse_json(body) if parsed is None else parsed
        if not is_json:
            return {"unparsed_bytes": len(body)}
        if isinstance(data, dict):
            data = {k: REDACTED if k in SECRET_KEYS else v for k, v in data.items()}
            if len(body) > FULL_BODY_LIMIT:
                data = {k: _shorten(v) for k, v in data.items()}
        return data
    if media_type == "multipart/form-data":
        try:
            parts = multipart.parse(body, content_type)
        except multipart.MultipartError:
            return {"unparsed_bytes": len(body)}
        form: dict[str, str] = {}
        files: dict[str, dict[str, Any]] = {}
        for part in parts:
            if part.filename is not None:
                files[part.name] = {
                    "filename": part.filename,
                    "size": len(part.data),
                    "md5": hashlib.md5(part.data).hexdigest(),
                }
            else:
                value = part.data.decode("utf-8", "replace")
                form[part.name] = REDACTED if part.name in SECRET_KEYS else value
        return {"form": form, "files": files}
    return {"unparsed_bytes": len(body)}


def _shorten(value: Any) -> Any:
    if isinstance(value, list) and len(value) > LONG_LIST:
        return f"<list of {len(value)} items>"
    return value
