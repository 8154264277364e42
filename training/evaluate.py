"""Temporal back-test of the gap model against its baselines, and comparison with a generator's truth.

Back-test: every model is fitted on the training pairs whose later assessment is on or before a cutoff
(default: 18 months before the export date) and predicts, *as of the cutoff*, each assessment made
3–36 months after it — the shape of a real prediction: features as of A, a measurement some months later, the
trainings completed in between as the plan. The gap model, the carry-forward of the last level and a
per-competency linear model are scored side by side on the same rows (MAE, RMSE, 80% interval
coverage and width), overall, per competency and per position type.

Truth (only for generated exports, which ship `truth/levels.csv`): the version's own predictor, as of
the truth's as-of date with the empty plan, against the true expected level; carry-forward likewise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from engine.explain import label
from engine.gap_model import CarryForward, GapModel, PerCompetencyLinear, metrics, temporal_split
from features.export import Export
from features.pit import PitIndex, build_features, holdout_pairs, prediction_queries, training_pairs

Progress = Callable[[str], None]
BACKTEST_MONTHS = 18


@dataclass
class Backtest:
    cutoff: date
    metrics: dict[str, float]  # flat, MLflow-ready: backtest_mae, baseline_carry_forward_mae, …
    by_competency: pd.DataFrame  # competency_id, model, n, mae, rmse, coverage, width
    by_position_type: pd.DataFrame
    rows: pd.DataFrame  # the test rows: nip, competency_id, target, predictions of each model, thin
    importance: pd.DataFrame  # feature, mean_abs_contribution (gap model, test rows)
    extra: dict[str, object] = field(default_factory=dict)


def _months_before(day: date, months: int) -> date:
    return (pd.Timestamp(day) - pd.DateOffset(months=months)).date()


def _grouped(rows: pd.DataFrame, key: str, models: tuple[str, ...]) -> pd.DataFrame:
    out = []
    for value, g in rows.groupby(key, sort=True):
        for m in models:
            pred = g[[f"{m}_predicted_level", f"{m}_lower", f"{m}_upper"]].set_axis(
                ["predicted_level", "lower", "upper"], axis=1)
            out.append({key: value, "model": m, **metrics(pred, g["target"])})
    return pd.DataFrame(out)


def backtest(export: Export, *, cutoff: date | None = None, seed: int = 0, model_params: dict | None = None,
             progress: Progress | None = None) -> Backtest:
    """Fit the gap model and the baselines before `cutoff`, score them on the assessments after it."""
    say = progress or (lambda _m: None)
    export = export.without_protected()
    cutoff = cutoff or _months_before(export.exported_on, BACKTEST_MONTHS)
    say(f"back-test: indexing the export, cutoff {cutoff}")
    index = PitIndex.build(export)
    pairs = training_pairs(index, before=cutoff)
    if pairs.empty:
        raise ValueError(f"no assessment pairs before the cutoff {cutoff}: the history is too short")
    tests = holdout_pairs(index, cutoff)
    if tests.empty:
        raise ValueError(f"no assessment after the cutoff {cutoff} to test on")
    say(f"back-test: features for {len(pairs):,} training pairs and {len(tests):,} test assessments")
    x = build_features(index, pairs)
    x_test = build_features(index, tests)
    train, calib = temporal_split(pairs["target_on"])
    y = pairs["target"]
    models: dict[str, object] = {
        "model": GapModel(seed=seed, **(model_params or {})),
        "baseline_carry_forward": CarryForward(),
        "baseline_linear": PerCompetencyLinear(),
    }
    rows = tests[["nip", "competency_id", "target", "horizon_months"]].copy()
    rows["position_type"] = x_test["position_type"].to_numpy()
    rows["thin_evidence"] = x_test["thin_evidence"].to_numpy() > 0.5
    flat: dict[str, float] = {}
    for name, model in models.items():
        say(f"back-test: fitting {name}")
        model.fit(x[train], y[train], x[calib], y[calib])  # type: ignore[attr-defined]
        pred = model.predict(x_test)  # type: ignore[attr-defined]
        for col in ("predicted_level", "lower", "upper"):
            rows[f"{name}_{col}"] = pred[col].to_numpy()
        m = metrics(pred, tests["target"], rows["thin_evidence"])
        prefix = "backtest" if name == "model" else name
        flat.update({f"{prefix}_{k}": v for k, v in m.items() if k != "n"})
    flat["backtest_n"] = float(len(tests))
    flat["backtest_train_pairs"] = float(int(train.sum()))
    names = tuple(models)
    say("back-test: explaining a sample of test rows for global importance")
    gap_model = models["model"]
    sample = x_test.sample(n=min(len(x_test), 3000), random_state=seed)
    contrib = gap_model.explain(sample).contributions  # type: ignore[attr-defined]
    importance = (contrib.abs().mean().sort_values(ascending=False).rename("mean_abs_contribution")
                  .rename_axis("feature").reset_index())
    # Business names for people; in this global view "{competency}" reads "competency".
    generic = pd.Series({"competency_name": "competency"})
    importance["feature"] = [label(f, generic, "en") for f in importance["feature"]]
    return Backtest(
        cutoff=cutoff, metrics=flat,
        by_competency=_grouped(rows, "competency_id", names),
        by_position_type=_grouped(rows, "position_type", names),
        rows=rows, importance=importance,
    )


def read_truth_levels(truth_dir: Path) -> pd.DataFrame:
    path = Path(truth_dir) / "levels.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (truth files come with generated exports only)")
    return pd.read_csv(path, dtype={"nip": str, "competency_id": str}, parse_dates=["as_of"])


def truth_comparison(export: Export, truth_dir: Path, gap_model: GapModel) -> dict[str, float]:
    """MAE of the model and of carry-forward against the truth's expected level with the empty plan."""
    truth = read_truth_levels(truth_dir)
    if truth.empty:
        raise ValueError(f"{truth_dir}/levels.csv has no rows")
    as_of = truth["as_of"].iloc[0].date()
    horizon = int(truth["horizon_months"].iloc[0])
    export = export.without_protected()
    index = PitIndex.build(export)
    queries = prediction_queries(index, as_of, horizon)
    merged = queries.merge(truth[["nip", "competency_id", "expected_level_no_plan"]],
                           on=["nip", "competency_id"], how="inner")
    if merged.empty:
        raise ValueError("the truth files do not match the loaded snapshot (no common employee)")
    x = build_features(index, merged)
    predicted = gap_model.predict(x)["predicted_level"].to_numpy()
    carry = x["current_level"].to_numpy()
    true = merged["expected_level_no_plan"].to_numpy()
    return {
        "truth_n": float(len(merged)),
        "truth_mae": float(np.mean(np.abs(predicted - true))),
        "truth_carry_forward_mae": float(np.mean(np.abs(carry - true))),
    }
