"""What the effect estimators share (`engine.effects`, `engine.effects_dr`): feature sets, the final stage
with its cluster-bootstrap interval, the course's shrunk target encoding, and `effect`.

Every meta-learner here reduces the problem to a final regression of a per-row *imputed effect* d (the
X-learner's Y − μ0(X), the DR-learner's doubly robust pseudo-outcome, the R-learner's residual ratio with
its weight) on Z, the description of the course relative to the employee. `EffectLearnerBase` fits that
regression (with the domain's monotone constraints), its bootstrap members, and the encoding of each
course's own past effect: the weighted mean of d over the course's rows, shrunk toward its format's mean
with weight n / (n + k) (partial pooling; the format's mean is itself shrunk toward the overall mean), and
cross-fitted by employee folds on the training rows so a row never sees its own outcome (`course_prior`).

Feature sets of Z (`feature_set`): "legacy" = band position, JP, the hand-made format groups, course
spread and band width, horizon, competency kind (the model before issue 13); "pair" = the same without
the format groups, plus the learned pair features of `features.pair_features` (exact format, job-family
fit, required share, spacing, the employee's own record, distance to the top) and `course_prior`;
"pair_groups" = "pair" with the format groups too; "formats" = "legacy" with each exact format instead
of the format groups. `moderators=True` adds the employee moderators.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

from engine.gap_model import booster_threads, float_matrix
from features.constants import COMPETENCY_KINDS
from features.pair_features import COURSE_KEY_COLUMNS, FORMAT_FEATURES, PAIR_FEATURES
from features.pit import CATEGORICAL_FEATURES, HISTORY_FEATURES

# What describes the training relative to the employee (the "W" of the meta-learners).
FORMAT_GROUP_FEATURES: tuple[str, ...] = ("plan_n_classroom", "plan_n_online", "plan_n_workplace")
TREATMENT_FEATURES: tuple[str, ...] = (
    "plan_n_targeting", "plan_jp_targeting", "plan_n_in_band", "plan_n_below_band", "plan_n_above_band",
    "plan_band_distance") + FORMAT_GROUP_FEATURES
# Who gains more from the same training (moderators), all known at the as-of date.
MODERATOR_FEATURES: tuple[str, ...] = (
    "current_level", "current_gap", "required_level", "level_age_months", "never_assessed", "horizon_months",
    "n_assessments", "level_trend", "skp_percentile", "education_rank", "tenure_years",
)
KIND_FEATURES: tuple[str, ...] = tuple(f"kind_{k}" for k in COMPETENCY_KINDS)
# The course itself, from the catalogue (mean over the plan's courses that target the competency): how
# many competencies it spreads over and how wide its level band is.
COURSE_FEATURES: tuple[str, ...] = ("course_n_targets", "course_band_width")
PRIOR_FEATURE = "course_prior"  # the course's own past effect, shrunk toward its format (learned here)
EFFECT_FEATURES: tuple[str, ...] = (TREATMENT_FEATURES + COURSE_FEATURES + MODERATOR_FEATURES + KIND_FEATURES
                                    + PAIR_FEATURES + (PRIOR_FEATURE,))
# Columns that may be absent from the rows (read as missing): what older rows or other callers lack.
OPTIONAL_FEATURES: frozenset[str] = frozenset(COURSE_FEATURES + PAIR_FEATURES + (PRIOR_FEATURE,))
FEATURE_SETS = ("legacy", "pair", "pair_groups", "formats")
# The final stage's LightGBM parameters by feature set: the learned sets have more inputs, and with the
# legacy stage's 200 rows per leaf and every column per tree they split on noise (tuning worlds, 800
# employees, mean rank-1 / top-3 / Spearman 0.840 / 0.775 / 0.573); 400 rows per leaf and half the columns
# per tree gave 0.866 / 0.790 / 0.604 (`engine.effects` docstring has the comparison).
FINAL_STAGE: dict[str, dict[str, Any]] = {
    "legacy": dict(n_estimators=150, num_leaves=15, min_child_samples=200),
    "pair": dict(n_estimators=150, num_leaves=15, min_child_samples=400, colsample_bytree=0.5),
    "pair_groups": dict(n_estimators=150, num_leaves=15, min_child_samples=400, colsample_bytree=0.5),
    "formats": dict(n_estimators=150, num_leaves=15, min_child_samples=200),
}
EFFECT_MONOTONE: dict[str, int] = {
    "plan_n_targeting": 1, "plan_jp_targeting": 1, "plan_n_in_band": 1, "plan_band_distance": -1,
}
NUISANCE_FEATURES: tuple[str, ...] = CATEGORICAL_FEATURES + HISTORY_FEATURES
PROPENSITY_CLIP = (0.05, 0.95)  # bounds the inverse-propensity weights at 20
INTERVAL_QUANTILES = (0.1, 0.9)

Progress = Callable[[str], None]


class NotEnoughHistory(ValueError):
    """The training pairs hold too few trained (or untrained) cases to estimate an effect from."""


def treated(features: pd.DataFrame) -> np.ndarray:
    """The treatment of a training pair: its plan holds a training that targets its competency."""
    return features["plan_n_targeting"].to_numpy(dtype=np.float64) > 0


def feature_names(feature_set: str, moderators: bool, drop: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The final stage's inputs of a feature set (module docstring), without those in `drop`."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"feature_set must be one of {FEATURE_SETS}, not {feature_set!r}")
    names = [f for f in EFFECT_FEATURES if f not in MODERATOR_FEATURES or moderators or f == "horizon_months"]
    if feature_set == "legacy":
        names = [f for f in names if f not in PAIR_FEATURES and f != PRIOR_FEATURE]
    elif feature_set == "pair":
        names = [f for f in names if f not in FORMAT_GROUP_FEATURES]
    elif feature_set == "formats":
        names = [f for f in names if f not in FORMAT_GROUP_FEATURES and f != PRIOR_FEATURE
                 and (f not in PAIR_FEATURES or f in FORMAT_FEATURES)]
    return tuple(f for f in names if f not in drop)


def effect_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """Every input Z may hold (EFFECT_FEATURES) from `build_features` rows (numeric, competency kind one-hot);
    optional columns that are absent are missing values (`course_prior` is read from the rows only when
    they carry it: the estimators compute it from `course_id`)."""
    z = features[[c for c in TREATMENT_FEATURES + MODERATOR_FEATURES]].astype(np.float64)
    for col in OPTIONAL_FEATURES:
        z[col] = features[col].astype(np.float64).to_numpy() if col in features.columns else np.nan
    kind = features["competency_kind"].astype("str").to_numpy()
    for k, name in zip(COMPETENCY_KINDS, KIND_FEATURES, strict=True):
        z[name] = (kind == k).astype(np.float64)
    return z[list(EFFECT_FEATURES)]


def nuisance_matrix(features: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    x = features[list(NUISANCE_FEATURES)].copy()
    for col in CATEGORICAL_FEATURES:
        x[col] = pd.Categorical(x[col].astype("str").to_numpy(), categories=categories[col])
    return x


def lgb_params(seed: int, **extra: Any) -> dict[str, Any]:
    # Small, regularised forests: the nuisances only need to be good on average, and the final stage is
    # refitted many times for the bootstrap. n_jobs=1 keeps a fit from fighting the server for cores.
    params: dict[str, Any] = dict(n_estimators=200, learning_rate=0.05, num_leaves=31, min_child_samples=50,
                                  subsample=0.8, subsample_freq=1, colsample_bytree=0.9, reg_lambda=1.0,
                                  random_state=seed, n_jobs=1, verbose=-1)
    params.update(extra)
    return params


def group_folds(groups: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """A fold number per row, the same for every row of one employee."""
    uniques, inverse = np.unique(groups, return_inverse=True)
    fold_of_group = np.random.default_rng(seed).integers(0, n_folds, len(uniques))
    return fold_of_group[inverse]


def _text(rows: pd.DataFrame, column: str) -> np.ndarray:
    if column not in rows.columns:
        return np.full(len(rows), "", dtype=object)
    return rows[column].astype("str").fillna("").to_numpy(dtype=object)


class CourseEncoding:
    """The shrunk target encoding of a course's effect: (Σw·d + k·m_format) / (Σw + k), where m_format is
    the format's own (Σw·d + k·m) / (Σw + k) and m the overall weighted mean."""

    def __init__(self, courses: np.ndarray, formats: np.ndarray, d: np.ndarray, w: np.ndarray, k: float) -> None:
        has = courses != ""
        c, f, d, w = courses[has], formats[has], d[has], w[has]
        self.overall = float(np.sum(w * d) / np.sum(w)) if np.sum(w) > 0 else 0.0
        self.format_mean: dict[str, float] = {}
        for fmt in np.unique(f):
            sel = f == fmt
            self.format_mean[str(fmt)] = float((np.sum(w[sel] * d[sel]) + k * self.overall) / (np.sum(w[sel]) + k))
        frame = pd.DataFrame({"c": c, "f": f, "wd": w * d, "w": w}).groupby("c", sort=True).agg(
            f=("f", "first"), wd=("wd", "sum"), w=("w", "sum"))
        prior = frame["f"].map(self.format_mean).to_numpy(np.float64)
        self.courses = pd.Index(frame.index.astype(str))
        self.values = (frame["wd"].to_numpy() + k * prior) / (frame["w"].to_numpy() + k)

    def __call__(self, courses: np.ndarray, formats: np.ndarray) -> np.ndarray:
        """The encoding of each row's course; a course never seen gets its format's mean (NaN: no course)."""
        out = np.full(len(courses), np.nan)
        at = self.courses.get_indexer(pd.Index(courses, dtype="str")) if len(self.courses) else \
            np.full(len(courses), -1)
        out[at >= 0] = self.values[at[at >= 0]]
        unseen = (at < 0) & (courses != "")
        if unseen.any():
            out[unseen] = [self.format_mean.get(str(f), self.overall) for f in formats[unseen]]
        return out


