"""The `kompetensi` command line (INTERFACES.md "CLI").

Every command prints progress for long work and, on failure, exits non-zero with one line saying why.
Heavy imports happen inside the commands so that `kompetensi --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import date
from enum import StrEnum
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


class Role(StrEnum):
    reader = "reader"
    planner = "planner"
    admin = "admin"


class FileFormat(StrEnum):
    parquet = "parquet"
    csv = "csv"


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _progress() -> Callable[[str], None]:
    return lambda message: typer.echo(f"  … {message}", err=True)


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} {value!r} is not a date YYYY-MM-DD")


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
    export_date = _parse_date(exported_on, "--exported-on")
    if export_date is not None:
        kwargs["exported_on"] = export_date
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
    from features.ingest import ingest_export
    from features.io import ExportInvalid

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


@app.command()
def train() -> None:
    """Build features from the store, train every model, log the run to MLflow, register a new version."""
    from features.store import NoSnapshot
    from training.pipeline import train as run_train

    try:
        result = run_train(progress=_progress())
    except NoSnapshot as exc:
        _fail(str(exc))
    _say(f"registered version {result.version} (run {result.run_id}) in {result.seconds:.0f} s")


@app.command()
def evaluate(
    version: Annotated[str | None, typer.Option(help="registered version (default: the latest)")] = None,
    truth: Annotated[Path | None, typer.Option(help="a generated export's truth/ folder to compare with")] = None,
    out: Annotated[Path | None, typer.Option(help="report folder (default: DATA_DIR/reports/vN)")] = None,
    cutoff: Annotated[str | None, typer.Option(help="back-test cutoff YYYY-MM-DD (default: 18 months "
                                                    "before the export date)")] = None,
) -> None:
    """Temporal back-test against baselines; writes an HTML report + metrics.json; logs them to MLflow."""
    from features.store import NoSnapshot
    from training.pipeline import evaluate as run_evaluate

    try:
        result = run_evaluate(version=version, truth_dir=truth, out_dir=out,
                              cutoff=_parse_date(cutoff, "--cutoff"), progress=_progress())
    except (NoSnapshot, LookupError, ValueError, FileNotFoundError) as exc:
        _fail(str(exc).strip("'\""))
    m = result.metrics
    _say(f"version {result.version}: back-test MAE {m['backtest_mae']:.3f} (carry-forward "
         f"{m['baseline_carry_forward_mae']:.3f}, linear {m['baseline_linear_mae']:.3f}), "
         f"80% interval coverage {m['backtest_coverage']:.1%}")
    _say(f"report: {result.report}")
    _say(f"metrics: {result.metrics_file}")


@app.command()
def promote(
    version: Annotated[str | None, typer.Option(help="registered version (default: the latest)")] = None,
) -> None:
    """Move the `champion` alias to a version if it passes the promotion gate, and export its bundle."""
    from training.pipeline import promote as run_promote
    from training.registry import PromotionRefused

    try:
        result = run_promote(version=version)
    except PromotionRefused as exc:
        for reason in exc.reasons:
            _say(f"  - {reason}")
        _fail(f"version {version or '(latest)'} refused by the promotion gate: {len(exc.reasons)} check(s) failed")
    _say(f"champion is now version {result.version} (was {result.previous or 'none'}); bundle {result.path}")


@app.command()
def score(
    out: Annotated[Path, typer.Option(help="folder for gaps.* and recommendations.*")],
    as_of: Annotated[str | None, typer.Option(help="as-of date YYYY-MM-DD (default: the export date)")] = None,
    horizon_months: Annotated[int, typer.Option(min=1, max=60)] = 12,
    top: Annotated[int, typer.Option(min=0, max=50, help="recommendations per employee (0 = none)")] = 5,
    file_format: Annotated[FileFormat, typer.Option("--format")] = FileFormat.parquet,
) -> None:
    """Batch: gaps and top-K recommendations for every active employee, with the champion model."""
    from features.store import NoSnapshot
    from serving.bundle import BundleError
    from training.pipeline import score as run_score

    try:
        result = run_score(out, as_of=_parse_date(as_of, "--as-of"), horizon_months=horizon_months, top_k=top,
                           file_format=file_format.value, progress=_progress())
    except (NoSnapshot, BundleError) as exc:
        _fail(str(exc))
    for path, rows in result.files.items():
        _say(f"wrote {path} ({rows:,} rows)")
    _say(f"{result.employees:,} employees in {result.seconds:.1f} s with model version {result.version}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """Start the API and the planner UI."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/sklearn load (STACK_NOTES.md)
    from serving.main import serve as run_serve

    run_serve(host=host, port=port)


