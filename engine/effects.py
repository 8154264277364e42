"""Effect of a training on the competencies it targets: two estimators and what they share.

The quantity (INTERFACES.md): the expected gain of training t for employee e is the total gap with the
empty plan minus the total gap with the plan {t}. Both estimators give, for each (employee, competency,
plan) row, the change τ of the predicted level at the horizon that the plan causes; the Predictor turns
τ into gaps and gains. A training moves only the competencies it targets (`training_targets.csv`):
rows of other competencies have τ = 0. τ is never negative.

- `SLearnerEffect`: the forecasting model itself, fed the plan features (plan = (t,) vs ()):
  τ = level(plan) − level(∅). Consistent with the gap forecast, but the plan features are a small part
  of what a level model learns, so their effect is blurred with everything else it fits.
- `XLearnerEffect`: an X-learner (Künzel et al. 2019) on the training pairs with a course-described
  treatment. Treatment = the pair's plan holds a training targeting the pair's competency. μ0(X), the
  later level without such a training given the history features as of the earlier assessment (never
  plan features), is fitted on the untreated pairs; the imputed effect of each treated pair is
  D1 = Y − μ0(X) (this is what adjusts for who gets trained: people measured low are sent more and
  regress to the mean, and μ0 sees their measured level). The final effect model τ(Z) regresses D1 on
  Z = the course's relation to the employee (in / below / above its band, band distance, targeted JP,
  format group) and the course itself (how many competencies it spreads over, its band width), plus
  competency kind and horizon, with monotone constraints (more targeted JP and in-band courses never
  lower τ, a larger band distance never raises it).
  Choices, each measured against the generator's truth (`training.rec_eval.compare_effect_estimators`;
  exports of 1,000 and 6,000 employees, rank-1 policy value / Spearman over recommended pairs):
  * the untreated side of the X-learner (D0 = μ1(X, w) − Y for a course w drawn among those targeting
    the competency, blended by the propensity: `blend="x"`) is available but off: D0 leans on μ1 at
    courses nobody like them took and overstated courses far from one's band (6,000: 0.898 / 0.674
    against 0.902 / 0.693; 1,000: 0.82 / 0.53 against 0.89 / 0.64);
  * employee moderators (current level and gap, assessment age, SKP, tenure: `moderators=True`) are
    off: the band position already carries the level, and with them the trees split on the employee
    first and then lack rows to learn the band structure (6,000: 0.893 / 0.679);
  * the exact format (8 one-hots) added nothing on 6,000 employees and, on 1,000, learnt the noise of
    the few participants of rare formats (in-band workshops estimated at ~0): the format group stays.

Interval of τ: the final stage is refitted on `n_bootstrap` cluster-bootstrap resamples (employees drawn
with replacement, nuisances held fixed, so the interval reflects the effect model's estimation
uncertainty, not the measurement noise of a single assessment); the 10th/90th percentiles of the members
give an 80% interval around the full-data point estimate.

`effect` builds Z as a float64 matrix straight from the rows and calls the boosters directly (no
DataFrame round-trips, no sklearn validation): the same numbers as `effect_matrix` + `LGBMRegressor.predict`,
at a fraction of the cost for a request's few hundred rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

from engine.gap_model import booster_threads, float_matrix, require_frame
from features.constants import COMPETENCY_KINDS
from features.export import Export
from features.pit import CATEGORICAL_FEATURES, HISTORY_FEATURES, PLAN_FEATURES, PitIndex, plan_features

# What describes the training relative to the employee (the "W" of the X-learner).
TREATMENT_FEATURES: tuple[str, ...] = (
    "plan_n_targeting", "plan_jp_targeting", "plan_n_in_band", "plan_n_below_band", "plan_n_above_band",
    "plan_band_distance", "plan_n_classroom", "plan_n_online", "plan_n_workplace",
)
# Who gains more from the same training (moderators), all known at the as-of date.
MODERATOR_FEATURES: tuple[str, ...] = (
    "current_level", "current_gap", "required_level", "level_age_months", "never_assessed", "horizon_months",
    "n_assessments", "level_trend", "skp_percentile", "education_rank", "tenure_years",
)
KIND_FEATURES: tuple[str, ...] = tuple(f"kind_{k}" for k in COMPETENCY_KINDS)
# The course itself, from the catalogue (mean over the plan's courses that target the competency): how
# many competencies it spreads over and how wide its level band is.
COURSE_FEATURES: tuple[str, ...] = ("course_n_targets", "course_band_width")
EFFECT_FEATURES: tuple[str, ...] = TREATMENT_FEATURES + COURSE_FEATURES + MODERATOR_FEATURES + KIND_FEATURES
EFFECT_MONOTONE: dict[str, int] = {
    "plan_n_targeting": 1, "plan_jp_targeting": 1, "plan_n_in_band": 1, "plan_band_distance": -1,
}
NUISANCE_FEATURES: tuple[str, ...] = CATEGORICAL_FEATURES + HISTORY_FEATURES
PROPENSITY_CLIP = (0.05, 0.95)  # bounds the blend weights at 19
INTERVAL_QUANTILES = (0.1, 0.9)

Progress = Callable[[str], None]


class NotEnoughHistory(ValueError):
    """The training pairs hold too few trained (or untrained) cases to estimate an effect from."""


def treated(features: pd.DataFrame) -> np.ndarray:
    """The treatment of a training pair: its plan holds a training that targets its competency."""
    return features["plan_n_targeting"].to_numpy(dtype=np.float64) > 0


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


def effect_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """The final stage's inputs Z from `build_features` rows (numeric, competency kind one-hot); course
    features that are absent are missing values."""
    z = features[list(TREATMENT_FEATURES + MODERATOR_FEATURES)].astype(np.float64)
    for col in COURSE_FEATURES:
        z[col] = features[col].astype(np.float64).to_numpy() if col in features.columns else np.nan
    kind = features["competency_kind"].astype("str").to_numpy()
    for k, name in zip(COMPETENCY_KINDS, KIND_FEATURES, strict=True):
        z[name] = (kind == k).astype(np.float64)
    return z[list(EFFECT_FEATURES)]


def _nuisance_matrix(features: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    x = features[list(NUISANCE_FEATURES)].copy()
    for col in CATEGORICAL_FEATURES:
        x[col] = pd.Categorical(x[col].astype("str").to_numpy(), categories=categories[col])
    return x


def _lgb_params(seed: int, **extra: Any) -> dict[str, Any]:
    # Small, regularised forests: the nuisances only need to be good on average, and the final stage is
    # refitted many times for the bootstrap. n_jobs=1 keeps a fit from fighting the server for cores.
    params: dict[str, Any] = dict(n_estimators=200, learning_rate=0.05, num_leaves=31, min_child_samples=50,
                                  subsample=0.8, subsample_freq=1, colsample_bytree=0.9, reg_lambda=1.0,
                                  random_state=seed, n_jobs=1, verbose=-1)
    params.update(extra)
    return params


def _group_folds(groups: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """A fold number per row, the same for every row of one employee."""
    uniques, inverse = np.unique(groups, return_inverse=True)
    fold_of_group = np.random.default_rng(seed).integers(0, n_folds, len(uniques))
    return fold_of_group[inverse]


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


class XLearnerEffect(BaseEstimator):
    """The X-learner of the module docstring; `fit` then `effect` (τ with an 80% interval).

    A scikit-learn estimator: `__init__` stores the parameters, `fit` learns `model_`, `members_` (the
    bootstrap refits), `diagnostics_`, `effect_features_`, `n_features_in_` and `feature_names_in_`.
    `blend="treated"` (default) fits the final stage on the treated side's imputed effects D1 only;
    `blend="x"` adds the untreated side's D0 with the X-learner's propensity blend. `moderators=False`
    (default) leaves the employee moderators out of the final stage, keeping the horizon.
    `final_params` overrides the final stage's LightGBM parameters.
    """

    name = "x_learner"

    def __init__(self, seed: int = 0, n_bootstrap: int = 8, n_folds: int = 3, blend: str = "treated",
                 moderators: bool = False, final_params: dict[str, Any] | None = None) -> None:
        self.seed = seed
        self.n_bootstrap = n_bootstrap
        self.n_folds = n_folds
        self.blend = blend
        self.moderators = moderators
        self.final_params = final_params

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing history features are NaN; LightGBM handles them
        tags.input_tags.string = True  # competency_kind and the categorical features are text
        tags.target_tags.required = True
        return tags

    def fit(self, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None = None,
            counterfactual: pd.DataFrame | None = None, progress: Progress | None = None) -> XLearnerEffect:
        """Fit on training pairs: `X` from `build_features` (with each pair's plan, and its course
        features: `with_courses`), `y` the later level, `groups` the employee of each row (folds and
        bootstrap resample employees; default: every row its own group), and for `blend="x"`
        `counterfactual`, the plan and course features of one training each row could have taken
        (`counterfactual_plan_features`). Returns self."""
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
        self.n_features_in_ = features.shape[1]
        self.feature_names_in_ = np.asarray(features.columns, dtype=object)
        self.effect_features_ = self.feature_names
        categories = {c: sorted(features[c].astype("str").unique()) for c in CATEGORICAL_FEATURES}
        x = _nuisance_matrix(features, categories)

        say(f"effect model: outcome without training, on {int((~t).sum()):,} of {len(x):,} pairs "
            f"({t.mean():.1%} trained)")
        mu0 = lgb.LGBMRegressor(**_lgb_params(self.seed + 11)).fit(x[~t], y[~t])
        d1 = y[t] - mu0.predict(x[t])
        z, d, weight, row_groups = self._z(features[t]), d1, np.ones(int(t.sum())), groups[t]
        self.diagnostics_ = {"pairs": float(len(features)), "treated_share": float(t.mean()),
                             "mean_d1": float(d1.mean())}
        if self.blend == "x":
            if counterfactual is None:
                raise ValueError("blend='x' needs the counterfactual plan features")
            z, d, weight, row_groups = self._blend(x, features, y, t, groups, counterfactual, d1, say)

        say(f"effect model: final stage on {len(z):,} imputed effects, {self.n_bootstrap} bootstrap refits")
        self.model_ = self._final(self.seed + 20).fit(z, d, sample_weight=weight)
        rng = np.random.default_rng(self.seed + 21)
        uniques, inverse = np.unique(row_groups, return_inverse=True)
        self.members_ = []
        for b in range(self.n_bootstrap):
            draws = np.bincount(rng.integers(0, len(uniques), len(uniques)), minlength=len(uniques))
            w_b = weight * draws[inverse]
            keep = w_b > 0
            member = self._final(self.seed + 30 + b).fit(z[keep], d[keep], sample_weight=w_b[keep])
            self.members_.append(member)
        return self

    def _blend(self, x: pd.DataFrame, features: pd.DataFrame, y: np.ndarray, t: np.ndarray,
               groups: np.ndarray, counterfactual: pd.DataFrame, d1: np.ndarray, say: Progress
               ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
        """Both sides of the X-learner, weighted so that one regression gives e·τ0 + (1 − e)·τ1."""
        say("effect model: propensity of training (cross-fitted) and outcome with training")
        folds = _group_folds(groups, self.n_folds, self.seed)
        propensity = np.empty(len(x))
        for k in range(self.n_folds):
            fit_rows, out_rows = folds != k, folds == k
            clf = lgb.LGBMClassifier(**_lgb_params(self.seed + k))
            clf.fit(x[fit_rows], t[fit_rows])
            propensity[out_rows] = np.asarray(clf.predict_proba(x[out_rows]))[:, 1]
        propensity = np.clip(propensity, *PROPENSITY_CLIP)
        xw = pd.concat([x, features[list(TREATMENT_FEATURES)].astype(np.float64)], axis=1)
        mu1 = lgb.LGBMRegressor(**_lgb_params(self.seed + 12)).fit(xw[t], y[t])
        # Untreated pairs: what one training they could have taken would have done (μ1 at its W).
        untreated = np.flatnonzero(~t)
        cf = features.iloc[untreated].copy()
        for col in PLAN_FEATURES + COURSE_FEATURES:
            if col in counterfactual.columns:
                cf[col] = counterfactual[col].to_numpy()[untreated]
        has_w = treated(cf)
        xw0 = pd.concat([x.iloc[untreated], cf[list(TREATMENT_FEATURES)].astype(np.float64)], axis=1)
        d0 = (mu1.predict(xw0) - y[untreated])[has_w]
        e_t, e_u = propensity[t], propensity[untreated][has_w]
        self.diagnostics_.update(propensity_min=float(propensity.min()),
                                 propensity_max=float(propensity.max()),
                                 mean_d0=float(d0.mean()) if len(d0) else float("nan"))
        z = pd.concat([self._z(features[t]), self._z(cf[has_w])], ignore_index=True)
        weight = np.concatenate([(1.0 - e_t) / e_t, e_u / (1.0 - e_u)])
        return z, np.concatenate([d1, d0]), weight, np.concatenate([groups[t], groups[untreated][has_w]])

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The final stage's inputs the parameters ask for: EFFECT_FEATURES, without the moderators (but the
        horizon) by default. A fitted model uses the ones it was fitted with, `effect_features_`."""
        if self.moderators:
            return EFFECT_FEATURES
        return tuple(f for f in EFFECT_FEATURES if f not in MODERATOR_FEATURES or f == "horizon_months")

    def _z(self, features: pd.DataFrame) -> pd.DataFrame:
        return effect_matrix(features)[list(self.effect_features_)]

    def _z_matrix(self, rows: pd.DataFrame, keep: np.ndarray) -> np.ndarray:
        """`self._z(rows[keep])` as a float64 matrix, read column by column from `rows` (same values:
        plain columns as float64, absent course features NaN, the competency kind one-hot)."""
        names = self.effect_features_
        where = {name: i for i, name in enumerate(rows.columns)}
        absent = [n for n in names if n not in where and n not in KIND_FEATURES and n not in COURSE_FEATURES]
        if absent:
            raise KeyError(f"columns are missing: {absent}")
        z = np.full((int(keep.sum()), len(names)), np.nan)
        plain = [j for j, n in enumerate(names) if n in where and n not in KIND_FEATURES]
        if plain:
            z[:, plain] = float_matrix(rows.take([where[names[j]] for j in plain], axis=1))[keep]
        kinds = [(j, COMPETENCY_KINDS[KIND_FEATURES.index(n)]) for j, n in enumerate(names) if n in KIND_FEATURES]
        if kinds:
            kind = rows["competency_kind"].astype("str").to_numpy()[keep]
            for j, k in kinds:
                z[:, j] = (kind == k).astype(np.float64)
        return z

    def _predict(self, model: lgb.LGBMRegressor, z: np.ndarray) -> np.ndarray:
        """model.predict(DataFrame(z, columns=feature_names)) without the DataFrame: LightGBM reads a
        DataFrame's columns by position into the same float64 matrix (a model with pandas categoricals,
        which Z never has, still goes through its DataFrame)."""
        booster = model.booster_
        if booster.pandas_categorical:
            return np.asarray(model.predict(pd.DataFrame(z, columns=list(self.effect_features_))))
        return np.asarray(booster.predict(z, num_threads=booster_threads(model.n_jobs)))

    def _final(self, seed: int) -> lgb.LGBMRegressor:
        constraints = [EFFECT_MONOTONE.get(name, 0) for name in self.effect_features_]
        params = _lgb_params(seed, n_estimators=150, num_leaves=15, min_child_samples=200,
                             monotone_constraints=constraints, monotone_constraints_method="advanced")
        params.update(self.final_params or {})
        return lgb.LGBMRegressor(**params)

    def effect(self, plan_rows: pd.DataFrame, base_rows: pd.DataFrame | None = None,
               base_prediction: pd.DataFrame | None = None, interval: bool = True
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(τ, lower, upper) for `build_features` rows carrying a plan; τ ≥ 0 and 0 where the plan targets
        nothing of the row's competency. The rows without the plan are not needed (the S-learner's are).
        With `interval=False` the bootstrap members are skipped (batch work) and lower = upper = τ."""
        check_is_fitted(self, "model_")
        n = len(plan_rows)
        tau, lo, hi = np.zeros(n), np.zeros(n), np.zeros(n)
        aims = treated(plan_rows)
        if not aims.any():
            return tau, lo, hi
        z = self._z_matrix(plan_rows, aims)
        point = self._predict(self.model_, z)
        if self.members_ and interval:
            spread = np.vstack([self._predict(m, z) for m in self.members_])
            q_lo, q_hi = np.quantile(spread, INTERVAL_QUANTILES, axis=0)
            # Centre the members' spread on the full-data estimate (the members' own mean is noisier).
            centre = spread.mean(axis=0)
            low, high = point + (q_lo - centre), point + (q_hi - centre)
        else:
            low, high = point, point
        tau[aims] = np.maximum(point, 0.0)
        lo[aims] = np.maximum(np.minimum(low, point), 0.0)
        hi[aims] = np.maximum(np.maximum(high, point), 0.0)
        return tau, lo, hi


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
