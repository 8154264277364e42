"""Truth-free evaluation of a recommender from the export alone: doubly robust (AIPW) policy values on
held-out employees, against the rule and popularity baselines, and a negative-control (placebo) check.

Design (DECISIONS.md, "Policy evaluation without truth"; Athey & Wager 2021, Dudík et al. 2011):

- Evaluation dates A every 6 months (`evaluation_dates`) and, for every active employee and competency
  with a level known at A, the first assessment 3–36 months after A. Outcome Y = the gap closed: the
  later level minus the level known at A, both capped at the required level (0 for a competency the
  position does not require). Arm = the format of the first training completed in (A, later assessment]
  that targets the competency (0 = none; formats with fewer than MIN_FORMAT_ROWS treated pairs share
  one arm).
- Employees are split into K folds. For the pairs of fold k, a multiclass propensity model e(a | x) and
  an outcome model per arm μ_a(x) are fitted on the pairs of the *other* folds only (cross-fitting), on
  the point-in-time features as of A (`features.pit.build_features`, no plan features). AIPW score of arm
  a against no training: Γ_a = μ_a − μ_0 + 1[arm = a](Y − μ_a)/e_a − 1[arm = 0](Y − μ_0)/e_0, with the
  propensities clipped to [0.05, 0.95]; the share of pairs whose propensity of any targeting training
  lies outside that range (`policy_dr_overlap_outside`) and the share of per-format propensities below
  0.05 (`policy_dr_overlap_format_below`, where the score leans on the outcome model) are reported.
- A policy picks one training per employee and date (rank 1). Its score for that unit is the sum of
  Γ_{format of the pick} over the pick's target competencies with an outcome; a pick whose competencies
  have no later assessment (or that targets nothing the employee is assessed on) scores 0. Every policy
  is scored on the same units with the same nuisances: model, rule and popularity (`training.rec_eval`).
  An employee-level bootstrap gives the 95% intervals, also of the paired difference model − rule.
- Placebo (negative control, Lipsitch et al. 2010): the same machinery with "completed trainings, none
  targeting this competency" against "completed none": a course cannot raise a competency it does not
  target (the engine's effect model gives such pairs no gain by construction), so the estimate should be
  ≈ 0. A placebo far from 0 says the nuisances do not control confounding and the values above are
  suspect.

What it cannot estimate: the arm is the format of a training targeting the competency, so two policies
picking different courses of the same format for the same competency are not told apart; the value is
in levels of gap closed by the next assessment (missing assessments count 0, which shrinks every policy
alike), not on the truth's normalised scale; and the version's own model was fitted on the whole export
(cross-fitting protects the nuisances, not the policy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.constants import ACTIVE_STATUS
from features.eligibility import eligible_pairs
from features.export import Export
from features.pit import (
    HISTORY_FEATURES,
    MIN_PAIR_MONTHS,
    NUMERIC_FEATURES,
    PitIndex,
    build_features,
    holdout_pairs,
)
from training.rec_eval import popularity_picks, rule_picks

CLIP = (0.05, 0.95)
N_FOLDS = 5
N_BOOTSTRAP = 400
POLICIES = ("model", "rule", "popularity")
CATEGORICAL = ("competency_id", "current_method", "target_method", "position_type", "employment", "job_family")
EVERY_MONTHS = 6
MIN_ARM_ROWS = 30  # a format arm with fewer training rows borrows the outcome model of all treated rows
OTHER = "(other)"
MIN_FORMAT_ROWS = 100  # formats rarer than this among treated pairs share the arm "other"


@dataclass
class PolicyEvaluation:
    metrics: dict[str, float]
    scores: pd.DataFrame  # per pair: nip, competency_id, as_of, y, t, format, placebo_t, fold, arm, e_treated
    units: pd.DataFrame  # nip, as_of, then one column per policy (the unit's DR score)
    folds: dict[str, int] = field(default_factory=dict)  # nip -> fold
    trained_on: dict[int, set[str]] = field(default_factory=dict)  # fold -> nips its nuisances saw


def evaluation_dates(export: Export, every_months: int = EVERY_MONTHS) -> list[date]:
    """Every `every_months` back from 3 months before the export date, while at least 6 months of
    assessments precede the date (the earliest first)."""
    first = pd.Timestamp(export["assessments"]["assessed_on"].min()) + pd.DateOffset(months=6)
    day = pd.Timestamp(export.exported_on) - pd.DateOffset(months=MIN_PAIR_MONTHS)
    out = []
    while day >= first:
        out.append(day.date())
        day = day - pd.DateOffset(months=every_months)
    return out[::-1]


def evaluation_pairs(export: Export, index: PitIndex, as_of: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The first assessment 3–36 months after `as_of` per (active employee, competency) with a level known
    at `as_of`: the pairs [nip, competency_id, as_of, y, t, placebo_t, …] and their features as of `as_of`."""
    pairs = holdout_pairs(index, as_of)
    employees = export["employees"]
    active = set(employees.loc[employees["status"] == ACTIVE_STATUS, "nip"].astype(str))
    pairs = pairs[pairs["nip"].isin(active)]
    pairs = pairs.sort_values(["nip", "competency_id", "target_on"], kind="stable")
    pairs = pairs.drop_duplicates(["nip", "competency_id"]).reset_index(drop=True)
    if pairs.empty:
        return pairs.assign(y=[], t=[], format=[], placebo_t=[]), pd.DataFrame()
    x = build_features(index, pairs).reset_index(drop=True)
    known = (x["never_assessed"].to_numpy(np.float64) < 0.5) & np.isfinite(x["current_level"].to_numpy(np.float64))
    pairs, x = pairs[known].reset_index(drop=True), x[known].reset_index(drop=True)
    targets = export["training_targets"][["training_id", "competency_id"]].astype(str)
    targeting = set(zip(targets["training_id"], targets["competency_id"], strict=True))
    formats = export["trainings"].astype({"training_id": str}).set_index("training_id")["format"].astype(str)
    plans = pairs["plan"].tolist()
    comps = pairs["competency_id"].tolist()
    first = [next((tid for tid in plan if (tid, c) in targeting), None) for plan, c in zip(plans, comps, strict=True)]
    t = np.array([tid is not None for tid in first], dtype=bool)
    took_any = np.array([len(plan) > 0 for plan in plans], dtype=bool)
    required = x["required_level"].to_numpy(np.float64)
    closed = (np.minimum(pairs["target"].to_numpy(np.float64), required)
              - np.minimum(x["current_level"].to_numpy(np.float64), required))
    pairs = pairs.assign(y=np.where(np.isfinite(required), closed, 0.0),
                         t=t.astype(np.int64),
                         format=[formats.get(tid, "") if tid is not None else "" for tid in first],
                         placebo_t=np.where(t, -1, took_any.astype(np.int64)))  # -1: not a placebo row
    return pairs, x


