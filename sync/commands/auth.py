"""`auth`: get a long-lived TikTok access token for an advertiser, and keep it safe."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer

from sync.commands.common import command, echo, echo_json, json_document, reflowed
from sync.commands.options import ApiBase, CredentialsFile, Debug, Json
from sync.credentials import auth_code_from, exchange_auth_code, open_client, require_app_id
from sync.errors import ConfigError
from sync.settings import credentials_path, load_tiktok
from sync.tiktok import authorization_url


@reflowed
def auth(
    app_id: Annotated[
        str | None,
        typer.Option("--app-id", help="Your TikTok app's id (env TIKTOK_APP_ID)."),
    ] = None,
    redirect_uri: Annotated[
        str | None,
        typer.Option(
            "--redirect-uri",
            help="A redirect URL configured on the app: print the authorization URL for it.",
        ),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state", help="The state TikTok hands back in the redirect; default random."
        ),
    ] = None,
    auth_code: Annotated[
        str | None,
        typer.Option(
            "--auth-code",
            help="The auth_code from the redirect. It lands in shell history; prefer "
            "--auth-code-file or the hidden prompt.",
        ),
    ] = None,
    auth_code_file: Annotated[
        str | None,
        typer.Option(
            "--auth-code-file",
            help="Read the auth_code (or the whole redirect URL) from this file; - for stdin.",
        ),
    ] = None,
    save_to: Annotated[
        str | None,
        typer.Option(
            "--save-to",
            help="Where to save the token (mode 0600); default the credentials file.",
        ),
    ] = None,
    print_token: Annotated[
        bool,
        typer.Option(
            "--print-token",
            help="Print the token once to stdout instead of saving it (unless --save-to).",
        ),
    ] = False,
    api_base: ApiBase = None,
    credentials_file: CredentialsFile = None,
    json_output: Json = False,
    debug: Debug = False,
) -> None:
    """Authorise this app for an advertiser and save the access token.

    Step 1, with --redirect-uri: print the authorization URL. Open it, approve as someone
    who manages the advertisers; TikTok redirects to the redirect URL with an auth_code, valid
    one hour and usable once.

    Step 2, without --redirect-uri: exchange the code for a long-lived token. The code is read
    from --auth-code-file (- for stdin), --auth-code, or a hidden prompt (the whole redirect URL
    may be pasted); the app secret from TIKTOK_APP_SECRET or a hidden prompt, never an option.
    The token is saved to --save-to (default the credentials file the other commands read),
    created with mode 0600, and the advertiser ids it reaches are printed. --print-token
    prints it once to stdout instead. The token, secret and code are never echoed or logged.

    Exit codes: 0 done, 1 TikTok could not be reached (try again), 2 missing input, or TikTok
    refused the code (used or expired) or the app credentials.

    Environment: TIKTOK_APP_ID, TIKTOK_APP_SECRET, TIKTOK_API_BASE, TIKTOK_CREDENTIALS_FILE.
    """
    with command(debug, json_output):
        settings = load_tiktok(api_base=api_base, credentials_file=credentials_file)
        app = require_app_id(app_id or settings.app_id)
        if redirect_uri is not None and auth_code is None and auth_code_file is None:
            _print_authorization_url(
                app, redirect_uri, state or secrets.token_urlsafe(16), json_output
            )
            return
        code = _read_auth_code(auth_code, auth_code_file)
        app_secret = settings.app_secret or _prompt_hidden(
            "App secret", "no app secret: set TIKTOK_APP_SECRET, or run in a terminal to be asked"
        )
        target: Path | None = None
        if save_to is not None:
            target = Path(save_to).expanduser()
        elif not print_token:
            target = credentials_path(credentials_file)
        with open_client(settings) as client:
            saved = exchange_auth_code(
                client, app_id=app, app_secret=app_secret, auth_code=code, save_to=target
            )
        reached = ", ".join(saved.advertiser_ids) or "none"
        if json_output:
            result: dict[str, object] = {
                "app_id": app,
                "advertiser_ids": list(saved.advertiser_ids),
                "saved_to": str(saved.saved_to) if saved.saved_to else None,
            }
            if print_token:
                result["access_token"] = saved.access_token
                # Asked for: printed as is (echo_json would mask it if it were remembered).
                typer.echo(json.dumps(json_document(result), indent=2))
            else:
                echo_json(result)
            return
        if print_token:
            typer.echo(saved.access_token)  # alone on stdout, for `> file` or a secret store
        info = [f"The token reaches advertisers: {reached}."]
        if saved.saved_to is not None:
            info.insert(0, f"Saved the access token to {saved.saved_to} (readable by you only).")
        if print_token:
            info.append("The token was printed once; it is not shown again.")
        if len(saved.advertiser_ids) == 1 and saved.saved_to is not None:
            info.append(f"Saved {saved.advertiser_ids[0]} as the default advertiser.")
        if saved.saved_to is not None:
            info.append("Next: tiktok-sync check")
        for line in info:
            echo(line, err=print_token)


def _print_authorization_url(app_id: str, redirect_uri: str, state: str, as_json: bool) -> None:
    url = authorization_url(app_id, redirect_uri, state)
    if as_json:
        echo_json({"authorization_url": url, "redirect_uri": redirect_uri, "state": state})
        return
    echo(
        "Open this URL in a browser, signed in as someone who manages the advertisers, and "
        f"approve:\n\n  {url}\n\n"
        f"TikTok then redirects to {redirect_uri} with auth_code=... and state={state} (check "
        "that state matches). The code is valid for one hour and works once. Exchange it with\n\n"
        f"  tiktok-sync auth --app-id {app_id}\n\n"
        "and paste the code (or the whole redirect URL) at the hidden prompt, or pass "
        "--auth-code-file FILE. The app secret is read from TIKTOK_APP_SECRET, else prompted for."
    )


def _read_auth_code(auth_code: str | None, auth_code_file: str | None) -> str:
    if auth_code is not None and auth_code_file is not None:
        raise ConfigError("pass either --auth-code or --auth-code-file, not both")
    if auth_code is not None:
        raw = auth_code
    elif auth_code_file == "-":
        raw = sys.stdin.read()
    elif auth_code_file is not None:
        try:
            raw = Path(auth_code_file).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read --auth-code-file {auth_code_file} ({exc.strerror})"
            ) from None
    else:
        raw = _prompt_hidden(
            "auth_code (or the whole redirect URL)",
            "no auth code: pass --auth-code-file FILE (- for stdin), or run in a terminal to be "
            "asked; --redirect-uri prints the authorization URL first",
        )
    return auth_code_from(raw)


def _prompt_hidden(what: str, if_none: str) -> str:
    """Ask at a terminal without echoing, else read a line piped in; fail with `if_none`."""
    if sys.stdin.isatty():
        try:
            value: str = typer.prompt(what, hide_input=True, err=True)
        except typer.Abort:
            raise ConfigError(if_none) from None
    else:
        value = sys.stdin.readline()
    if not value.strip():
        raise ConfigError(if_none)
    return value.strip()
