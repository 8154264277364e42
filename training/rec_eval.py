"""Recommendations judged against the generator's ground truth (`DIR/truth/effects.csv`), and baselines.

Metrics (all over active employees, from the export's as-of date at the default horizon):
- ``policy_value_top{k}``: (mean true gain of the top-k picks − mean true gain of k random eligible
  picks) / (mean true gain of the oracle's top-k − random). 1 is the oracle, 0 is chance. A list
  shorter than k (the product never pads) counts the missing picks as gain 0, and so do the random and
  oracle lists of an employee with fewer than k eligible trainings. Employees whose oracle gain is 0
  (nothing eligible closes any gap: every policy ties) are left out, because they carry no information
  about ranking and would only dilute the ratio. The random value is computed exactly (the mean over
  the eligible set), not sampled.
- the same for two baselines: ``popularity`` (the most attended eligible trainings, by the number of
  people who completed them on or before the as-of date) and ``rule`` (the cheapest eligible trainings
  targeting the competency with the largest current gap, whose band contains the current level; then
  the next largest gap, and so on);
- ``spearman_recommended`` / ``spearman_eligible``: rank correlation of estimated vs true gain over the
  recommended pairs and over every eligible pair;
- ``ndcg_at_5`` against the true gains (linear gain, the ideal list from the truth);
- ``coverage``: share of active trainings recommended to at least one employee.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from engine.effects import SLearnerEffect
from engine.predictor import Predictor
from features.constants import ACTIVE_STATUS, ASSESSMENT_METHODS, TRUTH_EFFECTS_COLUMNS
from features.eligibility import eligible_pairs
from features.export import Export
from features.io import read_export
from training.fit import fit_effect_model, fit_predictor, training_data

ZERO_GAIN = 1e-9  # an oracle gain at or below this is "nothing to gain"


class _Ranker(Protocol):
    def pair_gains(self, export: Export, nips: Any = None, *, as_of: date | None = None,
                   horizon_months: int = 12, detail: bool = False) -> pd.DataFrame: ...

    def rank_pairs(self, pairs: pd.DataFrame, *, limit: int | None) -> pd.DataFrame: ...


def read_truth_effects(truth_dir: Path | str) -> pd.DataFrame:
    """`truth/effects.csv` (or the folder holding it) as DataFrame[nip, training_id, expected_gain]."""
    path = Path(truth_dir)
    if path.is_dir():
        path = path / "effects.csv" if (path / "effects.csv").exists() else path / "truth" / "effects.csv"
    df = pd.read_csv(path, dtype={"nip": "str", "training_id": "str"})
    return df[list(TRUTH_EFFECTS_COLUMNS)].astype({"expected_gain": "float64"})


# ---------------------------------------------------------------------------------------------------
# Metrics on picks
# ---------------------------------------------------------------------------------------------------
def _with_truth(picks: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Picks [nip, rank, training_id] with their true gain (0 for a pair the truth does not list)."""
    out = picks[["nip", "rank", "training_id"]].merge(truth, on=["nip", "training_id"], how="left")
    return out.assign(expected_gain=out["expected_gain"].fillna(0.0))


def informative_employees(truth: pd.DataFrame) -> pd.Index:
    """Employees with something to gain (oracle gain > 0): the population of policy value and NDCG."""
    best = truth.groupby("nip")["expected_gain"].max()
    return pd.Index(best.index[best > ZERO_GAIN])


def policy_value(picks: pd.DataFrame, truth: pd.DataFrame, k: int) -> float:
    """Normalised policy value of the top-k picks (see the module docstring); NaN if nobody can gain."""
    nips = informative_employees(truth)
    if len(nips) == 0:
        return float("nan")
    t = truth[truth["nip"].isin(nips)]
    p = _with_truth(picks[(picks["rank"] <= k) & picks["nip"].isin(nips)], t)
    picked = p.groupby("nip")["expected_gain"].sum().reindex(nips, fill_value=0.0) / k
    grouped = t.groupby("nip")["expected_gain"]
    n_eligible = grouped.size().reindex(nips)
    random = grouped.mean().reindex(nips) * np.minimum(n_eligible, k) / k
    oracle = (t.sort_values("expected_gain", ascending=False).groupby("nip").head(k)
              .groupby("nip")["expected_gain"].sum().reindex(nips) / k)
    denominator = float(oracle.mean() - random.mean())
    if denominator <= ZERO_GAIN:
        return float("nan")
    return float((picked.mean() - random.mean()) / denominator)