class EffectLearnerBase(BaseEstimator):
    """The final stage, bootstrap, course encoding and `effect` of the meta-learners (module docstring).

    Subclasses compute the imputed effects in `fit` and call `_fit_final`. Learned attributes: `model_`,
    `members_`, `diagnostics_`, `effect_features_`, `course_encoding_`, `n_features_in_`, `feature_names_in_`.
    """

    name = "effect_learner"
    seed: int
    n_bootstrap: int
    n_folds: int
    moderators: bool
    feature_set: str
    drop_features: tuple[str, ...]
    shrinkage: float
    final_params: dict[str, Any] | None

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing history features are NaN; LightGBM handles them
        tags.input_tags.string = True  # competency_kind and the categorical features are text
        tags.target_tags.required = True
        return tags

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The final stage's inputs the parameters ask for (a fitted model uses `effect_features_`)."""
        return feature_names(getattr(self, "feature_set", "legacy"), self.moderators,
                             tuple(getattr(self, "drop_features", ()) or ()))

    def _start(self, features: pd.DataFrame) -> dict[str, list[str]]:
        """Record the input's shape and the final stage's inputs; the nuisances' categories."""
        self.n_features_in_ = features.shape[1]
        self.feature_names_in_ = np.asarray(features.columns, dtype=object)
        self.effect_features_ = self.feature_names
        self.course_encoding_: CourseEncoding | None = None
        return {c: sorted(features[c].astype("str").unique()) for c in CATEGORICAL_FEATURES}

    def _fit_final(self, rows: pd.DataFrame, d: np.ndarray, weight: np.ndarray, groups: np.ndarray,
                   say: Progress) -> None:
        """Fit the final stage (and its bootstrap members) of d on Z(rows) with weights; with `course_prior`
        among the inputs, first the course encoding (cross-fitted on these rows)."""
        prior = None
        if PRIOR_FEATURE in self.effect_features_:
            courses, formats = _text(rows, "course_id"), _text(rows, "course_format")
            k = float(self.shrinkage)
            self.course_encoding_ = CourseEncoding(courses, formats, d, weight, k)
            folds = group_folds(groups, self.n_folds, self.seed + 5)
            prior = np.full(len(rows), np.nan)
            for f in range(self.n_folds):
                out = folds == f
                prior[out] = CourseEncoding(courses[~out], formats[~out], d[~out], weight[~out], k)(
                    courses[out], formats[out])
        z = pd.DataFrame(self._z_matrix(rows, np.ones(len(rows), dtype=bool), prior=prior),
                         columns=list(self.effect_features_))
        say(f"effect model: final stage on {len(z):,} imputed effects, {self.n_bootstrap} bootstrap refits")
        self.model_ = self._final(self.seed + 20).fit(z, d, sample_weight=weight)
        rng = np.random.default_rng(self.seed + 21)
        uniques, inverse = np.unique(groups, return_inverse=True)
        self.members_ = []
        for b in range(self.n_bootstrap):
            draws = np.bincount(rng.integers(0, len(uniques), len(uniques)), minlength=len(uniques))
            w_b = weight * draws[inverse]
            keep = w_b > 0
            self.members_.append(self._final(self.seed + 30 + b).fit(z[keep], d[keep], sample_weight=w_b[keep]))

    def _z_matrix(self, rows: pd.DataFrame, keep: np.ndarray, prior: np.ndarray | None = None) -> np.ndarray:
        """Z of `rows[keep]` as a float64 matrix read column by column from `rows`: plain columns as float64,
        absent optional features NaN, the competency kind one-hot, and `course_prior` from the course
        encoding (or `prior`, given for all rows, when fitting)."""
        names = self.effect_features_
        where = {name: i for i, name in enumerate(rows.columns)}
        absent = [n for n in names if n not in where and n not in KIND_FEATURES and n not in OPTIONAL_FEATURES]
        if absent:
            raise KeyError(f"columns are missing: {absent}")
        z = np.full((int(keep.sum()), len(names)), np.nan)
        plain = [j for j, n in enumerate(names) if n in where and n not in KIND_FEATURES and n != PRIOR_FEATURE]
        if plain:
            z[:, plain] = float_matrix(rows.take([where[names[j]] for j in plain], axis=1))[keep]
        kinds = [(j, COMPETENCY_KINDS[KIND_FEATURES.index(n)]) for j, n in enumerate(names) if n in KIND_FEATURES]
        if kinds:
            kind = rows["competency_kind"].astype("str").to_numpy()[keep]
            for j, k in kinds:
                z[:, j] = (kind == k).astype(np.float64)
        if PRIOR_FEATURE in names:
            j = names.index(PRIOR_FEATURE)
            encoding = getattr(self, "course_encoding_", None)
            if prior is not None:
                z[:, j] = prior[keep]
            elif encoding is not None and "course_id" in where:
                z[:, j] = encoding(_text(rows, "course_id")[keep], _text(rows, "course_format")[keep])
        return z

    def _predict(self, model: lgb.LGBMRegressor, z: np.ndarray) -> np.ndarray:
        """model.predict(DataFrame(z, columns=feature_names)) without the DataFrame: LightGBM reads a
        DataFrame's columns by position into the same float64 matrix."""
        booster = model.booster_
        if booster.pandas_categorical:
            return np.asarray(model.predict(pd.DataFrame(z, columns=list(self.effect_features_))))
        return np.asarray(booster.predict(z, num_threads=booster_threads(model.n_jobs)))

    def _final(self, seed: int) -> lgb.LGBMRegressor:
        constraints = [EFFECT_MONOTONE.get(name, 0) for name in self.effect_features_]
        stage = FINAL_STAGE.get(getattr(self, "feature_set", "legacy"), FINAL_STAGE["legacy"])
        params = lgb_params(seed, **stage, monotone_constraints=constraints, monotone_constraints_method="advanced")
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


# Columns of a counterfactual row that describe its course (the rest is the employee's, as of A).
COUNTERFACTUAL_COURSE_COLUMNS: tuple[str, ...] = COURSE_FEATURES + tuple(
    f for f in PAIR_FEATURES if f.startswith("course_")) + COURSE_KEY_COLUMNS
