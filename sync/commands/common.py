"""What every command does around its one library call: logging, errors, JSON output.

Under `--json` stdout holds exactly one JSON object, with `schema_version` (sync/schemas/): the
result, or `{"schema_version", "error": {"code", "message", "exit_code"}}`. The error line goes
to stderr as well, for whoever reads the logs.

Everything a command prints goes through `echo` (or the log handler, or the error line), which
masks every secret the process knows in any form (`sync.tiktok.redact`): a server can echo the
token back in a message, a request id or a name that ends up in a report.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer

from sync.errors import SyncError
from sync.schemas import SCHEMA_VERSION
from sync.tiktok.redact import redact, remembering

F = TypeVar("F", bound=Callable[..., Any])

# Values a traceback under --debug must not show even if some library put them in a message.
_SECRET_ENV = ("TIKTOK_ACCESS_TOKEN", "TIKTOK_APP_SECRET")


class _StderrHandler(logging.Handler):
    """Writes through typer.echo, so it follows whatever sys.stderr is at the time."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            typer.echo(redact(self.format(record)), err=True)
        except Exception:  # logging must never break the command
            self.handleError(record)


@contextmanager
def logging_to_stderr(debug: bool) -> Iterator[None]:
    """`sync.*` log records to stderr while a command runs: DEBUG with --debug, else warnings.

    Only the `sync` logger is touched: urllib3's DEBUG lines print full request URLs, and
    `oauth2/advertiser/get/` takes the app secret in its query (docs/tiktok-api.md §2), so they stay
    off. Level and handler are put back afterwards, so a command run in-process (tests) leaves the
    logging of its host as it found it.
    """
    logger = logging.getLogger("sync")
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    # An emulator in the same process (tests, a demo) is another service: its request log
    # (full URLs, the app secret of oauth2/advertiser/get/ included) is not this command's.
    handler.addFilter(lambda record: not record.name.startswith("sync.emulator"))
    handler.setLevel(logging.DEBUG if debug else logging.WARNING)
    previous_level = logger.level
    logger.addHandler(handler)
    if debug:
        logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


@contextmanager
def command(debug: bool, json_output: bool = False) -> Iterator[None]:
    """Run a command body: a library error becomes one line on stderr and its exit code.

    Anything else is a bug: one line too, the traceback (never locals, which hold tokens) only
    with --debug. With `json_output` the error is also the one JSON object on stdout.
    """
    with remembering(), logging_to_stderr(debug):
        try:
            yield
        except SyncError as error:
            fail(str(error), error.code, error.exit_code, json_output)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as error:
            message = (
                f"unexpected {type(error).__name__}; this is a bug, please report it with the "
                "output of --debug"
            )
            text = None
            if debug:
                text = "".join(traceback.format_exception(error))
                text = redact(text, [os.environ.get(name) for name in _SECRET_ENV])
            fail(message, "bug", 1, json_output, details=text)


def fail(
    message: str, code: str, exit_code: int, json_output: bool, details: str | None = None
) -> NoReturn:
    """End the command: `error: message` (then `details`) on stderr, the error object on stdout
    under --json, and the exit code."""
    echo(f"error: {message}", err=True)
    if details:
        echo(details, err=True)
    if json_output:
        echo_json({"error": {"code": code, "message": message, "exit_code": exit_code}})
    raise typer.Exit(exit_code) from None


def echo(text: str, *, err: bool = False) -> None:
    """Print a line of the command's output with every known secret masked."""
    typer.echo(redact(text), err=err)


def json_document(value: Mapping[str, object]) -> dict[str, object]:
    """A command's `--json` object: the schema version first, then what the command says."""
    return {"schema_version": SCHEMA_VERSION, **value}


def echo_json(value: Mapping[str, object]) -> None:
    echo(json.dumps(json_document(value), indent=2, default=str))


def reflowed(function: F) -> F:
    """Join each paragraph of the command's docstring into one line for `--help`.

    Typer's rich help keeps the single line breaks of every paragraph after the first, so a
    docstring wrapped for the source prints ragged at other terminal widths.
    """
    paragraphs = inspect.cleandoc(function.__doc__ or "").split("\n\n")
    function.__doc__ = "\n\n".join(" ".join(p.split()) for p in paragraphs)
    return function