def ndcg(picks: pd.DataFrame, truth: pd.DataFrame, k: int = 5) -> float:
    """Mean NDCG@k of the picks against the true gains, over employees with something to gain."""
    nips = informative_employees(truth)
    if len(nips) == 0:
        return float("nan")
    t = truth[truth["nip"].isin(nips)]
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    p = _with_truth(picks[(picks["rank"] <= k) & picks["nip"].isin(nips)], t)
    p = p.assign(w=p["expected_gain"] * discount[p["rank"].to_numpy(dtype=np.int64) - 1])
    dcg = p.groupby("nip")["w"].sum().reindex(nips, fill_value=0.0)
    ideal = t.sort_values("expected_gain", ascending=False).groupby("nip").head(k)
    ideal = ideal.assign(r=ideal.groupby("nip").cumcount())
    weighted = ideal["expected_gain"] * discount[ideal["r"].to_numpy()]
    idcg = weighted.groupby(ideal["nip"]).sum().reindex(nips)
    return float((dcg / idcg).mean())


def spearman(estimated: pd.DataFrame, truth: pd.DataFrame) -> float:
    """Spearman correlation of estimated vs true gain over the pairs of `estimated` that the truth lists."""
    both = estimated[["nip", "training_id", "expected_gain"]].merge(
        truth, on=["nip", "training_id"], suffixes=("_est", "_true"))
    if len(both) < 3 or both["expected_gain_true"].nunique() < 2 or both["expected_gain_est"].nunique() < 2:
        return float("nan")
    return float(spearmanr(both["expected_gain_est"], both["expected_gain_true"]).statistic)


def coverage(picks: pd.DataFrame, export: Export) -> float:
    """Share of active trainings recommended to at least one employee."""
    trainings = export["trainings"]
    active = set(trainings.loc[trainings["active"].astype(bool), "training_id"].astype(str))
    if not active:
        return float("nan")
    return len(active & set(picks["training_id"].astype(str))) / len(active)


def _ranked(df: pd.DataFrame, score: str, ascending: bool, limit: int) -> pd.DataFrame:
    """Top `limit` rows per nip by `score` (ties: training_id), as [nip, rank, training_id]."""
    df = df.sort_values(["nip", score, "training_id"], ascending=[True, ascending, True], kind="stable")
    df = df.groupby("nip", sort=False).head(limit)
    return df.assign(rank=df.groupby("nip", sort=False).cumcount() + 1)[["nip", "rank", "training_id"]]


# ---------------------------------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------------------------------
def popularity_picks(export: Export, eligible: pd.DataFrame, as_of: date, limit: int = 5) -> pd.DataFrame:
    """The most attended eligible trainings (people who completed them by `as_of`), per employee."""
    records = export["training_records"]
    done = records[(records["status"] == "selesai") & (records["completed_on"] <= pd.Timestamp(as_of))]
    attended = done.drop_duplicates(["nip", "training_id"]).groupby("training_id").size()
    scored = eligible.assign(attended=eligible["training_id"].map(attended).fillna(0).astype("float64"))
    return _ranked(scored, "attended", ascending=False, limit=limit)


def current_levels(export: Export, as_of: date) -> pd.DataFrame:
    """Latest assessed level per (nip, competency_id) on or before `as_of` (same day: trust order)."""
    a = export["assessments"]
    a = a[a["assessed_on"] <= pd.Timestamp(as_of)]
    trust = a["method"].astype("object").map({m: i for i, m in enumerate(ASSESSMENT_METHODS)})
    a = a.assign(_trust=trust.fillna(len(ASSESSMENT_METHODS)))
    a = a.sort_values(["assessed_on", "_trust"], ascending=[False, True], kind="stable")
    return a.drop_duplicates(["nip", "competency_id"])[["nip", "competency_id", "level"]]


def rule_picks(export: Export, eligible: pd.DataFrame, as_of: date, limit: int = 5) -> pd.DataFrame:
    """The HR rule of thumb: for the largest current gap first, the cheapest eligible in-band training."""
    employees = export["employees"][["nip", "position_id"]]
    standards = export["position_standards"][["position_id", "competency_id", "required_level"]]
    gaps = employees.merge(standards, on="position_id").merge(current_levels(export, as_of),
                                                              on=["nip", "competency_id"])
    gaps = gaps.assign(current_gap=gaps["required_level"].astype("float64") - gaps["level"])
    gaps = gaps[gaps["current_gap"] > 0]
    targets = export["training_targets"][["training_id", "competency_id", "min_level", "max_level"]]
    cost = export["trainings"].set_index("training_id")["cost_idr"].astype("float64")
    options = eligible.merge(targets, on="training_id").merge(gaps, on=["nip", "competency_id"])
    in_band = (options["level"] >= options["min_level"].astype("float64")) & (
        options["level"] < options["max_level"].astype("float64") + 1)
    options = options[in_band].assign(cost=lambda d: d["training_id"].map(cost))
    options = options.sort_values(["nip", "current_gap", "cost", "training_id"],
                                  ascending=[True, False, True, True], kind="stable")
    options = options.drop_duplicates(["nip", "training_id"]).groupby("nip", sort=False).head(limit)
    options = options.assign(rank=options.groupby("nip", sort=False).cumcount() + 1)
    return options[["nip", "rank", "training_id"]]


