"""Effect of a training on the competencies it targets: the estimators and what they share.

The quantity (INTERFACES.md): the expected gain of training t for employee e is the total gap with the
empty plan minus the total gap with the plan {t}. Every estimator gives, for each (employee, competency,
plan) row, the change τ of the predicted level at the horizon that the plan causes; the Predictor turns
τ into gaps and gains. A training moves only the competencies it targets (`training_targets.csv`):
rows of other competencies have τ = 0. τ is never negative. The X-learner is here, the DR- and R-learners
in `engine.effects_dr`; the final stage, interval, feature sets and course encoding they share in
`engine.effects_base`; the learned pair features of the rows in `features.pair_features`.

- `SLearnerEffect`: the forecasting model itself, fed the plan features (plan = (t,) vs ()):
  τ = level(plan) − level(∅). Consistent with the gap forecast, but the plan features are a small part
  of what a level model learns, so their effect is blurred with everything else it fits.
- `XLearnerEffect`: an X-learner (Künzel et al. 2019) on the training pairs with a course-described
  treatment. Treatment = the pair's plan holds a training targeting the pair's competency. μ0(X), the
  later level without such a training given the history features as of the earlier assessment (never
  plan features), is fitted on the untreated pairs; the imputed effect of each treated pair is
  D1 = Y − μ0(X) (this is what adjusts for who gets trained: people measured low are sent more and
  regress to the mean, and μ0 sees their measured level). The final effect model τ(Z) regresses D1 on
  Z = the course's relation to the employee (in / below / above its band, band distance, targeted JP)
  and the course itself (how many competencies it spreads over, its band width), competency kind and
  horizon, and (feature set "pair") the learned pair features: exact format, job-family
  fit, required share, months since the last course on the competency, the employee's abandonment and
  past gains, distance to the top, and the course's own past effect shrunk toward its format
  (`engine.effects_base`); with monotone constraints (more targeted JP and in-band courses never lower
  τ, a larger band distance never raises it). Feature set "legacy", still the default, is the model
  before issue 13 (the hand-made format groups of `features.pit_index.FORMAT_GROUPS` instead of the
  learned features).
  Choices, each measured against the generator's truth (`training.rec_eval.compare_effect_estimators`;
  exports of 1,000 and 6,000 employees, rank-1 policy value / Spearman over recommended pairs):
  * the untreated side of the X-learner (D0 = μ1(X, w) − Y for a course w drawn among those targeting
    the competency, blended by the propensity: `blend="x"`) is available but off: D0 leans on μ1 at
    courses nobody like them took and overstated courses far from one's band (6,000: 0.898 / 0.674
    against 0.902 / 0.693; 1,000: 0.82 / 0.53 against 0.89 / 0.64);
  * employee moderators (current level and gap, assessment age, SKP, tenure: `moderators=True`) are
    off: the band position already carries the level, and with them the trees split on the employee
    first and then lack rows to learn the band structure (6,000: 0.893 / 0.679);
  * issue 13 (decision benchmark, tuning worlds default, quality_spread, responders, spacing at 800
    employees, 4 years; mean / worst over the worlds of rank-1, top-3, Spearman):
      legacy X-learner (format groups)            0.874/0.845  0.816/0.797  0.608/0.423
      "pair" X-learner, legacy final stage        0.840/0.816  0.775/0.750  0.573/0.501
      "pair" X-learner, regularised stage         0.866/0.849  0.790/0.746  0.604/0.492
      "pair" without the employee features        0.870/0.849  0.795/0.763  0.596/0.429
      "pair_groups" (exact format and groups)     0.863/0.848  0.787/0.735  0.607/0.507
      DR-learner "pair" (`engine.effects_dr`)     0.751/0.656  0.681/0.657  0.445/0.411
      R-learner "pair"                            0.742/0.649  0.716/0.680  0.475/0.417
    Among the learned sets the regularised "pair" has the best sum of the six figures, but "legacy"
    beats it on all three means (and top-3 worst), and on the held-out worlds (transfer, decay,
    format_reversed, hidden_selection, noisy, kitchen_sink, random:1, random:2; mean / worst) legacy
    0.837/0.751 0.769/0.676 0.531/0.366 against "pair" 0.815/0.637 0.748/0.625 0.508/0.369; "pair" also
    breaks the domain rule of tests/model/test_recommendations.py (an in-band course estimated below one
    far under the employee's level). So "legacy" stays the default although its format groups mirror
    our generator; the learned features are available (`feature_set="pair"`) for the next round. The
    DR- and R-learners lose everywhere: the propensity of a course on a competency is small for most
    pairs (about a third below 0.05, clipped), so their pseudo-outcomes are dominated by
    inverse-propensity noise at this size.
  * with the expected gain counting the level's uncertainty (`engine.recommend._gap_closed`), the same
    eight tuning worlds (800 employees, 4 years; mean rank-1 / top-3 / Spearman, worst top-3; one fit per
    world and set, on the bench_decisions exports: `bench_decisions --feature-set` gives the same fits):
      "legacy" (format groups)                     0.909  0.855  0.673  0.829
      "formats" (each exact format, no groups)     0.902  0.849  0.662  0.821
      "formats" + job-family fit, required share
      and the course's shrunk own effect           0.888  0.817  0.646  0.791
      "legacy", band read against the level
      estimated from all assessments               0.908  0.856  0.669  0.811
    so "legacy" stays; "formats" (`feature_set="formats"`) is the set without a hand-made grouping, 0.006
    behind on rank-1, and the band stays read against the latest score.

Interval of τ: the final stage is refitted on `n_bootstrap` cluster-bootstrap resamples (employees drawn
with replacement, nuisances held fixed, so the interval reflects the effect model's estimation
uncertainty, not the measurement noise of a single assessment); the 10th/90th percentiles of the members
give an 80% interval around the full-data point estimate.

`effect` builds Z as a float64 matrix straight from the rows and calls the boosters directly (no
DataFrame round-trips, no sklearn validation): the same numbers as `effect_matrix` + `LGBMRegressor.predict`,
at a fraction of the cost for a request's few hundred rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

from engine.effects_base import (
    COUNTERFACTUAL_COURSE_COLUMNS,
    COURSE_FEATURES,
    EFFECT_FEATURES,
    EFFECT_MONOTONE,
    FEATURE_SETS,
    INTERVAL_QUANTILES,
    KIND_FEATURES,
    MODERATOR_FEATURES,
    NUISANCE_FEATURES,
    PROPENSITY_CLIP,
    TREATMENT_FEATURES,
    EffectLearnerBase,
    NotEnoughHistory,
    Progress,
    effect_matrix,
    group_folds,
    lgb_params,
    nuisance_matrix,
    treated,
)
from engine.gap_model import require_frame
from features.export import Export
from features.pit import PLAN_FEATURES, PitIndex, plan_features

# The feature set of Z the estimators use unless told otherwise (`engine.effects_base`): "legacy" until the
# learned pair features beat it (module docstring: they do not yet, on tuning or held-out worlds).
DEFAULT_FEATURE_SET = "legacy"

__all__ = [
    "COURSE_FEATURES", "DEFAULT_FEATURE_SET", "EFFECT_FEATURES", "EFFECT_MONOTONE", "FEATURE_SETS",
    "INTERVAL_QUANTILES", "KIND_FEATURES", "MODERATOR_FEATURES", "NUISANCE_FEATURES", "PROPENSITY_CLIP",
    "TREATMENT_FEATURES", "NotEnoughHistory", "Progress", "SLearnerEffect", "XLearnerEffect",
    "counterfactual_plan_features", "counterfactual_rows", "course_catalogue", "course_features",
    "effect_matrix", "sample_counterfactual_plans", "treated", "with_courses",
]


def course_catalogue(export: Export) -> pd.DataFrame:
    """Per "training_id|competency_id" target (the index; also as columns): the course's number of targets
    and band width."""
    targets = export["training_targets"][["training_id", "competency_id", "min_level", "max_level"]].astype(
        {"training_id": "str", "competency_id": "str"})
    n_targets = targets.groupby("training_id")["competency_id"].transform("size").astype(np.float64)
    return pd.DataFrame({
        "training_id": targets["training_id"].to_numpy(),
        "competency_id": targets["competency_id"].to_numpy(),
        "n_targets": n_targets.to_numpy(),
        "band_width": (targets["max_level"].astype(np.float64) - targets["min_level"].astype(np.float64) + 1.0
                       ).to_numpy(),
    }, index=pd.Index(targets["training_id"] + "|" + targets["competency_id"], name="key"))


def course_features(catalogue: pd.DataFrame, competency_ids: Sequence[str], plans: Sequence[Sequence[str]]
                    ) -> pd.DataFrame:
    """COURSE_FEATURES per row: the mean over the row's plan courses that target its competency (NaN
    when none does)."""
    n = len(plans)
    lengths = np.fromiter((len(p) for p in plans), dtype=np.int64, count=n)
    row = np.repeat(np.arange(n), lengths)
    ids = np.array([str(t) for p in plans for t in p], dtype=object)
    comps = np.asarray([str(c) for c in competency_ids], dtype=object)[row]
    pos = catalogue.index.get_indexer(pd.Index(ids.astype(str) + "|" + comps.astype(str))) if len(row) else \
        np.zeros(0, dtype=np.int64)
    hit = pos >= 0
    r, pos = row[hit], pos[hit]
    count = np.bincount(r, minlength=n).astype(np.float64)
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for col in ("n_targets", "band_width"):
            values = catalogue[col].to_numpy(np.float64)[pos]
            out[f"course_{col}"] = np.bincount(r, weights=values, minlength=n) / count
    return pd.DataFrame(out)[list(COURSE_FEATURES)]


def with_courses(features: pd.DataFrame, catalogue: pd.DataFrame, plans: Sequence[Sequence[str]] | None = None
                 ) -> pd.DataFrame:
    """`features` with the COURSE_FEATURES of `plans` (default: its `plan` column) and that `plan` column."""
    plans = [tuple(p) for p in (plans if plans is not None else features["plan"])]
    courses = course_features(catalogue, features["competency_id"].astype(str).tolist(), plans)
    out = features.copy()
    for col in COURSE_FEATURES:
        out[col] = courses[col].to_numpy()
    out["plan"] = plans
    return out


def sample_counterfactual_plans(index: PitIndex, competency_ids: Sequence[str], seed: int
                                ) -> list[tuple[str, ...]]:
    """For each row, one training drawn at random among the trainings targeting its competency.

    Rows whose competency no training targets get the empty plan (τ = 0 by definition there).
    """
    rng = np.random.default_rng(seed)
    by_comp = index.targets.groupby("competency_id")["training_id"].agg(lambda s: sorted(set(s)))
    comps = pd.Series(list(competency_ids), dtype="str")
    out: list[tuple[str, ...]] = [()] * len(comps)
    for comp, rows in comps.groupby(comps).groups.items():
        options = by_comp.get(comp)
        if not options:
            continue
        picks = rng.integers(0, len(options), len(rows))
        for r, p in zip(np.asarray(rows), picks, strict=True):
            out[int(r)] = (options[int(p)],)
    return out


def counterfactual_plan_features(index: PitIndex, features: pd.DataFrame, seed: int,
                                 catalogue: pd.DataFrame | None = None) -> pd.DataFrame:
    """PLAN_FEATURES (and COURSE_FEATURES with `catalogue`, and `plan`) of one training per row, drawn among
    those targeting its competency (same index)."""
    comp_code = index.competencies["code"].reindex(features["competency_id"].astype("str")).to_numpy()
    plans = sample_counterfactual_plans(index, features["competency_id"].astype("str").tolist(), seed)
    current = features["current_level"].to_numpy(np.float64)
    w = plan_features(index, comp_code.astype(np.int64), current, plans)
    out = pd.DataFrame(w, index=features.index)[list(PLAN_FEATURES)]
    out["competency_id"] = features["competency_id"].to_numpy()
    if catalogue is not None:
        out = with_courses(out, catalogue, plans)
    else:
        out["plan"] = plans
    return out.drop(columns=["competency_id"])


class XLearnerEffect(EffectLearnerBase):
    """The X-learner of the module docstring; `fit` then `effect` (τ with an 80% interval).

    A scikit-learn estimator: `__init__` stores the parameters, `fit` learns `model_`, `members_` (the
    bootstrap refits), `diagnostics_`, `effect_features_`, `course_encoding_`, `n_features_in_` and
    `feature_names_in_`. `blend="treated"` (default) fits the final stage on the treated side's imputed
    effects D1 only; `blend="x"` adds the untreated side's D0 with the X-learner's propensity blend.
    `moderators=False` (default) leaves the employee moderators out of the final stage, keeping the horizon.
    `feature_set` chooses Z (`engine.effects_base`), `shrinkage` the k of the course encoding, and
    `final_params` overrides the final stage's LightGBM parameters.
    """

    name = "x_learner"

    def __init__(self, seed: int = 0, n_bootstrap: int = 8, n_folds: int = 3, blend: str = "treated",
                 moderators: bool = False, feature_set: str = DEFAULT_FEATURE_SET,
                 drop_features: tuple[str, ...] = (), shrinkage: float = 30.0,
                 final_params: dict[str, Any] | None = None) -> None:
        self.seed = seed
        self.n_bootstrap = n_bootstrap
        self.n_folds = n_folds
        self.blend = blend
        self.moderators = moderators
        self.feature_set = feature_set
        self.drop_features = drop_features
        self.shrinkage = shrinkage
        self.final_params = final_params

    def fit(self, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None = None,
            counterfactual: pd.DataFrame | None = None, progress: Progress | None = None) -> XLearnerEffect:
        """Fit on training pairs: `X` from `build_features` (with each pair's plan, its course features:
        `with_courses`, and its pair features: `features.pair_features.with_pair_features`), `y` the later
        level, `groups` the employee of each row (folds and bootstrap resample employees; default: every
        row its own group), and for `blend="x"` `counterfactual`, the plan and course features of one
        training each row could have taken (`counterfactual_plan_features`). Returns self."""
        if self.blend not in ("treated", "x"):
            raise ValueError(f"blend must be 'treated' or 'x', not {self.blend!r}")
        features = require_frame(X, "XLearnerEffect")
        say = progress or (lambda _m: None)
        y = np.asarray(y, dtype=np.float64)
        t = treated(features)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        if t.sum() < 50 or (~t).sum() < 50:
            raise NotEnoughHistory(f"too few treated ({t.sum()}) or untreated ({(~t).sum()}) pairs for an "
                                   "X-learner")
        categories = self._start(features)
        x = nuisance_matrix(features, categories)

        say(f"effect model: outcome without training, on {int((~t).sum()):,} of {len(x):,} pairs "
            f"({t.mean():.1%} trained)")
        mu0 = lgb.LGBMRegressor(**lgb_params(self.seed + 11)).fit(x[~t], y[~t])
        d1 = y[t] - mu0.predict(x[t])
        rows, d, weight, row_groups = features[t], d1, np.ones(int(t.sum())), groups[t]
        self.diagnostics_ = {"pairs": float(len(features)), "treated_share": float(t.mean()),
                             "mean_d1": float(d1.mean())}
        if self.blend == "x":
            if counterfactual is None:
                raise ValueError("blend='x' needs the counterfactual plan features")
            rows, d, weight, row_groups = self._blend(x, features, y, t, groups, counterfactual, d1, say)
        self._fit_final(rows.reset_index(drop=True), d, weight, row_groups, say)
        return self

    def _blend(self, x: pd.DataFrame, features: pd.DataFrame, y: np.ndarray, t: np.ndarray,
               groups: np.ndarray, counterfactual: pd.DataFrame, d1: np.ndarray, say: Progress
               ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
        """Both sides of the X-learner, weighted so that one regression gives e·τ0 + (1 − e)·τ1."""
        say("effect model: propensity of training (cross-fitted) and outcome with training")
        folds = group_folds(groups, self.n_folds, self.seed)
        propensity = np.empty(len(x))
        for k in range(self.n_folds):
            fit_rows, out_rows = folds != k, folds == k
            clf = lgb.LGBMClassifier(**lgb_params(self.seed + k))
            clf.fit(x[fit_rows], t[fit_rows])
            propensity[out_rows] = np.asarray(clf.predict_proba(x[out_rows]))[:, 1]
        propensity = np.clip(propensity, *PROPENSITY_CLIP)
        xw = pd.concat([x, features[list(TREATMENT_FEATURES)].astype(np.float64)], axis=1)
        mu1 = lgb.LGBMRegressor(**lgb_params(self.seed + 12)).fit(xw[t], y[t])
        # Untreated pairs: what one training they could have taken would have done (μ1 at its W).
        untreated = np.flatnonzero(~t)
        cf = counterfactual_rows(features.iloc[untreated], counterfactual.iloc[untreated])
        has_w = treated(cf)
        xw0 = pd.concat([x.iloc[untreated], cf[list(TREATMENT_FEATURES)].astype(np.float64)], axis=1)
        d0 = (mu1.predict(xw0) - y[untreated])[has_w]
        e_t, e_u = propensity[t], propensity[untreated][has_w]
        self.diagnostics_.update(propensity_min=float(propensity.min()),
                                 propensity_max=float(propensity.max()),
                                 mean_d0=float(d0.mean()) if len(d0) else float("nan"))
        rows = pd.concat([features[t], cf[has_w]], ignore_index=True)
        weight = np.concatenate([(1.0 - e_t) / e_t, e_u / (1.0 - e_u)])
        return rows, np.concatenate([d1, d0]), weight, np.concatenate([groups[t], groups[untreated][has_w]])


def counterfactual_rows(features: pd.DataFrame, counterfactual: pd.DataFrame) -> pd.DataFrame:
    """`features` with the plan and course columns of `counterfactual` (same rows, by position): the same
    employees as of the same dates, each with the one training they could have taken."""
    cf = features.copy()
    for col in PLAN_FEATURES + COUNTERFACTUAL_COURSE_COLUMNS:
        if col in counterfactual.columns:
            cf[col] = counterfactual[col].to_numpy()
    return cf


class SLearnerEffect(BaseEstimator):
    """τ = level(plan) − level(∅) from the forecasting model itself (a `GapModel`, fitted with the plan
    features). The interval is the change of the model's own interval ends: [min, max] of
    (lower(plan) − lower(∅), upper(plan) − upper(∅)), widened to contain τ.

    The level model is given fitted and the S-learner learns nothing of its own, so it is ready as soon
    as it is made (as `sklearn.frozen.FrozenEstimator` makes a fitted estimator ready): `fit` only checks
    that the level model is fitted, and returns self. `clone` clones the level model, as it does every
    estimator parameter, so a clone is unfitted, unless the level model is wrapped in
    `FrozenEstimator(level_model)`, whose clone is itself.
    """

    name = "s_learner"

    def __init__(self, level_model: Any = None) -> None:
        self.level_model = level_model

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # usable as made: the level model is fitted already
        tags.no_validation = True  # fit ignores X: the level model validates the rows it predicts
        tags.target_tags.required = False
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        """Fitted when it holds a fitted level model (any object with `predict` counts as fitted, unless
        it is an unfitted scikit-learn estimator)."""
        if self.level_model is None:
            return False
        if not hasattr(self.level_model, "fit"):
            return True
        try:
            check_is_fitted(self.level_model)
        except NotFittedError:
            return False
        return True

    def fit(self, X: Any = None, y: Any = None, **fit_params: Any) -> SLearnerEffect:
        """Nothing to learn: checks that the level model is there and fitted; returns self."""
        if self.level_model is None:
            raise ValueError("SLearnerEffect needs a fitted level model")
        self._require_level_model()
        return self

    def _require_level_model(self) -> None:
        # check_is_fitted(self) would pass whatever the level model: the tags say no fit is required.
        if not self.__sklearn_is_fitted__():
            raise NotFittedError("SLearnerEffect needs a fitted level model (FrozenEstimator(model) keeps a "
                                 "fitted one through clone)")

    def effect(self, plan_rows: pd.DataFrame, base_rows: pd.DataFrame | None = None,
               base_prediction: pd.DataFrame | None = None, interval: bool = True
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(τ, lower, upper) for rows with a plan, given the same rows with the empty plan (or their
        prediction, to save one predict); the interval comes with the point at no extra cost."""
        self._require_level_model()
        if base_prediction is None:
            if base_rows is None:
                raise ValueError("SLearnerEffect needs the rows without the plan or their prediction")
            base_prediction = self.level_model.predict(base_rows)
        n = len(plan_rows)
        aims = treated(plan_rows)
        tau, lo, hi = np.zeros(n), np.zeros(n), np.zeros(n)
        if not aims.any():
            return tau, lo, hi
        p = self.level_model.predict(plan_rows[aims])
        b = base_prediction[aims] if len(base_prediction) == n else base_prediction
        change = p["predicted_level"].to_numpy() - b["predicted_level"].to_numpy()
        d_lo = p["lower"].to_numpy() - b["lower"].to_numpy()
        d_hi = p["upper"].to_numpy() - b["upper"].to_numpy()
        tau[aims] = np.maximum(change, 0.0)
        lo[aims] = np.clip(np.minimum(d_lo, d_hi), 0.0, None)
        hi[aims] = np.maximum(np.maximum(d_lo, d_hi), 0.0)
        return tau, np.minimum(lo, tau), np.maximum(hi, tau)