def _matrix(x: pd.DataFrame) -> pd.DataFrame:
    numeric = [c for c in HISTORY_FEATURES if c in x.columns and c in NUMERIC_FEATURES]
    out = x[numeric].astype("float64").copy()
    for c in CATEGORICAL:
        if c in x.columns:
            out[c] = x[c].astype(str).astype("category")
    return out


def _params(seed: int) -> dict:
    return {"n_estimators": 150, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 30,
            "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "random_state": seed,
            "n_jobs": 1, "verbose": -1}


def _categories_aligned(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    test = test.copy()
    for c in train.columns:
        if isinstance(train[c].dtype, pd.CategoricalDtype):
            test[c] = pd.Categorical(test[c].astype(str), categories=train[c].cat.categories)
    return test


@dataclass
class Nuisances:
    """Cross-fitted nuisances per row: `e[:, a]` the propensity of arm a, `mu[:, a]` its outcome model
    (arm 0 = no training); each row's come from models fitted on the other folds only."""

    e: np.ndarray
    mu: np.ndarray

    def score(self, y: np.ndarray, arm: np.ndarray, a: np.ndarray) -> np.ndarray:
        """AIPW score of arm `a` (per row) against arm 0: the effect of following `a` rather than nothing."""
        rows = np.arange(len(y))
        e_a = np.clip(self.e[rows, a], *CLIP)
        e_0 = np.clip(self.e[:, 0], *CLIP)
        mu_a, mu_0 = self.mu[rows, a], self.mu[:, 0]
        return mu_a - mu_0 + (arm == a) * (y - mu_a) / e_a - (arm == 0) * (y - mu_0) / e_0


def cross_fit(m: pd.DataFrame, y: np.ndarray, arm: np.ndarray, folds: np.ndarray, n_arms: int, seed: int
              ) -> Nuisances:
    """Propensity (multiclass) and per-arm outcome models, fitted for each fold on the other folds."""
    n = len(y)
    e, mu = np.full((n, n_arms), np.nan), np.full((n, n_arms), np.nan)
    for k in np.unique(folds):
        test, train = folds == k, folds != k
        m_train = m[train]
        m_test = _categories_aligned(m_train, m[test])
        arm_train, y_train = arm[train], y[train]
        present = np.unique(arm_train)
        if len(present) < 2:
            continue  # one arm only in the other folds: nothing to contrast
        prop = lgb.LGBMClassifier(**_params(seed)).fit(m_train, arm_train)
        e_k = np.zeros((int(test.sum()), n_arms))
        e_k[:, prop.classes_.astype(np.int64)] = prop.predict_proba(m_test)
        e[test] = e_k
        for a in range(n_arms):
            fit = arm_train == a
            if a > 0 and fit.sum() < MIN_ARM_ROWS:
                fit = arm_train > 0  # too rare a format: the outcome model of any targeting training
            if fit.sum() >= MIN_ARM_ROWS:
                reg = lgb.LGBMRegressor(**_params(seed + 1 + a)).fit(m_train[fit], y_train[fit])
                mu[test, a] = reg.predict(m_test)
    return Nuisances(e, mu)


def employee_folds(nips: np.ndarray, n_folds: int, seed: int) -> dict[str, int]:
    """Each employee's fold (a random permutation of the employees, cut in `n_folds`)."""
    unique = np.unique(nips.astype(str))
    order = np.random.default_rng(seed).permutation(len(unique))
    return {str(unique[i]): int(r % n_folds) for r, i in enumerate(order)}


def policy_picks(predictor: object, export: Export, as_of: date, gains: pd.DataFrame | None = None
                 ) -> dict[str, pd.DataFrame]:
    """Rank-1 picks [nip, training_id] as of `as_of` of the model (its `pair_gains`, or `gains` when given,
    e.g. shuffled), the rule and popularity."""
    gains = gains if gains is not None else predictor.pair_gains(export, None, as_of=as_of)  # type: ignore[attr-defined]
    model = predictor.rank_pairs(gains, limit=1)  # type: ignore[attr-defined]
    eligible = eligible_pairs(export, None, as_of)
    return {"model": model[["nip", "training_id"]],
            "rule": rule_picks(export, eligible, as_of, 1)[["nip", "training_id"]],
            "popularity": popularity_picks(export, eligible, as_of, 1)[["nip", "training_id"]]}


def format_arms(pairs: pd.DataFrame) -> dict[str, int]:
    """Arm of each training format: 0 = no training, one arm per format with at least MIN_FORMAT_ROWS
    treated pairs, and one for the rest ("other")."""
    counts = pairs.loc[pairs["t"] == 1, "format"].value_counts()
    common = sorted(counts.index[counts >= MIN_FORMAT_ROWS])
    arms = {f: i + 1 for i, f in enumerate(common)}
    rare = [f for f in counts.index if f not in arms]
    other = len(common) + 1
    arms.update({f: other for f in rare})
    arms[OTHER] = other if rare else 0
    arms[""] = 0
    return arms


def policy_scores(picks: Mapping[str, pd.DataFrame], scores: pd.DataFrame, dr: np.ndarray,
                  arms: Mapping[str, int], export: Export) -> pd.DataFrame:
    """Per (nip, as_of) unit, the mean AIPW score of following each policy's pick (its format's arm) over
    the pick's target competencies that have an outcome; only the units every policy can be scored on.
    `picks` carry an `as_of` column; `dr[row, arm]` is the score of row `row` of `scores` under `arm`."""
    targets = export["training_targets"][["training_id", "competency_id"]].astype(str)
    formats = export["trainings"].astype({"training_id": str}).set_index("training_id")["format"].astype(str)
    keys = ["nip", "as_of"]
    rows = scores[[*keys, "competency_id"]].assign(row=np.arange(len(scores)))
    cols = []
    for name, p in picks.items():
        p = p.astype({"nip": str, "training_id": str}).merge(targets, on="training_id")
        p = p.merge(rows, on=[*keys, "competency_id"])
        arm = p["training_id"].map(formats).map(lambda f: arms.get(f, arms[OTHER])).to_numpy(np.int64)
        p = p.assign(dr=dr[p["row"].to_numpy(np.int64), arm] if len(p) else np.zeros(0))
        cols.append(p.groupby(keys)["dr"].sum().rename(name))
    units = scores[keys].drop_duplicates().set_index(keys)
    return units.join(pd.concat(cols, axis=1), how="left").fillna(0.0).reset_index()


def _per_employee(units: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Unit scores summed per employee with the unit count (the bootstrap resamples employees)."""
    out = units.groupby("nip")[columns].sum()
    return out.assign(n=units.groupby("nip").size()).reset_index()


def _bootstrap(per_employee: pd.DataFrame, columns: list[str], n_boot: int, seed: int
               ) -> dict[str, tuple[float, float]]:
    """95% percentile intervals of the unit means, resampling employees (ratio of sums)."""
    n = len(per_employee)
    if n < 2:
        return {c: (float("nan"), float("nan")) for c in columns}
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
    counts = weights @ per_employee["n"].to_numpy(np.float64)
    out = {}
    for c in columns:
        means = (weights @ per_employee[c].to_numpy(np.float64)) / counts
        lo, hi = np.quantile(means, [0.025, 0.975])
        out[c] = (float(lo), float(hi))
    return out


def placebo(scores: pd.DataFrame, m: pd.DataFrame, folds: np.ndarray, seed: int, n_boot: int
            ) -> dict[str, float]:
    """AIPW effect on competencies no completed training targeted (trained vs untrained), ≈ 0 expected."""
    keep = scores["placebo_t"].to_numpy() >= 0
    t = scores["placebo_t"].to_numpy()[keep]
    nan = float("nan")
    if keep.sum() < 50 or t.min() == t.max():
        return {"placebo_effect": nan, "placebo_effect_lo": nan, "placebo_effect_hi": nan,
                "placebo_n": float(keep.sum())}
    y = scores["y"].to_numpy(np.float64)[keep]
    dr = cross_fit(m[keep].reset_index(drop=True), y, t, folds[keep], 2, seed + 7).score(y, t, np.ones_like(t))
    units = pd.DataFrame({"nip": scores["nip"].to_numpy()[keep], "dr": dr}).dropna()
    lo, hi = _bootstrap(_per_employee(units, ["dr"]), ["dr"], n_boot, seed + 11)["dr"]
    return {"placebo_effect": float(units["dr"].mean()), "placebo_effect_lo": lo, "placebo_effect_hi": hi,
            "placebo_n": float(len(units))}


def policy_evaluation(export: Export, predictor: object, *, dates: list[date] | None = None,
                      gains: Mapping[date, pd.DataFrame] | None = None, n_folds: int = N_FOLDS,
                      n_boot: int = N_BOOTSTRAP, seed: int = 0) -> PolicyEvaluation:
    """Truth-free DR policy values of the predictor (or, per date, of `gains`: its pair gains, e.g.
    shuffled), the rule and popularity baselines, the difference model − rule, overlap and the placebo
    (module docstring), pooled over the evaluation `dates` (default `evaluation_dates`)."""
    export = export.without_protected()
    dates = dates or evaluation_dates(export)
    index = PitIndex.build(export)
    parts = [evaluation_pairs(export, index, day) for day in dates]
    pairs = pd.concat([p for p, _ in parts], ignore_index=True)
    x = pd.concat([f for _, f in parts if len(f)], ignore_index=True)
    if pairs.empty:
        raise ValueError("no assessment pairs to evaluate the policies on")
    m = _matrix(x)
    fold_of = employee_folds(pairs["nip"].to_numpy(), n_folds, seed)
    folds = pairs["nip"].map(fold_of).to_numpy(np.int64)
    arms = format_arms(pairs)
    arm = pairs["format"].map(arms).fillna(0).to_numpy(np.int64)
    y = pairs["y"].to_numpy(np.float64)
    n_arms = max(arms.values(), default=0) + 1
    nuisances = cross_fit(m, y, arm, folds, n_arms, seed)
    dr = np.column_stack([nuisances.score(y, arm, np.full(len(y), a)) for a in range(n_arms)])
    scores = pairs[["nip", "competency_id", "as_of", "y", "t", "format", "placebo_t"]].assign(
        fold=folds, arm=arm, e_treated=1.0 - nuisances.e[:, 0])
    trained_on = {int(k): set(pairs["nip"][folds != k]) for k in np.unique(folds)}
    picks: dict[str, list[pd.DataFrame]] = {name: [] for name in POLICIES}
    for day in dates:
        for name, p in policy_picks(predictor, export, day, (gains or {}).get(day)).items():
            picks[name].append(p.assign(as_of=pd.Timestamp(day)))
    units = policy_scores({k: pd.concat(v, ignore_index=True) for k, v in picks.items()}, scores, dr, arms,
                          export)
    units = units.assign(model_minus_rule=units["model"] - units["rule"])
    columns = [*POLICIES, "model_minus_rule"]
    ci = _bootstrap(_per_employee(units, columns), columns, n_boot, seed)
    mean = {c: float(units[c].mean()) if len(units) else float("nan") for c in columns}
    finite_e = scores["e_treated"].to_numpy(np.float64)
    finite_e = finite_e[np.isfinite(finite_e)]
    format_e = nuisances.e[:, 1:][np.isfinite(nuisances.e[:, 1:])]
    metrics = {
        "policy_value_dr": mean["model"], "policy_value_dr_lo": ci["model"][0],
        "policy_value_dr_hi": ci["model"][1],
        "policy_value_dr_rule": mean["rule"], "policy_value_dr_popularity": mean["popularity"],
        "policy_dr_vs_rule": mean["model_minus_rule"], "policy_dr_vs_rule_lo": ci["model_minus_rule"][0],
        "policy_dr_vs_rule_hi": ci["model_minus_rule"][1],
        "policy_dr_units": float(len(units)), "policy_dr_employees": float(units["nip"].nunique()),
        "policy_dr_pairs": float(len(scores)), "policy_dr_arms": float(n_arms),
        "policy_dr_treated_share": float(scores["t"].mean()),
        "policy_dr_overlap_format_below": float(np.mean(format_e < CLIP[0])) if len(format_e) else float("nan"),
        "policy_dr_overlap_outside": float(np.mean((finite_e < CLIP[0]) | (finite_e > CLIP[1])))
        if len(finite_e) else float("nan"),
    }
    metrics.update(placebo(scores, m, folds, seed, n_boot))
    return PolicyEvaluation(metrics, scores, units, fold_of, trained_on)
