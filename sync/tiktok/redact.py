"""Keeping the token, the app secret and auth codes out of messages, logs and tables (README
"Guarantees", "No secret in output").

Three leaks this guards against:
- A server (TikTok, a proxy, something hostile at the configured base URL) can echo a secret
  back in any shape: upper-cased, cut short, inside the `request_id` or an `X-Tt-Logid` header,
  percent-encoded inside a URL in its message. `redact` therefore masks, case-insensitively,
  every run of 8 or more characters that is a piece of a secret (or of its percent-encoded
  form): any substring of 8+ characters is a union of 8-character pieces, so covering every
  8-character piece covers them all. 8 is the shortest a fragment may be: shorter runs of a
  40-hex-character token would match ordinary text, and a fragment that short does not help
  anyone guess the rest. Secrets shorter than that are masked whole.
- The secrets a command or a sync run uses are remembered (`remember`, inside `remembering`)
  when the client or the settings first see them, so every output path can mask them without
  being handed them: the CLI's stdout, stderr and log handler, every `TikTokError`, and the
  run history the sync writes. Outside such a scope nothing is remembered: a process running
  many commands (tests, a notebook) would otherwise mask each one's output with the others'.
- urllib3 logs the full request URL at DEBUG (`"GET /open_api/v1.3/oauth2/advertiser/get/?
  app_id=…&secret=… HTTP/1.1" 200`), and `oauth2/advertiser/get/` takes the app secret in its query
  string (docs/tiktok-api.md §2). The CLI must therefore never turn on urllib3's DEBUG logging. As a
  safety net for anyone who does (`logging.basicConfig(level=DEBUG)` while debugging),
  `protect_urllib3_logs` adds a filter to urllib3's loggers that masks secret query values.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
MIN_FRAGMENT = 8  # characters of a secret that count as a leak (module docstring)

# Every secret this process has seen; masked in all output even where nobody passes them.
_known: set[str] = set()
# Values known to be public (the app id) are never masked, even where they share a piece with
# a secret: masking what is public protects nothing. The emulator's demo identity needs it
# (`emulator-app` shares `emulator-a` with the auth code `emulator-auth-code`); TikTok's
# numeric app ids and random tokens do not.
_public: set[str] = set()
_scopes = 0  # `remembering` blocks open; `remember` records only inside one
_known_lock = threading.Lock()
# ASCII-only lower-casing keeps every character at its index (str.lower() can change the
# length of some non-ASCII text), so positions found in the folded text hold in the original.
_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

_SECRET_QUERY = re.compile(
    r"\b(secret|app_secret|client_secret|access_token|auth_code)=[^&\s'\"]*", re.IGNORECASE
)

# The urllib3 loggers whose records include request URLs (connectionpool: request lines and
# retries; util.retry: "Incremented Retry for (url=…)"; poolmanager: redirects).
_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")


def remember(*secrets: str | None, public: tuple[str | None, ...] = ()) -> None:
    """Add secrets to those every `redact` call masks, and values it must leave alone."""
    with _known_lock:
        if _scopes:
            _known.update(s for s in secrets if s)
            _public.update(p for p in public if p)


@contextmanager
def remembering() -> Iterator[None]:
    """Remember secrets during the block (one CLI command, one sync run), forget them after."""
    global _scopes
    with _known_lock:
        before, public_before = set(_known), set(_public)
        _scopes += 1
    try:
        yield
    finally:
        with _known_lock:
            _scopes -= 1
            _known.intersection_update(before)
            _public.intersection_update(public_before)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every piece of a secret (given or remembered) and secret query value masked."""
    with _known_lock:
        every = _known.union(s for s in secrets if s)
        public = set(_public)
    if every and text:
        text = _mask_fragments(text, every, public)
    return _SECRET_QUERY.sub(lambda m: f"{m.group(1)}={REDACTED}", text)


def _mask_fragments(text: str, secrets: Iterable[str], public: Iterable[str]) -> str:
    pieces: set[str] = set()  # MIN_FRAGMENT-long pieces, folded
    wholes: set[str] = set()  # secrets shorter than that, folded
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            folded = form.translate(_FOLD)
            if len(folded) < MIN_FRAGMENT:
                wholes.add(folded)
            else:
                pieces.update(
                    folded[i : i + MIN_FRAGMENT] for i in range(len(folded) - MIN_FRAGMENT + 1)
                )
    folded_text = text.translate(_FOLD)
    hidden = bytearray(len(text))  # 1 where a character belongs to a secret
    for i in range(len(text) - MIN_FRAGMENT + 1):
        if folded_text[i : i + MIN_FRAGMENT] in pieces:
            hidden[i : i + MIN_FRAGMENT] = b"\1" * MIN_FRAGMENT
    for whole in wholes:
        for start in _occurrences(folded_text, whole):
            hidden[start : start + len(whole)] = b"\1" * len(whole)
    for value in public:
        folded = value.translate(_FOLD)
        if any(s.translate(_FOLD) in folded for s in secrets):
            continue  # a "public" value holding a whole secret is not public
        for start in _occurrences(folded_text, folded):
            hidden[start : start + len(folded)] = bytes(len(folded))
    if not any(hidden):
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        if hidden[i]:
            while i < len(text) and hidden[i]:
                i += 1
            out.append(REDACTED)
        else:
            j = hidden.find(1, i)
            j = len(text) if j == -1 else j
            out.append(text[i:j])
            i = j
    return "".join(out)


def _occurrences(text: str, part: str) -> Iterator[int]:
    start = text.find(part)
    while start != -1:
        yield start
        start = text.find(part, start + 1)


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
