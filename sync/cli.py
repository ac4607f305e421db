"""The `tiktok-sync` command line: a thin layer that parses options, calls the library, renders."""

from __future__ import annotations

from importlib import metadata

import typer

from sync.commands.auth import auth
from sync.commands.inspect import advertisers, audiences, check
from sync.commands.sync_commands import plan, run

app = typer.Typer(
    name="tiktok-sync",
    help="Keep TikTok Custom Audiences exactly in step with audiences defined as dbt models.\n\n"
    "Exit codes: 0 everything applied; 1 some batches failed or are pending (the next run "
    "sends them); 2 configuration, authorisation, a warehouse held by another process, a "
    "guard refused the run (nothing sent), or an audience was deleted at TikTok.",
    no_args_is_help=True,
    add_completion=False,
    # Rich tracebacks print local variables, which can hold the access token;
    # commands turn errors into one line anyway, so an escaped bug prints plainly.
    pretty_exceptions_show_locals=False,
)


@app.command()
def emulator(
    port: int = typer.Option(
        8765, "--port", help="Loopback port to listen on (0 picks a free one)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; keep it on loopback."),
    config: str | None = typer.Option(
        None, "--config", help="JSON file with advertisers, tokens and app credentials."
    ),
) -> None:
    """Run the local TikTok Business API emulator (a test double, never the real API)."""
    from sync.emulator.server import run_forever

    run_forever(host=host, port=port, config_path=config)


def _version(value: bool) -> None:
    if value:
        # The installed distribution's version: what `pip install` put here, not a copy.
        typer.echo(f"tiktok-sync {metadata.version('tiktok-audience-sync')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print the installed version and exit.",
    ),
) -> None:
    """Keep TikTok Custom Audiences exactly in step with audiences defined as dbt models."""


app.command()(plan)
app.command()(run)
app.command()(check)
app.command()(audiences)
app.command()(advertisers)
app.command()(auth)


def main() -> None:
    app()