# ---------------------------------------------------------------------------------------------------
# The whole evaluation
# ---------------------------------------------------------------------------------------------------
def _policy_metrics(prefix: str, picks: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    return {f"{prefix}policy_value_top1": policy_value(picks, truth, 1),
            f"{prefix}policy_value_top3": policy_value(picks, truth, 3),
            f"{prefix}ndcg_at_5": ndcg(picks, truth, 5)}


def evaluate_recommendations(predictor: _Ranker, export: Export, truth_dir: Path | str, *,
                             limit: int = 5, as_of: date | None = None) -> dict[str, float]:
    """Every metric of the module docstring for `predictor` and the two baselines, as one flat dict."""
    as_of = as_of or export.exported_on
    truth = read_truth_effects(truth_dir)
    employees = export["employees"]
    active = set(employees.loc[employees["status"] == ACTIVE_STATUS, "nip"].astype(str))
    truth = truth[truth["nip"].isin(active)]

    gains = predictor.pair_gains(export, None, as_of=as_of)
    recommended = predictor.rank_pairs(gains, limit=limit)
    eligible = eligible_pairs(export, None, as_of)

    metrics: dict[str, float] = {}
    metrics.update(_policy_metrics("", recommended, truth))
    metrics.update(_policy_metrics("popularity_", popularity_picks(export, eligible, as_of, limit), truth))
    metrics.update(_policy_metrics("rule_", rule_picks(export, eligible, as_of, limit), truth))
    metrics["spearman_recommended"] = spearman(recommended, truth)
    metrics["spearman_eligible"] = spearman(gains, truth)
    metrics["coverage"] = coverage(recommended, export)
    ours = set(zip(eligible["nip"], eligible["training_id"], strict=True))
    theirs = set(zip(truth["nip"], truth["training_id"], strict=True))
    metrics["eligibility_agreement"] = len(ours & theirs) / max(len(ours | theirs), 1)
    metrics["recommended_ineligible"] = float(len(set(zip(recommended["nip"], recommended["training_id"],
                                                          strict=True)) - ours))
    metrics["employees_evaluated"] = float(len(informative_employees(truth)))
    metrics["employees_with_recommendations"] = float(recommended["nip"].nunique())
    return metrics


ESTIMATORS = ("x_learner", "x_learner_blend", "s_learner")


def compare_effect_estimators(export: Export, truth_dir: Path | str, *, seed: int = 0,
                              progress: Callable[[str], None] | None = None,
                              fit_params: dict[str, Any] | None = None) -> dict[str, float]:
    """Fit the predictor (gap model + the default X-learner), then, on the same gap model, the X-learner
    with both sides blended (`blend="x"`) and the S-learner, and evaluate all three against the truth:
    `{estimator}_{metric}` for every metric, plus `x_learner_wins` (1.0 when the default X-learner is at
    least as good as both others on the rank-1 policy value and on the Spearman over recommended pairs,
    the rule by which `fit_predictor`'s default was chosen)."""

    say = progress or (lambda _m: None)
    data = training_data(export, progress=progress)
    params = dict(fit_params or {})
    x_learner = fit_predictor(export, seed=seed, progress=progress, data=data, **params)
    blend = fit_effect_model(export, data, seed=seed, progress=progress,
                             params={**params.get("effect_params", {}), "blend": "x"})
    predictors = {
        "x_learner": x_learner,
        "x_learner_blend": Predictor(x_learner.gap_model, blend, dict(x_learner.metadata)),
        "s_learner": Predictor(x_learner.gap_model, SLearnerEffect(x_learner.gap_model),
                               dict(x_learner.metadata, effect_estimator="s_learner")),
    }
    out: dict[str, float] = {}
    for name, predictor in predictors.items():
        say(f"evaluating the {name} against the truth")
        metrics = evaluate_recommendations(predictor, export, truth_dir)
        out.update({f"{name}_{k}": v for k, v in metrics.items()})
    wins = all(out[f"x_learner_{m}"] >= out[f"{other}_{m}"]
               for m in ("policy_value_top1", "spearman_recommended") for other in ESTIMATORS[1:])
    out["x_learner_wins"] = float(wins)
    return out


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - a measurement script
    """`python -m training.rec_eval EXPORT_DIR [--seed S] [--compare]`: print the metrics of a freshly
    fitted predictor (or of both effect estimators) on a generated export with its truth."""


    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("export_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare", action="store_true", help="compare the X- and S-learner")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"  … {message} ({time.perf_counter() - started:.0f} s)", flush=True)

    export = read_export(args.export_dir)
    truth = args.export_dir / "truth"
    if args.compare:
        metrics = compare_effect_estimators(export, truth, seed=args.seed, progress=say)
    else:
        metrics = evaluate_recommendations(fit_predictor(export, seed=args.seed, progress=say), export, truth)
    for name, value in metrics.items():
        print(f"{name:45s} {value:.4f}")


if __name__ == "__main__":  # pragma: no cover
    main()
