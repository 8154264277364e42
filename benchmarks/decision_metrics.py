"""The pieces of `benchmarks.bench_decisions` that are not in `training.rec_eval`: recall of beneficial
trainings, the observable ceilings (models fit to a world's *true* gains and levels from observable
features, out of fold) and the value of budget plans against the oracle's and a random allocation's.

Observable ceiling of the recommendations: a LightGBM regressor fit to the true gain of every eligible
(employee, training) pair from what the export shows about the pair, with 5-fold GroupKFold by employee;
its out-of-fold predictions are ranked per employee by the engine's own `rank_pairs` (same epsilon, same
ties) and scored by the same metric code as ours. Its features are the predictor's own pair rows
(`Predictor._pair_rows`: one row per pair × targeted required competency, with the employee's history
features as of the export date, the course's band relation, targeted JP and catalogue features, and the
comparable past participants' evidence), aggregated per pair (sum / max / min), plus the training itself
(id, format, cost, JP) and the employee (position type, job family, employment, unit kind, SKP, tenure,
education, grade, total current gap). No output of our models (levels, τ, gains) is a feature: the
ceiling says what the world allows from its observables, not how good our gap model is. A pair whose
training targets none of the employee's required competencies has a true gain of 0 by definition and
gets 0. The forecast's ceiling is the same regressor fit to the true expected level (no plan) from the
gap model's own feature rows.

Plans: a plan's true value is the sum of the true single-training gains of its allocated pairs (two
trainings of one employee never close the same competency: the optimiser's constraint). The oracle is
`engine.plans.make_plan` itself fed the true gains (`FixedGains`: same scope, pruning, constraints and
optimiser), the ceiling's plan the same with the ceiling's out-of-fold gains, and random the mean over
`RANDOM_ORDERS` random orders of the eligible pairs each filling the budget greedily under the same
limits (trainings per employee, one training per (employee, competency) it targets). For `FixedGains`
a pair's competencies are the training's targets that the employee's position requires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from engine.plans import PlanRequest, make_plan
from engine.predictor import Predictor
from features.constants import ACTIVE_STATUS, CANDIDATE_COLUMNS, DEFAULT_HORIZON_MONTHS
from features.export import Export
from features.jp import jp_this_year
from features.pit import CATEGORICAL_FEATURES, FEATURES, PitIndex, build_features, prediction_queries
from training.evaluate import read_truth_levels
from training.rec_eval import ndcg, policy_value, spearman

BENEFICIAL_GAIN = 0.05  # levels: a true gain above this is worth recommending (recall)
CEILING_FOLDS = 5
RANDOM_ORDERS = 20
# Per-row features of the predictor's pair rows (taken when the effect model's rows carry them).
ROW_FEATURES = (
    "current_level", "current_gap", "required_level", "level_age_months", "never_assessed", "n_assessments",
    "level_trend", "plan_jp_targeting", "plan_n_in_band", "plan_n_below_band", "plan_n_above_band",
    "plan_band_distance", "course_n_targets", "course_band_width",
)
EMPLOYEE_CATEGORIES = ("position_type", "job_family", "employment", "unit_kind")
EMPLOYEE_NUMBERS = ("skp_percentile", "tenure_years", "education_rank", "grade_rank", "trainings_36m", "jp_12m")


def _ceiling_regressor(seed: int) -> lgb.LGBMRegressor:
    # One thread: the benchmark machine is shared, and five folds of ~150k pairs take well under a minute.
    return lgb.LGBMRegressor(n_estimators=400, learning_rate=0.05, num_leaves=63, min_child_samples=20,
                             subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0,
                             random_state=seed, n_jobs=1, verbose=-1)


def out_of_fold(x: pd.DataFrame, y: np.ndarray, groups: np.ndarray, seed: int,
                folds: int = CEILING_FOLDS) -> np.ndarray:
    """Out-of-fold predictions of `_ceiling_regressor` with GroupKFold by `groups` (employees)."""
    out = np.zeros(len(x))
    n_groups = len(np.unique(groups))
    if len(x) == 0:
        return out
    if n_groups < 2:
        return np.full(len(x), float(np.mean(y)))
    for train, test in GroupKFold(n_splits=min(folds, n_groups)).split(x, y, groups):
        model = _ceiling_regressor(seed).fit(x.iloc[train], y[train])
        out[test] = model.predict(x.iloc[test])
    return out


# ---------------------------------------------------------------------------------------------------
# Recall of beneficial trainings
# ---------------------------------------------------------------------------------------------------
def recall_of_beneficial(picks: pd.DataFrame, truth: pd.DataFrame, threshold: float = BENEFICIAL_GAIN
                         ) -> dict[str, float]:
    """Among employees with an eligible training of true gain > threshold: the share who got at least one
    recommendation (`recall`), the number who got none (`missed`), and the share whose recommendations hold
    at least one such training (`recall_hit`)."""
    beneficial = truth[truth["expected_gain"] > threshold]
    needing = pd.Index(beneficial["nip"].unique())
    if len(needing) == 0:
        return {"recall": float("nan"), "recall_hit": float("nan"), "missed": 0.0, "needing": 0.0}
    got = needing.isin(picks["nip"].unique())
    good = picks.merge(beneficial[["nip", "training_id"]], on=["nip", "training_id"])
    hit = needing.isin(good["nip"].unique())
    return {"recall": float(got.mean()), "recall_hit": float(hit.mean()), "missed": float((~got).sum()),
            "needing": float(len(needing))}


def ranking_metrics(picks: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Rank-1 / top-3 policy value, NDCG@5, Spearman over the picks (if they carry `expected_gain`) and
    recall, with `training.rec_eval`'s functions."""
    out = {"policy_value_top1": policy_value(picks, truth, 1), "policy_value_top3": policy_value(picks, truth, 3),
           "ndcg_at_5": ndcg(picks, truth, 5),
           "spearman": spearman(picks, truth) if "expected_gain" in picks.columns else float("nan")}
    out.update(recall_of_beneficial(picks, truth))
    return out


