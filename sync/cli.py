"""The `tiktok-sync` command line: a thin layer that parses options, calls the library, renders."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import typer
from typer.core import TyperGroup

from sync.commands.auth import auth
from sync.commands.common import echo_json
from sync.commands.inspect import advertisers, audiences, check
from sync.commands.sync_commands import plan, run

_JSON_ASKED = "tiktok_sync.json"
# Click's UsageError (an option value out of range, an unknown option), whether Typer vendors
# Click (0.2x) or uses Click's own: the public BadParameter's base.
_UsageError: type[Exception] = typer.BadParameter.__bases__[0]


class _Commands(TyperGroup):
    """The command group; a command line Click refuses under --json is a JSON error as well.

    Click checks options before a command's body runs (a value out of range, an unknown
    option), so `command()` never sees those errors; the caller parsing stdout still must.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta[_JSON_ASKED] = "--json" in args
        return super().parse_args(ctx, args)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _flags_without_a_type(command, ctx)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _flags_without_a_type(self, ctx)
        super().format_help(ctx, formatter)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _UsageError as error:
            if ctx.meta.get(_JSON_ASKED):
                message, exit_code = error.format_message(), error.exit_code  # type: ignore[attr-defined]
                echo_json({"error": {"code": "usage", "message": message, "exit_code": exit_code}})
            raise  # Click prints the usage and the message on stderr, and exits 2


def _flags_without_a_type(command: Any, ctx: Any) -> None:
    """Show flags in `--help` as taking no value.

    Typer's rich help (0.29) prints a flag's type, `--allow-mass-removal <bool>`, as if it took
    a value; an empty metavar prints nothing there, and Click never shows a flag's metavar.
    """
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


app = typer.Typer(
    name="tiktok-sync",
    cls=_Commands,
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
    """Run the local TikTok Business API emulator (a test double, never the real API).

    Exit codes: 2 the port cannot be listened on or the config file is wrong (one line).
    """
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
