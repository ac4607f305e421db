"""Getting a TikTok access token and keeping it: the library behind `tiktok-sync auth`.

TikTok's advertiser authorisation (docs/tiktok-api.md §2) is a browser step followed by one API
call: the advertiser opens the authorization URL, approves, and TikTok redirects to the app's
redirect URI with an `auth_code` that is valid for one hour and can be exchanged once
(`oauth2/access_token/`) for a long-lived token that never expires on a timer.

The token is the key to the advertiser's audiences, so it is written only to a file created
with mode 0600 (never widened and then narrowed: `os.open(..., 0o600)`), atomically (a reader
never sees half a file), and never to logs, messages or the warehouse (README "Guarantees").
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sync.errors import AuthorizationError, ConfigError, SyncError
from sync.settings import TikTokSettings, credentials_path
from sync.tiktok import (
    Advertiser,
    AmbiguousWriteError,
    AuthError,
    RetryableError,
    TikTokClient,
    TikTokError,
    TokenGrant,
    TransportError,
    codes,
)

# Codes that mean TikTok does not accept the token itself (as opposed to the token lacking
# access to one advertiser, 40001): the only fix is a new token (docs/tiktok-api.md §5.2).
TOKEN_REJECTED_CODES = frozenset(
    {
        codes.ACCESS_TOKEN_EXPIRED,
        codes.ACCESS_TOKEN_EMPTY,
        codes.ACCESS_TOKEN_INVALID,
        codes.CORE_USER_INVALID,
    }
)
APP_CREDENTIAL_CODES = frozenset({codes.APP_CREDENTIALS_INVALID, codes.APP_SECRET_INVALID})


@dataclass(frozen=True)
class SavedToken:
    """What `exchange_auth_code` did: where the token went and which advertisers it reaches."""

    advertiser_ids: tuple[str, ...]
    saved_to: Path | None
    access_token: str = field(repr=False)


def token_source(credentials_file: str | None) -> str:
    """Where the access token comes from, for messages (never the token itself)."""
    if os.environ.get("TIKTOK_ACCESS_TOKEN"):
        return "TIKTOK_ACCESS_TOKEN"
    return f"credentials file {credentials_path(credentials_file)}"


def auth_code_from(text: str) -> str:
    """The auth code in what the user pasted: the code itself, or the whole redirect URL.

    TikTok redirects to `redirect_uri?auth_code=…&code=…&state=…` (docs/tiktok-api.md §2); copying
    the whole address bar is the natural thing to do, so accept it.
    """
    value = text.strip()
    if "?" in value and "=" in value:
        query = parse_qs(urlsplit(value).query)
        for key in ("auth_code", "code"):
            if query.get(key):
                return query[key][0].strip()
    return value


@dataclass(frozen=True)
class Diagnosis:
    """What went wrong and what to do about it, and which error that makes (its exit code)."""

    kind: type[SyncError]
    detail: str
    fix: str

    def error(self) -> SyncError:
        return self.kind(f"{self.detail}; {self.fix}")


def diagnose(error: TikTokError, *, advertiser_id: str | None = None) -> Diagnosis:
    """What a failed TikTok call means for the user, typed by what to do next.

    `str(error)` already carries the endpoint, TikTok's code, its message with every known
    secret redacted, and the request_id; the common authorisation cases get a sentence that
    says exactly what to do instead.
    """
    where = f"TikTok code {error.code}" if error.code is not None else "TikTok"
    if error.request_id:
        where += f", request_id {error.request_id}"
    if error.code in TOKEN_REJECTED_CODES:
        return Diagnosis(
            AuthorizationError,
            f"TikTok rejected the access token ({where})",
            "get a new one with `tiktok-sync auth` and save it, or fix TIKTOK_ACCESS_TOKEN",
        )
    if error.code == codes.NO_PERMISSION and advertiser_id:
        return Diagnosis(
            AuthorizationError,
            f"the token cannot manage advertiser {advertiser_id} ({where})",
            "re-authorise with an account that has it, or check Business Center access "
            "(`tiktok-sync advertisers` lists the advertisers the token reaches)",
        )
    if error.code == codes.AUTH_CODE_INVALID:
        return Diagnosis(
            AuthorizationError,
            f"the auth code was already used or has expired (valid one hour; {where})",
            "authorize again to get a new one (`tiktok-sync auth --redirect-uri ...` prints "
            "the URL)",
        )
    if error.code in APP_CREDENTIAL_CODES:
        return Diagnosis(
            AuthorizationError,
            f"TikTok says the app id and secret do not match ({where})",
            "check --app-id or TIKTOK_APP_ID, and TIKTOK_APP_SECRET (the secret on the app's "
            "developer page)",
        )
    text, next_step = str(error), f"; {error.next_step}"
    detail = text.removesuffix(next_step)
    if isinstance(error, TransportError):
        return Diagnosis(
            SyncError, detail, "check --api-base or TIKTOK_API_BASE and the network; try again"
        )
    if isinstance(error, AmbiguousWriteError | RetryableError):
        return Diagnosis(SyncError, detail, error.next_step)  # exit 1: may work later
    if isinstance(error, AuthError):
        return Diagnosis(AuthorizationError, detail, error.next_step)
    return Diagnosis(ConfigError, detail, error.next_step)


def open_client(settings: TikTokSettings, max_duration: float | None = None) -> TikTokClient:
    """A client for a command someone waits for: fewer, shorter retries than a sync run's.

    `max_duration` (seconds from now) bounds all its requests and retries together, as
    `run --max-duration` does a run's.
    """
    client = TikTokClient(
        settings.access_token, base_url=settings.api_base, max_attempts=3, max_total_wait=15
    )
    if max_duration is not None:
        client.deadline = time.monotonic() + max_duration
    return client


def authorized_advertisers(settings: TikTokSettings, app_id: str | None) -> list[Advertiser]:
    """The advertisers the token may manage (`oauth2/advertiser/get/`, needs the app secret)."""
    if not settings.access_token:
        raise ConfigError(
            "no access token: run `tiktok-sync auth` to get and save one, or set "
            "TIKTOK_ACCESS_TOKEN"
        )
    app = require_app_id(app_id or settings.app_id)
    secret = require_app_secret(settings)
    with open_client(settings) as client:
        try:
            return client.get_authorized_advertisers(app, secret)
        except TikTokError as error:
            raise diagnose(error).error() from None


def require_app_secret(settings: TikTokSettings) -> str:
    if not settings.app_secret:
        raise ConfigError(
            "no app secret: set TIKTOK_APP_SECRET (the secret on your TikTok app's developer "
            "page); it is never taken on the command line, where shell history and ps keep it"
        )
    return settings.app_secret


def require_app_id(app_id: str | None) -> str:
    if not app_id:
        raise ConfigError("no app id: pass --app-id or set TIKTOK_APP_ID (your TikTok app's id)")
    return app_id


def exchange_auth_code(
    client: TikTokClient,
    *,
    app_id: str,
    app_secret: str,
    auth_code: str,
    save_to: Path | None,
) -> SavedToken:
    """Trade the one-hour, single-use auth code for the long-lived token; save it if asked."""
    if not auth_code:
        raise ConfigError("the auth code is empty; paste the auth_code from the redirect URL")
    try:
        grant = client.exchange_auth_code(app_id, app_secret, auth_code)
    except TikTokError as error:
        raise diagnose(error).error() from None
    if save_to is not None:
        save_credentials(save_to, grant, app_id)
    return SavedToken(
        advertiser_ids=grant.advertiser_ids, saved_to=save_to, access_token=grant.access_token
    )


def save_credentials(path: Path, grant: TokenGrant, app_id: str) -> None:
    """Write the credentials file atomically, readable by its owner only.

    Keys of an existing file that this write does not set (an `app_secret` the user keeps there
    for `tiktok-sync advertisers`) survive a re-authorisation. `advertiser_id`, which the other
    commands read as their default advertiser, is set when the token reaches exactly one
    advertiser, and dropped when the new token no longer reaches the stored one.
    """
    path = path.expanduser()
    stored = _read_existing(path)
    stored.update(
        access_token=grant.access_token,
        advertiser_ids=list(grant.advertiser_ids),
        app_id=app_id,
    )
    if len(grant.advertiser_ids) == 1:
        stored["advertiser_id"] = grant.advertiser_ids[0]
    elif stored.get("advertiser_id") not in grant.advertiser_ids:
        stored.pop("advertiser_id", None)
    _write_private(path, json.dumps(stored, indent=2) + "\n")


def _read_existing(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # unreadable or not JSON: replaced by a good file
    return dict(data) if isinstance(data, dict) else {}


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` via a 0600 temporary file in the same folder and a rename."""
    temp_name = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Mode 0600 from the moment the file exists (a chmod afterwards would leave a window in
        # which others can open it); O_EXCL refuses anything already there, symlinks included.
        # os.replace is atomic within one file system: readers see the old file or the new one.
        fd = os.open(temp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise
    except OSError as exc:
        raise ConfigError(
            f"cannot write the credentials file {path} ({type(exc).__name__}: {exc.strerror}); "
            "choose another place with --save-to"
        ) from None
