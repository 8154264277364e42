"""The offline side of the `kompetensi` command line: generate, ingest, train, evaluate, promote, score
and drift (INTERFACES.md "CLI"). Every command prints progress for long work and, on failure, exits
non-zero with one line saying why (`features.console`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from engine.batch import score as run_score
from engine.bundle import BundleError
from features.console import fail, parse_date, progress, say
from features.generator import NAMED_WORLDS, generate_export, world_from_spec
from features.ingest import ingest_export
from features.io import ExportInvalid
from features.store import NoSnapshot
from training.pipeline import evaluate as run_evaluate
from training.pipeline import promote as run_promote
from training.pipeline import run_drift
from training.pipeline import train as run_train
from training.registry import PromotionRefused

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

    kwargs = {}
    export_date = parse_date(exported_on, "--exported-on")
    if export_date is not None:
        kwargs["exported_on"] = export_date
    try:
        chosen = world_from_spec(world)
    except ValueError as exc:
        fail(f"--world: {exc}")
    try:
        summary = generate_export(out, employees=employees, years=years, seed=seed, world=chosen,
                                  progress=progress(), **kwargs)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    say(f"wrote {out} (world {chosen.name}; {summary})")


@app.command()
def ingest(
    folder: Annotated[Path, typer.Argument(help="export folder (CSV or Parquet tables + export.json)")],
    max_errors: Annotated[int, typer.Option(min=1, help="report at most this many errors")] = 200,
) -> None:
    """Validate an export and load it into the store as the current snapshot, atomically."""

    if not folder.is_dir():
        fail(f"{folder} is not a folder")
    try:
        result = ingest_export(folder, max_errors=max_errors, progress=progress())
    except ExportInvalid as exc:
        for error in exc.errors:
            typer.echo(str(error), err=True)
        if exc.total > len(exc.errors):
            typer.echo(f"… and {exc.total - len(exc.errors)} more", err=True)
        fail(f"export {folder} rejected: {exc.total} contract error(s); the store is unchanged")
    for warning in result.warnings:
        say(f"warning: {warning}")
    say(str(result))


@app.command()
def train() -> None:
    """Build features from the store, train every model, log the run to MLflow, register a new version."""

    try:
        result = run_train(progress=progress())
    except NoSnapshot as exc:
        fail(str(exc))
    say(f"registered version {result.version} (run {result.run_id}) in {result.seconds:.0f} s")


@app.command()
def evaluate(
    version: Annotated[str | None, typer.Option(help="registered version (default: the latest)")] = None,
    truth: Annotated[Path | None, typer.Option(help="a generated export's truth/ folder to compare with")] = None,
    out: Annotated[Path | None, typer.Option(help="report folder (default: DATA_DIR/reports/vN)")] = None,
    cutoff: Annotated[str | None, typer.Option(help="back-test cutoff YYYY-MM-DD (default: 18 months "
                                                    "before the export date)")] = None,
) -> None:
    """Temporal back-test against baselines; writes an HTML report + metrics.json; logs them to MLflow."""

    try:
        result = run_evaluate(version=version, truth_dir=truth, out_dir=out,
                              cutoff=parse_date(cutoff, "--cutoff"), progress=progress())
    except (NoSnapshot, LookupError, ValueError, FileNotFoundError) as exc:
        fail(str(exc).strip("'\""))
    m = result.metrics
    say(f"version {result.version}: back-test MAE {m['backtest_mae']:.3f} (carry-forward "
         f"{m['baseline_carry_forward_mae']:.3f}, linear {m['baseline_linear_mae']:.3f}), "
         f"80% interval coverage {m['backtest_coverage']:.1%}")
    say(f"report: {result.report}")
    say(f"metrics: {result.metrics_file}")


@app.command()
def promote(
    version: Annotated[str | None, typer.Option(help="registered version (default: the latest)")] = None,
) -> None:
    """Move the `champion` alias to a version if it passes the promotion gate, and export its bundle."""

    try:
        result = run_promote(version=version)
    except PromotionRefused as exc:
        for reason in exc.reasons:
            say(f"  - {reason}")
        fail(f"version {version or '(latest)'} refused by the promotion gate: {len(exc.reasons)} check(s) failed")
    say(f"champion is now version {result.version} (was {result.previous or 'none'}); bundle {result.path}")


@app.command()
def score(
    out: Annotated[Path, typer.Option(help="folder for gaps.* and recommendations.*")],
    as_of: Annotated[str | None, typer.Option(help="as-of date YYYY-MM-DD (default: the export date)")] = None,
    horizon_months: Annotated[int, typer.Option(min=1, max=60)] = 12,
    top: Annotated[int, typer.Option(min=0, max=50, help="recommendations per employee (0 = none)")] = 5,
    file_format: Annotated[FileFormat, typer.Option("--format")] = FileFormat.parquet,
) -> None:
    """Batch: gaps and top-K recommendations for every active employee, with the champion model."""

    try:
        result = run_score(out, as_of=parse_date(as_of, "--as-of"), horizon_months=horizon_months, top_k=top,
                           file_format=file_format.value, progress=progress())
    except (NoSnapshot, BundleError) as exc:
        fail(str(exc))
    for path, rows in result.files.items():
        say(f"wrote {path} ({rows:,} rows)")
    say(f"{result.employees:,} employees in {result.seconds:.1f} s with model version {result.version}")


@app.command()
def drift(
    version: Annotated[str | None, typer.Option(help="registered version (default: the champion)")] = None,
    lang: Annotated[str, typer.Option(help="id or en")] = "en",
    fail_on_alert: Annotated[bool, typer.Option(help="exit 3 when the status is alert")] = False,
) -> None:
    """Population stability (PSI) of features and predictions: training data vs the current store."""

    try:
        report = run_drift(version)
    except (NoSnapshot, LookupError, ValueError) as exc:
        fail(str(exc).strip("'\""))
    typer.echo(report.to_text("id" if lang == "id" else "en"))
    if fail_on_alert and report.status == "alert":
        fail(f"drift status alert (max PSI {report.psi_max:.2f})", code=3)
