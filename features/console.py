"""What every `kompetensi` command shares: messages on stderr, progress lines, one-line failures.

Every command prints progress for long work and, on failure, exits non-zero with one line saying why.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import date
from typing import NoReturn

import typer

from features.constants import EARLIEST_DATE, LATEST_DATE

Progress = Callable[[str], None]  # a long job's progress lines go to one of these


def quiet(_message: str) -> None:
    """The progress callback of a caller that wants none."""


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def say(message: str) -> None:
    typer.echo(message, err=True)


def progress() -> Callable[[str], None]:
    return lambda message: typer.echo(f"  … {message}", err=True)


def parse_date(value: str | None, option: str) -> date | None:
    """An option's date, within the dates every request accepts (`features.values`): pandas cannot hold a
    date before 1677, so an absurd one is refused here with its reason, not as a traceback later."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r} is not a date YYYY-MM-DD")
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        fail(f"{option} {value} is outside {EARLIEST_DATE} to {LATEST_DATE}")
    return day


def run(app: typer.Typer) -> None:  # pragma: no cover - console entry point
    """Run a command line app; an unexpected error becomes one line (KOMPETENSI_DEBUG=1 shows the traceback)."""
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        say("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the CLI promises a one-line reason, not a trace
        if os.environ.get("KOMPETENSI_DEBUG"):
            raise
        say(f"error: {type(exc).__name__}: {exc}".splitlines()[0])
        sys.exit(1)
