"""The analyst's pipelines behind `kompetensi train | evaluate | promote | score`.

Each step is a function that returns values; this module owns the MLflow runs (through
`training.registry`) and nothing else keeps state between steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from features.export import Export
from features.settings import Settings, get_settings

if TYPE_CHECKING:
    from training.predictor import Predictor

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


@dataclass
class TrainResult:
    version: str
    run_id: str
    metrics: dict[str, float]
    seconds: float


@dataclass
class EvaluateResult:
    version: str
    metrics: dict[str, float]
    report: Path
    metrics_file: Path


def load_current_export() -> Export:
    """The current store snapshot, or a one-line reason why there is none."""
    from features.store import load_snapshot

    return load_snapshot()


def train(*, settings: Settings | None = None, export: Export | None = None, progress: Progress = _quiet
          ) -> TrainResult:
    """Fit every model on the current snapshot, log the run to MLflow and register a new version."""
    from features.pit import PitIndex, build_features, prediction_queries
    from training import registry
    from training.drift import attach_reference
    from training.predictor import fit_predictor

    settings = settings or get_settings()
    started = time.perf_counter()
    export = export if export is not None else load_current_export()
    progress(f"training on snapshot {export.snapshot_id or '(files)'} exported on {export.exported_on}")
    predictor = fit_predictor(export, seed=settings.seed, progress=progress)
    progress("profiling the training population (the drift reference)")
    attach_reference(predictor, export, seed=settings.seed)
    seconds = time.perf_counter() - started
    index = PitIndex.build(export.without_protected())
    example = build_features(index, prediction_queries(index, export.exported_on).head(5))
    example = example[list(predictor.gap_model.feature_names_in_)] if hasattr(
        predictor.gap_model, "feature_names_in_") else example
    meta = predictor.metadata
    fit_metrics = {k: float(v) for k, v in meta.get("fit_metrics", {}).items()}
    fit_metrics["train_seconds"] = seconds
    tags = {
        "as_of": str(export.exported_on),
        "snapshot_id": str(export.snapshot_id or ""),
        "data_window_start": str(meta.get("data_window", {}).get("start", "")),
        "data_window_end": str(meta.get("data_window", {}).get("end", "")),
    }
    params: dict[str, Any] = {"seed": settings.seed, **meta.get("params", {})}
    progress("logging the run to MLflow and registering a new version")
    registered = registry.log_training_run(
        predictor, sklearn_model=predictor.gap_model.point_, input_example=example,
        params=params, metrics=fit_metrics, tags=tags,
    )
    return TrainResult(registered.version, registered.run_id, fit_metrics, seconds)


def load_version_bundle(version: str | None) -> tuple[str, Any]:
    """The predictor of a registered version (default: the latest), downloaded from MLflow."""
    from training import registry

    return registry.load_bundle(version)


def evaluate(*, version: str | None = None, truth_dir: Path | None = None, out_dir: Path | None = None,
             cutoff: date | None = None, settings: Settings | None = None, export: Export | None = None,
             progress: Progress = _quiet) -> EvaluateResult:
    """Back-test the version's model family against the baselines, compare with truth when given, write
    the HTML report and metrics.json, and log both to MLflow (the promotion gate reads these metrics)."""
    from training import registry
    from training.drift import drift_report
    from training.evaluate import backtest, truth_comparison
    from training.fairness import run_audit
    from training.report import ReportInputs, write_report, write_sections

    settings = settings or get_settings()
    export = export if export is not None else load_current_export()
    version, predictor = load_version_bundle(version)
    progress(f"evaluating version {version}")
    bt = backtest(export, cutoff=cutoff, seed=settings.seed, model_params=predictor.metadata.get("params", {})
                  .get("gap_model"), progress=progress)
    all_metrics: dict[str, float] = dict(bt.metrics)
    rec_metrics: dict[str, float] = {}
    notes = [f"Snapshot {export.snapshot_id or '(files)'}, exported on {export.exported_on}."]
    if truth_dir is not None:
        progress(f"comparing with the ground truth in {truth_dir}")
        all_metrics.update(truth_comparison(export, truth_dir, predictor.gap_model))
        from training.rec_eval import evaluate_recommendations

        progress("evaluating recommendations against the true gains")
        rec_metrics = {f"rec_{k}" if not k.startswith("rec_") else k: float(v)
                       for k, v in evaluate_recommendations(predictor, export, truth_dir).items()}
        all_metrics.update(rec_metrics)
    else:
        notes.append("No truth directory given: the comparison with ground truth is skipped.")
    progress("fairness audit: errors, recommendations and plan by sex, age band, employment, position type")
    audit = run_audit(export, predictor, bt, seed=settings.seed, progress=progress)
    all_metrics.update(audit.metrics())
    drift = None
    try:
        progress("drift: the training population against this snapshot")
        drift = drift_report(export, predictor, seed=settings.seed)
        all_metrics.update(drift.metrics())
    except LookupError as exc:  # a bundle trained before drift references were kept
        notes.append(f"Drift not measured: {exc}.")
    progress("budget curve: total expected gain against budget, every unit")
    curve = report_budget_curve(predictor, export)
    out_dir = out_dir or settings.data_dir / "reports" / f"v{version}"
    report, metrics_file = write_report(
        ReportInputs(title=f"asn-kompetensi evaluation, version {version}", model_version=version,
                     backtest=bt, metrics=all_metrics, notes=notes,
                     recommendation_metrics={k.removeprefix("rec_"): v for k, v in rec_metrics.items()},
                     fairness=audit, drift=drift, budget_curve=curve),
        out_dir,
    )
    sections = write_sections(out_dir, fairness=audit, drift=drift)
    progress("logging the evaluation to MLflow")
    registry.log_evaluation(version, all_metrics, [report, metrics_file, *sections])
    return EvaluateResult(version, all_metrics, report, metrics_file)


CURVE_SHARES = (0.05, 0.1, 0.2, 0.4, 0.7, 1.0)


def report_budget_curve(predictor: Any, export: Export) -> list[dict[str, Any]]:
    """The budget curve of the whole organisation for the report: budgets are shares (CURVE_SHARES) of
    what giving every active employee their top recommendation would cost, so the curve spans the
    interesting range whatever the organisation's size and prices."""
    from training.plans import PlanRequest, make_plan

    top = predictor.candidates(export, top_k=1)
    total = int(top["cost_idr"].sum()) if len(top) else 0
    budgets = sorted({int(total * share) for share in CURVE_SHARES} - {0})
    if not budgets:
        return []
    plan = make_plan(predictor, export, PlanRequest(budget_idr=budgets[-1], curve_budgets=tuple(budgets)))
    return list(plan.curve or [])


