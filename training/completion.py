"""Fitting and back-testing the completion model (`engine.completion`): who finishes a course if enrolled.

Examples are the enrolments with a known outcome, each with its features as of its start date
(`features.completion`). Calibration needs enrolments the classifier never saw, later in time: the
classifier is fitted on the first CALIBRATION_SHARE-complement of enrolments by start date, the isotonic
map on the rest.

Temporal back-test (`completion_backtest`, in `kompetensi evaluate`): the model is fitted on enrolments
started at least OUTCOME_LAG_DAYS before the cutoff (so their outcome was known at the cutoff: no course
runs longer than about three months) and scored on every enrolment started after it. Beside it, the base
rate (one probability for all) and the per-format rate learnt on the same enrolments. Metrics: AUC, Brier
score and expected calibration error over ECE_BINS equal-width bins of the predicted probability.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from engine.completion import CompletionModel, NotEnoughEnrolments
from features.completion import FORMAT_FEATURE, CompletionTables, completion_features, enrolment_examples
from features.export import Export
from features.pit import PitIndex
from features.pit_index import to_days

Progress = Callable[[str], None]
CALIBRATION_SHARE = 0.25  # the latest quarter of the enrolments fits the calibration map
OUTCOME_LAG_DAYS = 92  # training enrolments of a back-test started at least this long before the cutoff
BACKTEST_MONTHS = 18  # the cutoff, as in the gap model's back-test (`training.evaluate`)
ECE_BINS = 10
FORMAT_PRIOR = 20.0  # pseudo-enrolments at the overall rate in the per-format baseline


@dataclass
class CompletionData:
    """Enrolments with their outcome and features, oldest first."""

    examples: pd.DataFrame  # nip, training_id, as_of, finished
    features: pd.DataFrame

    @property
    def finished(self) -> np.ndarray:
        return self.examples["finished"].to_numpy(np.int64)


def completion_data(export: Export, index: PitIndex | None = None) -> CompletionData:
    """Every enrolment with a known outcome and its features as of its start date."""
    export = export.without_protected()
    index = index or PitIndex.build(export)
    examples = enrolment_examples(export)
    examples = examples[index.nips.get_indexer(examples["nip"]) >= 0].reset_index(drop=True)
    features = completion_features(index, CompletionTables.of(index, export), examples)
    return CompletionData(examples, features)


def _split(start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fit, calibrate) masks by start day: about the latest CALIBRATION_SHARE calibrates. Whole days go to
    one side, so the split never depends on how rows of one day are ordered."""
    if len(start) == 0:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    cut = np.sort(start)[min(int(round(len(start) * (1 - CALIBRATION_SHARE))), len(start) - 1)]
    fit = start < cut
    return fit, ~fit


def fit_completion_model(data: CompletionData, *, seed: int = 0, rows: np.ndarray | None = None
                         ) -> CompletionModel:
    """The completion model on `rows` of `data` (default: all), calibrated on the latest of them.
    Raises NotEnoughEnrolments when there are too few."""
    x, y, start = data.features, data.finished, to_days(data.examples["as_of"])
    if rows is not None:
        x, y, start = x[rows], y[rows], start[rows]
    fit, calib = _split(start)
    return CompletionModel(seed=seed).fit(x[fit], y[fit], x[calib], y[calib])


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Σ over equal-width bins of the predicted probability: share of rows × |mean predicted − observed|."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    n = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, weights=p, minlength=bins) - np.bincount(which, weights=y, minlength=bins))
    return float(gap.sum() / max(len(p), 1)) if n.sum() else float("nan")


