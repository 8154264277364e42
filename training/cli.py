"""The offline side of the `kompetensi` command line: generate, ingest, train, evaluate, promote, score
and drift (INTERFACES.md "CLI"). The options live here; what each command does is in
`training.commands`, imported when a command runs, so that `kompetensi --help` does not wait seconds for
MLflow, LightGBM and pandas to load. Every command prints progress for long work and, on failure, exits
non-zero with one line saying why (`features.console`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

from features.constants import MAX_HORIZON_MONTHS
from features.generator.worlds import NAMED_WORLDS


def _commands() -> ModuleType:
    from training import commands  # heavy: loaded when a command runs, not for --help

    return commands


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Generate and ingest exports; train, evaluate, promote and score models.")


class FileFormat(StrEnum):
    parquet = "parquet"
    csv = "csv"


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="folder to write the export into")],
    employees: Annotated[int, typer.Option(min=10, max=2_000_000, help="about this many active employees")] = 6000,
    years: Annotated[int, typer.Option(min=1, max=20, help="years of history")] = 5,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same bytes)")] = 7,
    exported_on: Annotated[str | None, typer.Option(help="export date YYYY-MM-DD")] = None,
    world: Annotated[str, typer.Option(help=f"the simulated world: {', '.join(NAMED_WORLDS)}, or random:SEED "
                                            "(truth/world.json records it; default: the demo world)")] = "default",
) -> None:
    """Write a synthetic Kota Pontianak export plus its ground truth (DIR/truth/)."""
    _commands().generate(out=out, employees=employees, years=years, seed=seed, exported_on=exported_on,
                         world=world)


@app.command()
def ingest(
    folder: Annotated[Path, typer.Argument(help="export folder (CSV or Parquet tables + export.json)")],
    max_errors: Annotated[int, typer.Option(min=1, help="report at most this many errors")] = 200,
) -> None:
    """Validate an export and load it into the store as the current snapshot, atomically."""
    _commands().ingest(folder=folder, max_errors=max_errors)


@app.command()
def train() -> None:
    """Build features from the store, train every model, log the run to MLflow, register a new version."""
    _commands().train()


@app.command()
def evaluate(
    version: Annotated[str | None, typer.Option(help="registered version (default: the latest)")] = None,
    truth: Annotated[Path | None, typer.Option(help="a generated export's truth/ folder to compare with")] = None,
    out: Annotated[Path | None, typer.Option(help="report folder (default: DATA_DIR/reports/vN)")] = None,
    cutoff: Annotated[str | None, typer.Option(help="back-test cutoff YYYY-MM-DD (default: 18 months "
                                                    "before the export date)")] = None,
) -> None:
    """Temporal back-test against baselines; writes an HTML report + metrics.json; logs them to MLflow."""
    _commands().evaluate(version=version, truth=truth, out=out, cutoff=cutoff)


@app.command()
def promote(
    version: Annotated[str | None, typer.Option(help="registered version (default: the latest)")] = None,
) -> None:
    """Move the `champion` alias to a version if it passes the promotion gate, and export its bundle."""
    _commands().promote(version=version)


@app.command()
def score(
    out: Annotated[Path, typer.Option(help="folder for gaps.* and recommendations.*")],
    as_of: Annotated[str | None, typer.Option(help="as-of date YYYY-MM-DD (default: the export date)")] = None,
    horizon_months: Annotated[int, typer.Option(min=1, max=MAX_HORIZON_MONTHS)] = 12,
    top: Annotated[int, typer.Option(min=0, max=50, help="recommendations per employee (0 = none)")] = 5,
    file_format: Annotated[FileFormat, typer.Option("--format")] = FileFormat.parquet,
) -> None:
    """Batch: gaps and top-K recommendations for every active employee, with the champion model."""
    _commands().score(out=out, as_of=as_of, horizon_months=horizon_months, top=top,
                      file_format=file_format.value)


@app.command()
def drift(
    version: Annotated[str | None, typer.Option(help="registered version (default: the champion)")] = None,
    lang: Annotated[str, typer.Option(help="id or en")] = "en",
    fail_on_alert: Annotated[bool, typer.Option(help="exit 3 when the status is alert")] = False,
) -> None:
    """Population stability (PSI) of features and predictions: training data vs the current store."""
    _commands().drift(version=version, lang=lang, fail_on_alert=fail_on_alert)
