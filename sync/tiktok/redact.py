"""Keeping the token, the app secret and auth codes out of messages and logs (DESIGN §7).

Two leaks this guards against:
- TikTok's error `message` could echo a parameter back; the client scrubs every secret it knows
  from any text it puts into an error or a log line (`redact`).
- urllib3 logs the full request URL at DEBUG (`"GET /open_api/v1.3/oauth2/advertiser/get/?
  app_id=…&secret=… HTTP/1.1" 200`), and `oauth2/advertiser/get/` takes the app secret in its
  query string (reference §2). The CLI must therefore never turn on urllib3's DEBUG logging.
  As a safety net for anyone who does (`logging.basicConfig(level=DEBUG)` while debugging),
  `protect_urllib3_logs` adds a filter to urllib3's loggers that masks secret query values.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[redacted]"

_SECRET_QUERY = re.compile(
    r"\b(secret|app_secret|client_secret|access_token|auth_code)=[^&\s'\"]*", re.IGNORECASE
)

# The urllib3 loggers whose records include request URLs (connectionpool: request lines and
# retries; util.retry: "Incremented Retry for (url=…)"; poolmanager: redirects).
_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every given secret value and every secret-named query value masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _SECRET_QUERY.sub(lambda m: f"{m.group(1)}={REDACTED}", text)


class _SecretQueryFilter(logging.Filter):
    """Rewrites a record in place so no handler anywhere sees a secret query value."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's problem, not ours
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


def protect_urllib3_logs() -> None:
    """Install the masking filter on urllib3's loggers once per process (idempotent)."""
    for name in _URLLIB3_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, _SecretQueryFilter) for f in target.filters):
            target.addFilter(_SecretQueryFilter())
