"""What the offline commands of `training.cli` do (generate, ingest, train, evaluate, promote, score,
drift): each prints progress on stderr and, on failure, exits non-zero with one line saying why."""

from __future__ import annotations

from pathlib import Path

import typer

from engine.batch import score as run_score
from engine.bundle import BundleError
from features.console import fail, parse_date, progress, say
from features.generator import generate_export, world_from_spec
from features.ingest import ingest_export
from features.io import ExportInvalid
from features.store import NoSnapshot
from training.pipeline import evaluate as run_evaluate
from training.pipeline import promote as run_promote
from training.pipeline import run_drift
from training.pipeline import train as run_train
from training.registry import PromotionRefused


def generate(out: Path, employees: int, years: int, seed: int, exported_on: str | None, world: str) -> None:
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


def ingest(folder: Path, max_errors: int) -> None:
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


def train() -> None:
    try:
        result = run_train(progress=progress())
    except NoSnapshot as exc:
        fail(str(exc))
    say(f"registered version {result.version} (run {result.run_id}) in {result.seconds:.0f} s")


def evaluate(version: str | None, truth: Path | None, out: Path | None, cutoff: str | None) -> None:
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


def promote(version: str | None) -> None:
    try:
        result = run_promote(version=version)
    except PromotionRefused as exc:
        for reason in exc.reasons:
            say(f"  - {reason}")
        fail(f"version {version or '(latest)'} refused by the promotion gate: {len(exc.reasons)} check(s) failed")
    say(f"champion is now version {result.version} (was {result.previous or 'none'}); bundle {result.path}")


def score(out: Path, as_of: str | None, horizon_months: int, top: int, file_format: str) -> None:
    try:
        result = run_score(out, as_of=parse_date(as_of, "--as-of"), horizon_months=horizon_months, top_k=top,
                           file_format=file_format, progress=progress())
    except (NoSnapshot, BundleError) as exc:
        fail(str(exc))
    for path, rows in result.files.items():
        say(f"wrote {path} ({rows:,} rows)")
    say(f"{result.employees:,} employees in {result.seconds:.1f} s with model version {result.version}")


def drift(version: str | None, lang: str, fail_on_alert: bool) -> None:
    try:
        report = run_drift(version)
    except (NoSnapshot, LookupError, ValueError) as exc:
        fail(str(exc).strip("'\""))
    typer.echo(report.to_text("id" if lang == "id" else "en"))
    if fail_on_alert and report.status == "alert":
        fail(f"drift status alert (max PSI {report.psi_max:.2f})", code=3)