def calibration_curve(p: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> pd.DataFrame:
    """Per non-empty bin: mean predicted, observed rate, rows (the report's reliability plot)."""
    frame = pd.DataFrame({"bin": np.minimum((np.asarray(p) * bins).astype(np.int64), bins - 1),
                          "predicted": p, "observed": y})
    return frame.groupby("bin").agg(predicted=("predicted", "mean"), observed=("observed", "mean"),
                                    n=("observed", "size")).reset_index()


def _scores(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    auc = float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")
    return {"auc": auc, "brier": float(np.mean((p - y) ** 2)), "ece": expected_calibration_error(p, y)}


def format_rates(formats: pd.Series, finished: np.ndarray) -> tuple[dict[str, float], float]:
    """The per-format baseline: each format's completion rate, shrunk towards the overall rate by
    FORMAT_PRIOR pseudo-enrolments (rare formats), and the overall rate (for formats never seen)."""
    overall = float(np.mean(finished))
    frame = pd.DataFrame({"format": formats.astype(str).to_numpy(), "y": finished})
    grouped = frame.groupby("format")["y"].agg(["sum", "count"])
    rates = (grouped["sum"] + FORMAT_PRIOR * overall) / (grouped["count"] + FORMAT_PRIOR)
    return {str(k): float(v) for k, v in rates.items()}, overall


@dataclass
class CompletionBacktest:
    cutoff: date
    metrics: dict[str, float]  # completion_auc, completion_brier, completion_ece, …_baseline_format, …
    rows: pd.DataFrame  # the test enrolments: nip, training_id, as_of, format, finished, model, format_rate
    curve: pd.DataFrame  # model, bin, predicted, observed, n (reliability of the model and of the baseline)


def completion_backtest(export: Export, *, cutoff: date | None = None, seed: int = 0,
                        index: PitIndex | None = None, progress: Progress | None = None) -> CompletionBacktest:
    """Fit before the cutoff (default BACKTEST_MONTHS before the export date), score the enrolments
    started after it against the base rate and the per-format rate (see the module docstring)."""
    say = progress or (lambda _m: None)
    cutoff = cutoff or (pd.Timestamp(export.exported_on) - pd.DateOffset(months=BACKTEST_MONTHS)).date()
    say(f"completion back-test: enrolments and their features, cutoff {cutoff}")
    data = completion_data(export, index)
    start = to_days(data.examples["as_of"])
    cut = to_days(pd.Series([pd.Timestamp(cutoff)]))[0]
    train = start <= cut - OUTCOME_LAG_DAYS
    test = start > cut
    y = data.finished
    if test.sum() == 0:
        raise NotEnoughEnrolments(f"no enrolment with an outcome started after the cutoff {cutoff}")
    say(f"completion back-test: fitting on {int(train.sum()):,} enrolments, testing on {int(test.sum()):,}")
    model = fit_completion_model(data, seed=seed, rows=train)
    x_test, y_test = data.features[test], y[test]
    p_model = model.predict_proba(x_test)
    rates, overall = format_rates(data.features.loc[train, FORMAT_FEATURE], y[train])
    p_format = np.array([rates.get(str(f), overall) for f in x_test[FORMAT_FEATURE]], dtype=np.float64)
    p_rate = np.full(len(y_test), overall)
    metrics: dict[str, float] = {}
    for name, p in (("", p_model), ("_baseline_format", p_format), ("_baseline_rate", p_rate)):
        for key, value in _scores(p, y_test).items():
            metrics[f"completion_{key}{name}"] = value
    metrics.pop("completion_auc_baseline_rate", None)  # one probability for all ranks nobody: 0.5 by definition
    metrics.update({"completion_n": float(len(y_test)), "completion_train_n": float(int(train.sum())),
                    "completion_rate": float(np.mean(y_test))})
    rows = data.examples[test][["nip", "training_id", "as_of", "finished"]].assign(
        format=x_test[FORMAT_FEATURE].astype(str).to_numpy(), model=p_model, format_rate=p_format)
    curve = pd.concat([calibration_curve(p_model, y_test).assign(model="completion model"),
                       calibration_curve(p_format, y_test).assign(model="per-format rate")], ignore_index=True)
    return CompletionBacktest(cutoff, metrics, rows.reset_index(drop=True), curve)


def completion_truth_comparison(model: CompletionModel | None, export: Export, truth_dir: Path) -> dict[str, float]:
    """A completion model (a version's; None: nothing to compare) against `truth/completion.csv` (generated
    exports): mean absolute error of P(finish) over the truth's (employee, eligible training) pairs as of
    the export date, and their correlation."""
    path = Path(truth_dir) / "completion.csv"
    if model is None or not path.is_file():
        return {}
    truth = pd.read_csv(path, dtype={"nip": str, "training_id": str})
    if truth.empty:
        return {}
    export = export.without_protected()
    index = PitIndex.build(export)
    truth = truth[(index.nips.get_indexer(truth["nip"]) >= 0)
                  & (index.trainings.index.get_indexer(truth["training_id"]) >= 0)].reset_index(drop=True)
    if truth.empty:
        raise NotEnoughEnrolments("the completion truth does not match the loaded snapshot (no common pair)")
    queries = truth[["nip", "training_id"]].assign(as_of=pd.Timestamp(export.exported_on))
    p = model.predict_proba(completion_features(index, CompletionTables.of(index, export), queries))
    true = truth["completion_probability"].to_numpy(np.float64)
    return {"completion_truth_n": float(len(truth)), "completion_truth_mae": float(np.mean(np.abs(p - true))),
            "completion_truth_corr": float(np.corrcoef(p, true)[0, 1]) if np.std(p) > 0 else float("nan")}


def fit_bundle_completion(export: Export, *, seed: int = 0, before: date | None = None,
                          index: PitIndex | None = None, progress: Progress | None = None
                          ) -> CompletionModel | None:
    """The completion model a bundle carries: fitted on every enrolment with an outcome (with `before`,
    those started at least OUTCOME_LAG_DAYS before it), or None, said through `progress`, when there are
    too few: a version without one still serves everything else."""
    say = progress or (lambda _m: None)
    say("completion model: who finishes a course if enrolled")
    try:
        data = completion_data(export, index)
        rows = None
        if before is not None:
            cut = to_days(pd.Series([pd.Timestamp(before)]))[0]
            rows = to_days(data.examples["as_of"]) <= cut - OUTCOME_LAG_DAYS
        return fit_completion_model(data, seed=seed, rows=rows)
    except NotEnoughEnrolments as exc:
        say(f"completion model: {exc}; this version goes without one")
        return None


__all__ = ["CompletionBacktest", "CompletionData", "NotEnoughEnrolments", "completion_backtest", "completion_data",
           "completion_truth_comparison", "expected_calibration_error", "fit_bundle_completion",
           "fit_completion_model", "format_rates"]