# ---------------------------------------------------------------------------------------------------
# Observable ceiling of the recommendations
# ---------------------------------------------------------------------------------------------------
@dataclass
class PairTable:
    """Every eligible pair of the active employees: keys, cost, JP, competencies and ceiling features."""

    pairs: pd.DataFrame  # nip, training_id, cost_idr, hours_jp, total_gap_before, competency_ids, has_rows
    features: pd.DataFrame  # one row per pair, same order


def _categorical(values: Any) -> pd.Categorical:
    return pd.Categorical(pd.Series(values).astype(str).to_numpy())


def pair_table(predictor: Predictor, export: Export, as_of: date | None = None,
               horizon_months: int = DEFAULT_HORIZON_MONTHS) -> PairTable:
    """The pairs and their observable features (module docstring), from the predictor's pair rows.

    Uses the engine's private pair builders (`_context`, `_queries`, `_levels`, `_pair_rows`,
    `_pairs_frame`): exactly the rows our effect model is asked about, so both sides see the same pairs."""
    as_of = as_of or export.exported_on
    ctx = predictor._context(export)
    queries = predictor._queries(ctx.index, None, as_of, horizon_months)
    base_x, _, levels = predictor._levels(ctx, queries)
    rows = predictor._pair_rows(ctx, levels, base_x, None, as_of)
    frame = predictor._pairs_frame(rows)
    n = len(frame)

    # Row features aggregated per pair.
    effect_rows = rows.effect_rows
    row = pd.DataFrame({c: effect_rows[c].to_numpy(np.float64) for c in ROW_FEATURES if c in effect_rows.columns})
    row["participants"] = rows.participants.astype(np.float64)
    row["mean_change"] = rows.mean_change.astype(np.float64)
    positive_gap = np.clip(row["current_gap"].to_numpy(np.float64), 0.0, None)
    for band in ("in", "below", "above"):
        row[f"gap_x_{band}_band"] = positive_gap * row[f"plan_n_{band}_band"].to_numpy(np.float64)
    row["pair"] = rows.row_pair
    grouped = row.groupby("pair")
    agg = pd.concat([grouped.sum().add_suffix("_sum"), grouped.max().add_suffix("_max"),
                     grouped.min().add_suffix("_min")], axis=1).reindex(np.arange(n))
    features = agg.reset_index(drop=True)
    features["n_rows"] = np.bincount(rows.row_pair, minlength=n).astype(np.float64)

    # The training.
    trainings = export["trainings"].set_index(export["trainings"]["training_id"].astype(str))
    training_id = frame["training_id"].astype(str).to_numpy()
    features["training_id"] = _categorical(training_id)
    features["format"] = _categorical(trainings["format"].astype(str).reindex(training_id).to_numpy())
    features["cost_idr"] = frame["cost_idr"].to_numpy(np.float64)
    features["hours_jp"] = frame["hours_jp"].to_numpy(np.float64)

    # The employee (first query row of each; the current gap summed over the required competencies).
    nip = frame["nip"].astype(str).to_numpy()
    q_nip = queries["nip"].astype(str).to_numpy()
    first = pd.Series(np.arange(len(q_nip))).groupby(q_nip).first()
    at = first.reindex(nip).to_numpy()
    for c in EMPLOYEE_CATEGORIES:
        features[c] = _categorical(base_x[c].astype(str).to_numpy()[at])
    for c in EMPLOYEE_NUMBERS:
        features[c] = base_x[c].to_numpy(np.float64)[at]
    current_gap = pd.Series(np.clip(base_x["current_gap"].to_numpy(np.float64), 0.0, None)).groupby(q_nip).sum()
    features["employee_current_gap"] = current_gap.reindex(nip).to_numpy()
    features["employee_required"] = pd.Series(q_nip).value_counts().reindex(nip).to_numpy(np.float64)

    # Competencies of a pair for the plans: the training's targets that the position requires.
    comps = pd.Series(rows.competency_id.astype(str)).groupby(rows.row_pair).agg(tuple)
    pairs = pd.DataFrame({
        "nip": nip, "training_id": training_id,
        "cost_idr": frame["cost_idr"].to_numpy(np.int64), "hours_jp": frame["hours_jp"].to_numpy(np.int64),
        "total_gap_before": frame["total_gap_before"].to_numpy(np.float64),
        "competency_ids": [comps.get(i, ()) for i in range(n)],
        "has_rows": features["n_rows"].to_numpy() > 0,
    })
    return PairTable(pairs, features)


