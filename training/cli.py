"""The `kompetensi` command line (INTERFACES.md "CLI").

Every command prints progress for long work and, on failure, exits non-zero with one line saying why.
Heavy imports happen inside the commands so that `kompetensi --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="asn-kompetensi: competency gaps and training recommendations for ASN (Kota Pontianak).",
)
keys_app = typer.Typer(no_args_is_help=True, help="Manage API keys (stored hashed).")
app.add_typer(keys_app, name="keys")


class Role(str, Enum):
    reader = "reader"
    planner = "planner"
    admin = "admin"


class FileFormat(str, Enum):
    parquet = "parquet"
    csv = "csv"


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _progress() -> Callable[[str], None]:
    return lambda message: typer.echo(f"  … {message}", err=True)


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="folder to write the export into")],
    employees: Annotated[int, typer.Option(min=10, max=2_000_000, help="about this many active employees")] = 6000,
    years: Annotated[int, typer.Option(min=1, max=20, help="years of history")] = 5,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same bytes)")] = 7,
    exported_on: Annotated[str | None, typer.Option(help="export date YYYY-MM-DD")] = None,
) -> None:
    """Write a synthetic Kota Pontianak export plus its ground truth (DIR/truth/)."""
    from features.generator import generate_export

    kwargs = {}
    if exported_on:
        try:
            kwargs["exported_on"] = date.fromisoformat(exported_on)
        except ValueError:
            _fail(f"--exported-on {exported_on!r} is not a date YYYY-MM-DD")
    try:
        summary = generate_export(out, employees=employees, years=years, seed=seed, progress=_progress(),
                                  **kwargs)
    except OSError as exc:
        _fail(f"cannot write {out}: {exc.strerror or exc}")
    _say(f"wrote {out} ({summary})")


@app.command()
def ingest(
    folder: Annotated[Path, typer.Argument(help="export folder (CSV or Parquet tables + export.json)")],
    max_errors: Annotated[int, typer.Option(min=1, help="report at most this many errors")] = 200,
) -> None:
    """Validate an export and load it into the store as the current snapshot, atomically."""
    from features.io import ExportInvalid
    from features.ingest import ingest_export

    if not folder.is_dir():
        _fail(f"{folder} is not a folder")
    try:
        result = ingest_export(folder, max_errors=max_errors, progress=_progress())
    except ExportInvalid as exc:
        for error in exc.errors:
            typer.echo(str(error), err=True)
        if exc.total > len(exc.errors):
            typer.echo(f"… and {exc.total - len(exc.errors)} more", err=True)
        _fail(f"export {folder} rejected: {exc.total} contract error(s); the store is unchanged")
    for warning in result.warnings:
        _say(f"warning: {warning}")
    _say(str(result))


def main() -> None:  # pragma: no cover - console entry point
    """Run the CLI; an unexpected error becomes one line (KOMPETENSI_DEBUG=1 shows the traceback)."""
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        _say("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the CLI promises a one-line reason, not a trace
        if os.environ.get("KOMPETENSI_DEBUG"):
            raise
        _say(f"error: {type(exc).__name__}: {exc}".splitlines()[0])
        sys.exit(1)
