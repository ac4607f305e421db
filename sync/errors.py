"""Errors of the sync job, typed by what the user should do next.

The library raises; the CLI prints `str(error)` as one line and exits with the
class's `exit_code` (documented in `tiktok-sync --help` and the README):
0 everything applied, 1 some batches failed or are pending (they go out on the
next run), 2 configuration, authorisation or a guard refused the run. Under `--json`
the error is also an object on stdout whose `code` is the class's `code` (README "--json").
"""

from __future__ import annotations


class SyncError(Exception):
    """Base of the sync job's own errors. The message says what to do."""

    exit_code = 1
    code = "try_again"  # TikTok could not be reached or was busy: the next attempt may work


class ConfigError(SyncError):
    """Settings, profile, credentials or project are wrong; nothing was sent."""

    exit_code = 2
    code = "config"


class WarehouseError(SyncError):
    """The warehouse cannot be read or written as needed; nothing was sent."""

    exit_code = 2
    code = "warehouse"


class AuthorizationError(SyncError):
    """TikTok refused the token or the advertiser; re-authorise or fix access."""

    exit_code = 2
    code = "authorization"


class GuardRefusal(SyncError):
    """A guard refused the run before anything was sent; override explicitly."""

    exit_code = 2
    code = "guard_refused"
