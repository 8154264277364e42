"""The analyst's pipelines behind `kompetensi train | evaluate | promote | score`.

Each step is a function that returns values; this module owns the MLflow runs (through
`training.registry`) and nothing else keeps state between steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from engine.bundle import BundleError, load_champion
from engine.drift import DriftReport, attach_reference, drift_report
from engine.plans import PlanCurvePoint, PlanRequest, make_plan
from features.console import Progress, quiet
from features.export import Export
from features.pit import PitIndex, build_features, prediction_queries
from features.settings import Settings, get_settings
from features.store import load_snapshot
from training import registry
from training.completion import NotEnoughEnrolments, completion_backtest, completion_truth_comparison
from training.evaluate import backtest, truth_comparison
from training.fairness import run_audit
from training.fit import fit_predictor
from training.policy_eval import policy_evaluation
from training.rec_eval import evaluate_recommendations
from training.registry import load_bundle
from training.report import ReportInputs, write_report, write_sections


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


def train(*, settings: Settings | None = None, export: Export | None = None, progress: Progress = quiet
          ) -> TrainResult:
    """Fit every model on the current snapshot, log the run to MLflow and register a new version."""

    settings = settings or get_settings()
    started = time.perf_counter()
    export = export if export is not None else load_snapshot()
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

    return registry.load_bundle(version)


def evaluate(*, version: str | None = None, truth_dir: Path | None = None, out_dir: Path | None = None,
             cutoff: date | None = None, settings: Settings | None = None, export: Export | None = None,
             progress: Progress = quiet) -> EvaluateResult:
    """Back-test the version's model family (the gap model, and the completion model against the base and
    per-format rates) against the baselines, compare with truth when given, write
    the HTML report and metrics.json, and log both to MLflow (the promotion gate reads these metrics)."""

    settings = settings or get_settings()
    export = export if export is not None else load_snapshot()
    version, predictor = load_version_bundle(version)
    progress(f"evaluating version {version}")
    bt = backtest(export, cutoff=cutoff, seed=settings.seed, model_params=predictor.metadata.get("params", {})
                  .get("gap_model"), progress=progress)
    all_metrics: dict[str, float] = dict(bt.metrics)
    rec_metrics: dict[str, float] = {}
    notes = [f"Snapshot {export.snapshot_id or '(files)'}, exported on {export.exported_on}."]
    completion = None
    try:
        completion = completion_backtest(export, cutoff=bt.cutoff, seed=settings.seed, progress=progress)
        all_metrics.update(completion.metrics)
    except NotEnoughEnrolments as exc:
        notes.append(f"Completion model not back-tested: {exc}.")
    if truth_dir is not None:
        progress(f"comparing with the ground truth in {truth_dir}")
        all_metrics.update(truth_comparison(export, truth_dir, predictor.gap_model))
        all_metrics.update(completion_truth_comparison(predictor.completion_model, export, truth_dir))

        progress("evaluating recommendations against the true gains")
        rec_metrics = {f"rec_{k}" if not k.startswith("rec_") else k: float(v)
                       for k, v in evaluate_recommendations(predictor, export, truth_dir).items()}
        all_metrics.update(rec_metrics)
    else:
        notes.append("No truth directory given: the comparison with ground truth is skipped.")
    progress("decision quality without truth: doubly robust policy values on held-out employees")
    try:
        all_metrics.update(policy_evaluation(export, predictor, seed=settings.seed).metrics)
        if "rec_policy_value_top1" in all_metrics:  # does the truth-free verdict agree with the truth's?
            truth_beats = all_metrics["rec_policy_value_top1"] > all_metrics["rec_rule_policy_value_top1"]
            all_metrics["policy_dr_gate_agrees_with_truth"] = float(
                (all_metrics["policy_dr_vs_rule"] > 0) == truth_beats)
    except ValueError as exc:  # a history too short for outcomes after the evaluation dates
        notes.append(f"Policy values without truth not estimated: {exc}.")
    progress("fairness audit: errors, recommendations and plan by sex, age band, employment, position type")
    audit = run_audit(export, predictor, bt, seed=settings.seed, settings=settings, progress=progress)
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
                     fairness=audit, drift=drift, budget_curve=curve, completion=completion),
        out_dir,
    )
    sections = write_sections(out_dir, fairness=audit, drift=drift)
    progress("logging the evaluation to MLflow")
    registry.log_evaluation(version, all_metrics, [report, metrics_file, *sections])
    return EvaluateResult(version, all_metrics, report, metrics_file)


CURVE_SHARES = (0.05, 0.1, 0.2, 0.4, 0.7, 1.0)


def report_budget_curve(predictor: Any, export: Export) -> list[PlanCurvePoint]:
    """The budget curve of the whole organisation for the report: budgets are shares (CURVE_SHARES) of
    what giving every active employee their top recommendation would cost, so the curve spans the
    interesting range whatever the organisation's size and prices."""

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

    settings = settings or get_settings()
    return registry.promote(version, gate=registry.promotion_gate(settings=settings), models_dir=settings.models_dir)


def run_drift(version: str | None = None, *, export: Export | None = None) -> DriftReport:
    """`kompetensi drift`: the champion under models/ (or `version` from the registry) against the
    current store snapshot."""

    export = export if export is not None else load_snapshot()
    if version is None:

        try:
            predictor = load_champion(get_settings().models_dir).bundle
        except BundleError:

            predictor = load_bundle(None)[1]  # nothing promoted yet: the latest registered version
    else:

        predictor = load_bundle(version)[1]
    return drift_report(export, predictor, seed=get_settings().seed)