def promote(*, version: str | None = None, settings: Settings | None = None):
    """Apply the promotion gate (accuracy and fairness) to `version` (default: the latest) and export its
    bundle to models/."""
    from training import registry

    settings = settings or get_settings()
    return registry.promote(version, gate=registry.promotion_gate(), models_dir=settings.models_dir)


@dataclass
class ScoreResult:
    version: str
    employees: int
    files: dict[Path, int]
    seconds: float


def score(out: Path, *, as_of: date | None = None, horizon_months: int = 12, top_k: int = 5,
          file_format: str = "parquet", settings: Settings | None = None, export: Export | None = None,
          progress: Progress = _quiet) -> ScoreResult:
    """Write gaps.{parquet,csv} and recommendations.{parquet,csv} for every active employee with the
    champion bundle under models/ (what the server serves), columns as INTERFACES.md defines."""
    from features.constants import GAPS_COLUMNS, RECOMMENDATIONS_COLUMNS
    from serving.bundle import load_champion

    settings = settings or get_settings()
    started = time.perf_counter()
    loaded = load_champion(settings.models_dir)
    export = export if export is not None else load_current_export()
    predictor = cast("Predictor", loaded.bundle)
    progress(f"scoring with model version {loaded.version} as of {as_of or export.exported_on}")
    gaps, recs = predictor.score(export, as_of=as_of, horizon_months=horizon_months, top_k=top_k,
                                 progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[Path, int] = {}
    outputs = [("gaps", gaps[list(GAPS_COLUMNS)])]
    if top_k > 0:
        outputs.append(("recommendations", recs[list(RECOMMENDATIONS_COLUMNS)]))
    for name, frame in outputs:
        path = out / f"{name}.{file_format}"
        tmp = path.with_name(f".{path.name}.tmp")
        if file_format == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False, date_format="%Y-%m-%d", float_format="%.6g")
        tmp.replace(path)  # readers never see a half-written batch file
        files[path] = len(frame)
    employees = int(gaps["nip"].nunique()) if len(gaps) else 0
    return ScoreResult(loaded.version, employees, files, time.perf_counter() - started)