def ceiling_gains(table: PairTable, truth: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The ceiling's out-of-fold gain of every pair: [nip, training_id, expected_gain, cost_idr, hours_jp].

    Fit on the pairs the truth lists (pairs it does not list count as gain 0) that target a required
    competency; the others get 0."""
    pairs = table.pairs
    true = pairs[["nip", "training_id"]].merge(truth, on=["nip", "training_id"], how="left")["expected_gain"]
    y = true.fillna(0.0).to_numpy(np.float64)
    fit = np.flatnonzero(pairs["has_rows"].to_numpy())
    predicted = np.zeros(len(pairs))
    predicted[fit] = out_of_fold(table.features.iloc[fit], y[fit], pairs["nip"].to_numpy()[fit], seed)
    return pd.DataFrame({"nip": pairs["nip"].to_numpy(), "training_id": pairs["training_id"].to_numpy(),
                         "expected_gain": np.round(np.clip(predicted, 0.0, None), 6),
                         "cost_idr": pairs["cost_idr"].to_numpy(), "hours_jp": pairs["hours_jp"].to_numpy()})


# ---------------------------------------------------------------------------------------------------
# Observable ceiling of the forecast
# ---------------------------------------------------------------------------------------------------
def forecast_ceiling(export: Export, truth_dir: Path, seed: int) -> dict[str, float]:
    """MAE of the regressor fit (out of fold, by employee) to the true expected level with no plan, from the
    gap model's feature rows; and carry-forward's on the same rows (as `training.evaluate.truth_comparison`)."""
    truth = read_truth_levels(truth_dir)
    as_of = truth["as_of"].iloc[0].date()
    horizon = int(truth["horizon_months"].iloc[0])
    index = PitIndex.build(export)
    queries = prediction_queries(index, as_of, horizon)
    merged = queries.merge(truth[["nip", "competency_id", "expected_level_no_plan"]],
                           on=["nip", "competency_id"], how="inner")
    x = build_features(index, merged)[list(FEATURES)].copy()
    for c in CATEGORICAL_FEATURES:
        x[c] = _categorical(x[c].astype(str).to_numpy())
    y = merged["expected_level_no_plan"].to_numpy(np.float64)
    predicted = out_of_fold(x.reset_index(drop=True), y, merged["nip"].astype(str).to_numpy(), seed)
    carry = x["current_level"].to_numpy(np.float64)
    return {"ceiling_mae": float(np.mean(np.abs(predicted - y))),
            "carry_forward_mae": float(np.mean(np.abs(carry - y)))}


# ---------------------------------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------------------------------
class FixedGains:
    """A stand-in for `Predictor` in `make_plan`: its candidates are given pairs with given gains."""

    def __init__(self, pairs: pd.DataFrame, gains: pd.Series, export: Export, name: str,
                 min_gain: float = 0.0) -> None:
        employees = export["employees"].set_index(export["employees"]["nip"].astype(str))
        jp = jp_this_year(export, export.exported_on)
        nip = pairs["nip"].astype(str)
        frame = pd.DataFrame({
            "nip": nip.to_numpy(), "training_id": pairs["training_id"].astype(str).to_numpy(),
            "expected_gain": gains.to_numpy(np.float64), "cost_idr": pairs["cost_idr"].to_numpy(np.int64),
            "hours_jp": pairs["hours_jp"].to_numpy(np.int64), "competency_ids": list(pairs["competency_ids"]),
            "unit_id": employees["unit_id"].astype(str).reindex(nip).to_numpy(),
            "total_gap_before": pairs["total_gap_before"].to_numpy(np.float64),
            "jp_this_year": jp.reindex(nip).fillna(0.0).to_numpy(np.float64),
        })
        self.frame = frame[frame["expected_gain"] > min_gain].reset_index(drop=True)
        self.metadata = {"model_version": name}
        self.model_version = name

    def candidates(self, export: Export, nips: Sequence[str] | None = None, *, top_k: int | None = None,
                   as_of: date | None = None, horizon_months: int = DEFAULT_HORIZON_MONTHS) -> pd.DataFrame:
        frame = self.frame if nips is None else self.frame[self.frame["nip"].isin(set(map(str, nips)))]
        return frame[list(CANDIDATE_COLUMNS)].reset_index(drop=True)


def true_value(allocations: pd.DataFrame, truth: pd.DataFrame) -> float:
    """Σ true gain of the allocated pairs (a pair the truth does not list: 0)."""
    if allocations.empty:
        return 0.0
    picked = allocations[["nip", "training_id"]].astype(str).merge(truth, on=["nip", "training_id"], how="left")
    return float(picked["expected_gain"].fillna(0.0).sum())


def random_value(pairs: pd.DataFrame, gains: np.ndarray, budget: int, max_per_employee: int, seed: int,
                 orders: int = RANDOM_ORDERS) -> float:
    """Mean true value of `orders` random orders of the pairs, each filling the budget greedily (a pair is
    taken when it fits the budget left, its employee has fewer than `max_per_employee` trainings and none of
    its competencies is already closed for that employee)."""
    rng = np.random.default_rng(seed)
    emp = pd.factorize(pairs["nip"].astype(str))[0]
    cost = pairs["cost_idr"].to_numpy(np.int64)
    comps = [tuple(c) for c in pairs["competency_ids"]]
    fits = np.flatnonzero(cost <= budget)
    values = []
    for _ in range(orders):
        left, total = int(budget), 0.0
        count = np.zeros(int(emp.max()) + 1 if len(emp) else 0, dtype=np.int64)
        used: set[tuple[int, str]] = set()
        for i in rng.permutation(fits).tolist():
            e = emp[i]
            if cost[i] > left or count[e] >= max_per_employee or any((e, c) in used for c in comps[i]):
                continue
            left -= int(cost[i])
            count[e] += 1
            used.update((e, c) for c in comps[i])
            total += float(gains[i])
        values.append(total)
    return float(np.mean(values)) if values else 0.0


def _normalised(value: float, random: float, oracle: float) -> float:
    return (value - random) / (oracle - random) if oracle - random > 1e-9 else float("nan")


def plan_values(predictor: Predictor, export: Export, table: PairTable, truth: pd.DataFrame,
                ceiling: pd.DataFrame, budgets: Sequence[int], seed: int) -> list[dict[str, Any]]:
    """Per budget: the true value of our plan, the ceiling's, the oracle's and random's, and the normalised
    (plan − random) / (oracle − random) of ours and of the ceiling."""
    pairs = table.pairs
    true = pairs[["nip", "training_id"]].merge(truth, on=["nip", "training_id"], how="left")["expected_gain"]
    true_gain = true.fillna(0.0).to_numpy(np.float64)
    oracle_source = FixedGains(pairs, pd.Series(true_gain), export, "oracle")
    ceiling_source = FixedGains(pairs, ceiling["expected_gain"], export, "ceiling",
                                min_gain=predictor.gain_epsilon)
    out = []
    for budget in budgets:
        request = PlanRequest(budget_idr=int(budget))
        ours = make_plan(predictor, export, request)
        oracle = make_plan(oracle_source, export, request)
        by_ceiling = make_plan(ceiling_source, export, request)
        rand = random_value(pairs, true_gain, int(budget), request.max_trainings_per_employee, seed)
        values = {"ours": true_value(ours.allocations, truth), "oracle": true_value(oracle.allocations, truth),
                  "ceiling": true_value(by_ceiling.allocations, truth), "random": rand}
        out.append({
            "budget_idr": int(budget), **{f"{k}_true_value": v for k, v in values.items()},
            "plan_value": _normalised(values["ours"], rand, values["oracle"]),
            "ceiling_plan_value": _normalised(values["ceiling"], rand, values["oracle"]),
            "ours_expected_gain": float(ours.objective),  # what our plan promised (optimiser's curse)
            "ours_cost_idr": int(ours.totals["cost_idr"]), "oracle_cost_idr": int(oracle.totals["cost_idr"]),
            "ours_status": ours.status, "oracle_status": oracle.status, "ceiling_status": by_ceiling.status,
            "ours_allocations": int(len(ours.allocations)), "oracle_allocations": int(len(oracle.allocations)),
            "ours_solve_seconds": round(float(ours.solve_seconds + ours.candidates_seconds), 2),
        })
    return out


def active_truth(truth: pd.DataFrame, export: Export) -> pd.DataFrame:
    """The truth's pairs of active employees."""
    employees = export["employees"]
    active = set(employees.loc[employees["status"] == ACTIVE_STATUS, "nip"].astype(str))
    return truth[truth["nip"].isin(active)].reset_index(drop=True)