@app.command()
def plan(
    budget_idr: Annotated[int, typer.Option("--budget-idr", min=0, help="the budget in Rupiah")],
    unit: Annotated[list[str] | None, typer.Option(
        "--unit", help="unit_id, with its sub-units (a kecamatan includes its kelurahan); repeat or "
                       "comma-separate; default: every unit")] = None,
    max_trainings_per_employee: Annotated[int, typer.Option(min=0, max=20)] = 2,
    max_jp_per_employee: Annotated[int | None, typer.Option(min=0, help="default: no limit")] = None,
    jp_priority: Annotated[bool, typer.Option(
        "--jp-priority", help="first bring as many employees as the budget allows to 20 JP this year")] = False,
    horizon_months: Annotated[int, typer.Option(min=1, max=60)] = 12,
    curve_budget: Annotated[list[int] | None, typer.Option(
        "--curve-budget", min=0, help="also solve at this budget (repeat): the budget curve")] = None,
    time_limit: Annotated[float, typer.Option(min=0.1, max=300, help="seconds per solve")] = 30.0,
    out: Annotated[Path | None, typer.Option(help="write the allocation to FILE (.csv or .parquet)")] = None,
) -> None:
    """Budget-constrained training plan with the champion model and the store snapshot (as POST /v1/plans)."""
    from features.store import NoSnapshot
    from serving.bundle import BundleError
    from training.plans import PlanRequest, parse_ids, plan_from_store, write_allocations
    from training.results import EngineError

    if out is not None and out.suffix.lower() not in (".csv", ".parquet"):
        _fail(f"--out {out} must end in .csv or .parquet")
    try:
        request = PlanRequest(budget_idr=budget_idr, unit_ids=parse_ids(unit),
                              max_trainings_per_employee=max_trainings_per_employee,
                              max_jp_per_employee=max_jp_per_employee, jp_priority=jp_priority,
                              horizon_months=horizon_months, curve_budgets=tuple(curve_budget or ()),
                              time_limit_s=time_limit)
        _say(f"planning Rp {budget_idr:,} over {', '.join(request.unit_ids) or 'every unit'} …")
        result = plan_from_store(request)
        if out is not None:
            write_allocations(result, out)
    except (NoSnapshot, BundleError, EngineError) as exc:
        _fail(str(exc))
    gap = "unknown" if result.optimality_gap is None else f"{result.optimality_gap:.2e}"
    totals = result.totals
    _say(f"status {result.status} ({result.solver}) in {result.solve_seconds:.1f} s; objective "
         f"{result.objective:.3f}; optimality gap {gap}; model version {result.model_version}")
    _say(f"cost Rp {totals['cost_idr']:,} of Rp {result.budget_idr:,}; {totals['employees']:,} of "
         f"{result.scope['employees']:,} employees trained; {totals['employees_reaching_standard']:,} reach "
         f"their standard; {totals['employees_reaching_20_jp']:,} reach 20 JP")
    for point in result.curve or []:
        _say(f"  curve: Rp {point['budget_idr']:,} → gain {point['expected_gain']:.3f} "
             f"(cost Rp {point['cost_idr']:,}, {point['status']})")
    for note in result.notes:
        _say(f"note: {note}")
    if out is not None:
        _say(f"wrote {out} ({len(result.allocations):,} allocations)")


@app.command()
def drift(
    version: Annotated[str | None, typer.Option(help="registered version (default: the champion)")] = None,
    lang: Annotated[str, typer.Option(help="id or en")] = "en",
    fail_on_alert: Annotated[bool, typer.Option(help="exit 3 when the status is alert")] = False,
) -> None:
    """Population stability (PSI) of features and predictions: training data vs the current store."""
    from features.store import NoSnapshot
    from training.drift import run_drift

    try:
        report = run_drift(version)
    except (NoSnapshot, LookupError, ValueError) as exc:
        _fail(str(exc).strip("'\""))
    typer.echo(report.to_text("id" if lang == "id" else "en"))
    if fail_on_alert and report.status == "alert":
        _fail(f"drift status alert (max PSI {report.psi_max:.2f})", code=3)


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="reader, planner or admin")],
    name: Annotated[str, typer.Option(help="who the key is for (shown in the audit log)")] = "",
) -> None:
    """Create an API key; it is printed once and only its hash is stored."""
    from serving.keys import create_key

    key_id, secret = create_key(role.value, label=name)
    _say(f"key id {key_id} ({role.value}); store the key now, it is not shown again:")
    typer.echo(secret)


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
