"""The gap model: predicted level at the horizon, an 80% interval, and exact additive explanations.

Design (INTERFACES.md "Definitions"):
- *Anchor*: `level_estimate`, the current level estimated from all assessments with each method's bias
  and noise (features/measurement.py; the position type's prior when never assessed), or with
  anchor="current_level" the latest score. LightGBM learns the residual target − anchor, so predicted =
  anchor + f(x): with no signal the model is carry-forward of the anchor, and trees only spend splits on
  change (drift, method bias, training effects).
- *Explanations*: `booster.predict(X, pred_contrib=True)` is exact and additive in raw space; the anchor
  is folded into the anchor feature's contribution (base = mean training anchor + E[f]; contribution =
  anchor − mean anchor + its SHAP value). Clipping to the 1–5 scale is reported as its own contribution,
  `batas_skala`, so base + Σ contributions == predicted_level exactly.
- *Intervals*: conformalised quantile regression (LightGBM quantile 0.1 / 0.9 on the residual), calibrated
  on a later-in-time split, separately for thin-evidence and other rows (Mondrian); the thin group's
  correction is floored at the solid group's + THIN_MIN_EXTRA, so thin evidence always reads as a wider
  interval (DOMAIN.md), even where its own calibration would allow as narrow a one.
- *Direction*: LightGBM monotone constraints on the plan features (features.pit.MONOTONE) in the point
  model: completing one more training, in or out of band, never lowers the predicted level; clipping is
  monotone, so this survives to the output. (LightGBM refuses constraints with the quantile objective,
  so the interval models are unconstrained; the interval always contains the point.)
Each artifact is one `Pipeline(ColumnTransformer, LGBMRegressor)` with pandas output, so the fitted
estimator sees the business feature names. `n_jobs` defaults to 1: on the 2-core machines, with anything
else running, OpenMP threads spin-waiting for each other made a fit 25× slower (measured: 66 s vs 2.6 s).
*Prediction* does not go through the pipelines: the serving API asks for ~10 rows at a time, where the
ColumnTransformer's pandas output and sklearn's validation cost ~10 ms per pipeline. `_Layout` reads the
fitted ColumnTransformer once (lazily, so bundles pickled before it existed work unchanged) and encodes the
rows straight into the booster's float64 matrix, once per call for all three boosters: the same numbers
the pipelines give (the boosters keep their categorical splits from the model file, whatever the input).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMRegressor
from scipy import sparse
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

from features.constants import LEVEL_MAX, LEVEL_MIN
from features.pit import CATEGORICAL_FEATURES, MONOTONE, NUMERIC_FEATURES

# The gap model's default anchor: the posterior level from all assessments (features.measurement) …
ANCHOR = "level_estimate"
# … and the latest assessed level: the baselines' anchor (carry-forward), and bundles pickled before
# the gap model had an `anchor` parameter.
LATEST = "current_level"
THIN = "thin_evidence"
SCALE_BOUND = "batas_skala"  # the contribution of clipping to the 1–5 scale
PREDICTION_COLUMNS = ("predicted_level", "lower", "upper")
MIN_GROUP_CALIBRATION = 30  # fewer calibration rows in a Mondrian group: use the pooled correction
# Thin evidence must show as a wider interval (DOMAIN.md "Thin data"): the thin group's correction is at
# least the solid group's plus this margin (levels, each side), whatever its own calibration says.
THIN_MIN_EXTRA = 0.05
# Plan features the model leaves out by default: trainings that do *not* target the competency say more
# about who trains a lot than about the competency (confounding). With them, the expected gain of a random
# eligible training came out 4× the true one (mean 0.098 vs 0.025, MAE 0.079, r = 0.60 against
# truth/effects.csv, 1,500 employees); without them MAE 0.020, r = 0.81, and a training that targets none
# of the required competencies closes no gap, as it should.
UNUSED_PLAN_FEATURES = ("plan_n_other", "plan_jp_total")


@dataclass
class Explanation:
    """base_value[i] + contributions.iloc[i].sum() == predicted_level[i] (to 1e-6)."""

    base_value: np.ndarray
    contributions: pd.DataFrame  # columns: business feature names, plus `batas_skala`


def _preprocessor(categorical: list[str], numeric: list[str]) -> ColumnTransformer:
    """Categoricals as integer codes (unknown → missing), numerics untouched, names kept."""
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                             encoded_missing_value=np.nan, dtype=np.float64)
    return ColumnTransformer([("cat", encoder, categorical), ("num", "passthrough", numeric)],
                             remainder="drop", verbose_feature_names_out=False).set_output(transform="pandas")


def feature_groups(pipeline: Pipeline) -> dict[str, str]:
    """Transformed column → the business feature it came from (one-hot / encoded / derived columns)."""
    pre: ColumnTransformer = pipeline[0]
    out: dict[str, str] = {}
    for _, transformer, columns in pre.transformers_:
        if transformer == "drop" or not len(columns):
            continue
        names = list(columns) if transformer == "passthrough" else list(
            transformer.get_feature_names_out(list(columns)))
        if len(names) == len(columns):
            out.update(zip(names, columns, strict=True))
        else:  # e.g. one-hot "feature_value": the longest source name that prefixes it
            for name in names:
                out[name] = max((c for c in columns if name.startswith(c)), key=len)
    return out


def booster_threads(n_jobs: int | None) -> int:
    """LightGBM's reading of an sklearn `n_jobs` for `Booster.predict(num_threads=...)` (None: all cores,
    negative: counted back from the number of cores, as LGBMModel does)."""
    if n_jobs is not None and n_jobs >= 0:
        return int(n_jobs)
    cpus = os.cpu_count() or 1
    return cpus if n_jobs is None else max(cpus + 1 + n_jobs, 1)


def float_matrix(frame: pd.DataFrame) -> np.ndarray:
    """`frame` as float64, missing values (NaN, None, pd.NA) as NaN: what LightGBM makes of a DataFrame."""
    try:
        return frame.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):  # nullable dtypes holding pd.NA
        return frame.to_numpy(dtype=np.float64, na_value=np.nan)


def require_frame(X: Any, owner: str) -> pd.DataFrame:
    """`X` when it is a DataFrame; the models read the business features by name, so an array (dense or
    sparse) is refused with a TypeError that says so."""
    if isinstance(X, pd.DataFrame):
        return X
    kind = "a sparse matrix (sparse input is not supported)" if sparse.issparse(X) else type(X).__name__
    raise TypeError(f"{owner} takes a pandas DataFrame of named business features (features.pit."
                    f"build_features), not {kind}")


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _passthrough(transformer: Any) -> bool:
    # A fitted ColumnTransformer stores "passthrough" as an identity FunctionTransformer.
    if isinstance(transformer, str):
        return transformer == "passthrough"
    return isinstance(transformer, FunctionTransformer) and transformer.func is None


def _nan_encoder(transformer: Any) -> bool:
    """An OrdinalEncoder whose unknown and missing values both encode to NaN, without infrequent groups."""
    return (isinstance(transformer, OrdinalEncoder) and transformer.handle_unknown == "use_encoded_value"
            and _is_missing(transformer.unknown_value) and _is_missing(transformer.encoded_missing_value)
            and transformer.min_frequency is None and transformer.max_categories is None)


@dataclass(frozen=True)
class _Layout:
    """How a fitted pipeline's ColumnTransformer lays features out for its booster, as plain look-ups.

    Column j of the booster's matrix is input column `columns[j]`: passed through as float64 when
    `tables[j]` is None, else its category's code in `tables[j]`; every other value (unknown category,
    None, NaN, pd.NA) is NaN, as the OrdinalEncoder with unknown_value = encoded_missing_value = NaN
    does (its own look-up is a dict too, so equality is Python's in both).
    """

    columns: tuple[str, ...]
    tables: tuple[dict[Any, float] | None, ...]
    numeric: np.ndarray  # positions of the passthrough columns
    categorical: np.ndarray  # positions of the encoded columns

    @classmethod
    def of(cls, pipeline: Pipeline) -> _Layout | None:
        """The layout of a fitted pipeline, or None when its preprocessor is not one this knows."""
        pre = pipeline[0]
        if not isinstance(pre, ColumnTransformer):
            return None
        columns: list[str] = []
        tables: list[dict[Any, float] | None] = []
        for _, transformer, selected in pre.transformers_:
            if isinstance(transformer, str) and transformer == "drop":
                continue
            names = list(selected) if isinstance(selected, list | tuple | np.ndarray | pd.Index) else None
            if names is None or not all(isinstance(c, str) for c in names):
                return None
            if not names:
                continue
            if _passthrough(transformer):
                tables += [None] * len(names)
            elif _nan_encoder(transformer):
                tables += [{v: float(i) for i, v in enumerate(cats) if not _is_missing(v)}
                           for cats in transformer.categories_]
            else:
                return None
            columns += names
        # The booster must have been fitted on exactly this output (names and order).
        if list(pre.get_feature_names_out()) != columns or pipeline[-1].booster_.feature_name() != columns:
            return None
        kinds = np.array([t is None for t in tables], dtype=bool)
        return cls(tuple(columns), tuple(tables), np.flatnonzero(kinds), np.flatnonzero(~kinds))

    def matrix(self, features: pd.DataFrame) -> np.ndarray:
        """The booster's float64 input for `features` (what the pipeline's transform + LightGBM make)."""
        # A dict, not Index.get_indexer: ~10× cheaper on ~50 columns, and this runs once per request.
        where = {name: i for i, name in enumerate(features.columns)}
        missing = sorted({c for c in self.columns if c not in where})
        if missing:
            raise ValueError(f"columns are missing: {missing}")
        if len(where) != features.shape[1]:
            raise ValueError("duplicate column names")
        out = np.empty((len(features), len(self.columns)), dtype=np.float64)
        if len(self.numeric):
            taken = [where[self.columns[j]] for j in self.numeric]
            out[:, self.numeric] = float_matrix(features.take(taken, axis=1))
        for j in self.categorical:
            get = self.tables[j].get  # type: ignore[union-attr]
            out[:, j] = [get(v, np.nan) for v in features[self.columns[j]].to_numpy(dtype=object)]
        return out


@dataclass(frozen=True)
class _FastPath:
    """What GapModel's prediction needs from its fitted pipelines, derived once (never pickled)."""

    layouts: tuple[_Layout | None, ...]  # point, lower, upper (None: go through the preprocessor)
    source: tuple[int, ...]  # source[i] = the first pipeline whose matrix pipeline i can reuse
    groups: tuple[str, ...]  # explain's business features, in output order
    order: np.ndarray | None  # contribution columns sorted by group (None: one column per group, in order)
    starts: np.ndarray  # where each group starts in `order`

    @classmethod
    def of(cls, model: GapModel) -> _FastPath:
        pipelines = (model.point_, model.lower_, model.upper_)
        layouts = tuple(_Layout.of(p) for p in pipelines)
        source = tuple(next(k for k in range(i + 1) if k == i or (
            layouts[k] is not None and _same_layout(layouts[k], layouts[i]))) for i in range(len(layouts)))
        names = list(model.point_[0].get_feature_names_out())
        mapping = getattr(model, "feature_groups_", None) or feature_groups(model.point_)
        of_column = [mapping[c] for c in names]
        groups = tuple(dict.fromkeys(of_column))  # first appearance order, as groupby(sort=False)
        rank = {g: i for i, g in enumerate(groups)}
        group_index = np.array([rank[g] for g in of_column], dtype=np.int64)
        if len(groups) == len(names):
            return cls(layouts, source, groups, None, np.arange(len(groups)))
        order = np.argsort(group_index, kind="stable")
        starts = np.searchsorted(group_index[order], np.arange(len(groups)))
        return cls(layouts, source, groups, order, starts)

    def group(self, contributions: np.ndarray) -> np.ndarray:
        """Per-column contributions (rows × columns) summed into the business features (rows × groups)."""
        if self.order is None:
            return contributions
        return np.add.reduceat(contributions[:, self.order], self.starts, axis=1)


def _same_layout(a: _Layout | None, b: _Layout | None) -> bool:
    return a is not None and b is not None and a.columns == b.columns and a.tables == b.tables


def _quantile(values: np.ndarray, level: float) -> float:
    """The conformal quantile: the ⌈(n+1)·level⌉-th smallest score (finite-sample valid)."""
    n = len(values)
    k = min(n, int(np.ceil((n + 1) * level)))
    return float(np.sort(values)[k - 1])


class _LevelRegressor(RegressorMixin):
    """A regressor of the level whose `predict` gives the level with its interval (PREDICTION_COLUMNS).

    scikit-learn conventions (https://scikit-learn.org/stable/developers/develop.html): `__init__` stores
    the parameters, `fit(X, y, calib_features=None, calib_target=None)` learns attributes ending in `_`
    and returns self; `score` is R² of the predicted level. X is a DataFrame of `features.pit` business
    features (text categoricals, NaN where history is missing), not a numeric array.
    """

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing history features are NaN
        tags.input_tags.string = True  # the categorical features are text
        return tags

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """predicted_level, lower, upper, index aligned with `features` (each model has its own)."""
        raise NotImplementedError

    def score(self, X: pd.DataFrame, y: Any, sample_weight: Any = None) -> float:
        """R² of the predicted level (`predict(X)["predicted_level"]`) against `y`."""
        return float(r2_score(y, self.predict(X)["predicted_level"], sample_weight=sample_weight))


class GapModel(_LevelRegressor, BaseEstimator):
    """Predicted level at the horizon = clip(anchor + LightGBM(features)), with CQR intervals; the anchor is
    `anchor` (the level estimated from all assessments by default; `current_level` = the latest score).
    `measurement_` (set by `training.fit`) is the measurement model whose estimates the features hold."""

    anchor = LATEST  # bundles pickled before the parameter existed anchored on the latest level

    def __init__(self, seed: int = 0, n_estimators: int = 300, learning_rate: float = 0.06,
                 num_leaves: int = 15, min_child_samples: int = 40, subsample: float = 0.8,
                 colsample_bytree: float = 0.8, reg_lambda: float = 1.0, coverage: float = 0.8,
                 interval_estimators: int = 150, monotone: bool = True, n_jobs: int = 1,
                 exclude: tuple[str, ...] = UNUSED_PLAN_FEATURES, anchor: str = ANCHOR) -> None:
        self.seed = seed
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.coverage = coverage
        self.interval_estimators = interval_estimators
        self.monotone = monotone
        self.n_jobs = n_jobs
        self.exclude = exclude
        self.anchor = anchor

    # -- fitting ---------------------------------------------------------------------------------
    def _pipeline(self, objective: str, alpha: float | None = None, n_estimators: int | None = None,
                  seed_offset: int = 0) -> Pipeline:
        categorical, numeric = self._columns()
        order = categorical + numeric
        # LightGBM refuses monotone constraints with the quantile objective: only the point model has them.
        params: dict[str, Any] = dict(objective=objective, n_estimators=n_estimators or self.n_estimators,
                      learning_rate=self.learning_rate, num_leaves=self.num_leaves,
                      min_child_samples=self.min_child_samples, subsample=self.subsample, subsample_freq=1,
                      colsample_bytree=self.colsample_bytree, reg_lambda=self.reg_lambda,
                      random_state=self.seed + seed_offset, n_jobs=self.n_jobs,
                      deterministic=True, force_row_wise=True, verbose=-1)
        if alpha is not None:
            params["alpha"] = alpha
        if self.monotone and objective != "quantile":
            params["monotone_constraints"] = [MONOTONE.get(c, 0) for c in order]
            params["monotone_constraints_method"] = "basic"
        return Pipeline([("features", _preprocessor(categorical, numeric)), ("model", LGBMRegressor(**params))])

    def _fit_one(self, pipeline: Pipeline, features: pd.DataFrame, residual: np.ndarray) -> Pipeline:
        return pipeline.fit(features, residual, model__categorical_feature=self._columns()[0])

    def _columns(self) -> tuple[list[str], list[str]]:
        """(categorical, numeric) model inputs: the business features minus `exclude`."""
        return ([c for c in CATEGORICAL_FEATURES if c not in self.exclude],
                [c for c in NUMERIC_FEATURES if c not in self.exclude])

    def fit(self, X: pd.DataFrame, y: pd.Series, calib_features: pd.DataFrame | None = None,
            calib_target: pd.Series | None = None) -> GapModel:
        """Fit the point model on all rows, the quantile models on `X` (features, target `y`), and calibrate
        the interval on the calibration rows (later in time); without them, a seeded 20% of the rows is
        held out. Returns self."""
        self.__dict__.pop("_fast_path", None)  # derived from the pipelines about to be refitted
        features = require_frame(X, "GapModel")
        y = np.asarray(y, dtype=np.float64)
        if calib_features is None or calib_target is None:
            rng = np.random.default_rng(self.seed)
            held = rng.random(len(features)) < 0.2
            train_x, train_y = features[~held], y[~held]
            calib_x, calib_y = features[held], y[held]
            all_x, all_y = features, y
        else:
            train_x, train_y = features, y
            calib_x, calib_y = calib_features, np.asarray(calib_target, dtype=np.float64)
            all_x, all_y = pd.concat([features, calib_features]), np.r_[y, calib_y]
        anchor = all_x[self.anchor].to_numpy(np.float64)
        self.anchor_mean_ = float(anchor.mean())
        self.point_ = self._fit_one(self._pipeline("regression"), all_x, all_y - anchor)
        train_res = train_y - train_x[self.anchor].to_numpy(np.float64)
        lo_alpha, hi_alpha = (1 - self.coverage) / 2, (1 + self.coverage) / 2
        self.lower_ = self._fit_one(self._pipeline("quantile", lo_alpha, self.interval_estimators, 1),
                                    train_x, train_res)
        self.upper_ = self._fit_one(self._pipeline("quantile", hi_alpha, self.interval_estimators, 2),
                                    train_x, train_res)
        # Conformity scores on the calibration rows, per evidence group (Mondrian CQR).
        lo, hi = self._raw_band(calib_x)
        scores = np.maximum(lo - calib_y, calib_y - hi)
        thin = calib_x[THIN].to_numpy() > 0.5
        pooled = _quantile(scores, self.coverage)
        correction = {
            flag: (_quantile(scores[thin == flag], self.coverage)
                   if (thin == flag).sum() >= MIN_GROUP_CALIBRATION else pooled)
            for flag in (False, True)
        }
        # Calibrated alone, thin rows can come out as narrow as solid ones (a fallback level averaged over
        # many competencies is about as good as one noisy measurement); the product promises "wider".
        correction[True] = max(correction[True], correction[False] + THIN_MIN_EXTRA)
        self.correction_ = correction
        self.feature_names_in_ = np.array(sum(self._columns(), []), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.feature_groups_ = feature_groups(self.point_)
        self.__dict__.pop("_fast_path", None)
        return self

    def __getstate__(self) -> dict[str, Any]:
        # The fast path's look-ups are derived from the pipelines: rebuilt on first use, never pickled.
        state = dict(super().__getstate__())
        state.pop("_fast_path", None)
        return state

    def set_threads(self, n_jobs: int) -> GapModel:
        """Use `n_jobs` threads from now on (serving: 1) in every fitted LightGBM model; returns self."""
        self.set_params(n_jobs=n_jobs)
        for pipeline in (self.point_, self.lower_, self.upper_):
            pipeline.set_params(model__n_jobs=n_jobs)
        return self

    # -- prediction ------------------------------------------------------------------------------
    def _fast(self) -> _FastPath:
        """The look-ups of the fitted pipelines: a private cache (never pickled), built on first use."""
        fast = self.__dict__.get("_fast_path")
        if fast is None:  # a race only builds it twice: the result is the same
            check_is_fitted(self, ("point_", "lower_", "upper_"))
            fast = self._fast_path = _FastPath.of(self)
        return fast

    def _matrices(self, features: pd.DataFrame, bands: bool = True) -> list[np.ndarray | pd.DataFrame]:
        """The boosters' inputs (point, and lower, upper with `bands`), each encoding done once: the
        quantile models' matrix is the point model's when their encoders learnt the same categories."""
        fast = self._fast()
        pipelines = (self.point_, self.lower_, self.upper_)
        out: list[np.ndarray | pd.DataFrame] = []
        for i in range(3 if bands else 1):
            layout = fast.layouts[i]
            if fast.source[i] != i:
                out.append(out[fast.source[i]])
            elif layout is not None:
                out.append(layout.matrix(features))
            else:  # a preprocessor the fast path does not know: its own transform, as before
                out.append(pipelines[i][0].transform(features))
        return out

    def _raw(self, pipeline: Pipeline, matrix: np.ndarray | pd.DataFrame, **kwargs: Any) -> np.ndarray:
        return pipeline[-1].booster_.predict(matrix, num_threads=booster_threads(self.n_jobs), **kwargs)

    def _raw_band(self, features: pd.DataFrame, matrices: list[np.ndarray | pd.DataFrame] | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        matrices = matrices or self._matrices(features)
        anchor = features[self.anchor].to_numpy(np.float64)
        lo = anchor + self._raw(self.lower_, matrices[1])
        hi = anchor + self._raw(self.upper_, matrices[2])
        return np.minimum(lo, hi), np.maximum(lo, hi)

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:  # type: ignore[override]
        """predicted_level, lower, upper (80% interval), on the 1–5 scale, index aligned with `features`."""
        return self._predict(features, self._matrices(features))

    def explain(self, features: pd.DataFrame) -> Explanation:
        """Per business feature contributions; base_value + row sum == predicted_level (1e-6)."""
        return self._explain(features, self._matrices(features, bands=False)[0])

    def predict_and_explain(self, features: pd.DataFrame) -> tuple[pd.DataFrame, Explanation]:
        """`predict(features)` and `explain(features)` with the rows encoded once."""
        matrices = self._matrices(features)
        return self._predict(features, matrices), self._explain(features, matrices[0])

    def _predict(self, features: pd.DataFrame, matrices: list[np.ndarray | pd.DataFrame]) -> pd.DataFrame:
        anchor = features[self.anchor].to_numpy(np.float64)
        point = np.clip(anchor + self._raw(self.point_, matrices[0]), LEVEL_MIN, LEVEL_MAX)
        lo, hi = self._raw_band(features, matrices)
        thin = features[THIN].to_numpy() > 0.5
        widen = np.where(thin, self.correction_[True], self.correction_[False])
        lower = np.clip(np.minimum(lo - widen, point), LEVEL_MIN, LEVEL_MAX)
        upper = np.clip(np.maximum(hi + widen, point), LEVEL_MIN, LEVEL_MAX)
        return pd.DataFrame({"predicted_level": point, "lower": lower, "upper": upper}, index=features.index)

    def _explain(self, features: pd.DataFrame, matrix: np.ndarray | pd.DataFrame) -> Explanation:
        fast = self._fast()
        raw = self._raw(self.point_, matrix, pred_contrib=True)
        values = np.empty((len(features), len(fast.groups) + 1))
        values[:, :-1] = fast.group(raw[:, :-1])
        anchor = features[self.anchor].to_numpy(np.float64)
        at = fast.groups.index(self.anchor)
        values[:, at] = values[:, at] + anchor - self.anchor_mean_
        base = self.anchor_mean_ + raw[:, -1]
        unclipped = anchor + raw.sum(axis=1)
        values[:, -1] = np.clip(unclipped, LEVEL_MIN, LEVEL_MAX) - unclipped
        contributions = pd.DataFrame(values, columns=[*fast.groups, SCALE_BOUND], index=features.index)
        return Explanation(base_value=base, contributions=contributions)


# ---------------------------------------------------------------------------------------------------
# Baselines (same predict interface)
# ---------------------------------------------------------------------------------------------------
def _residual_quantiles(residual: np.ndarray, thin: np.ndarray, coverage: float) -> dict[bool, tuple]:
    """Empirical (lower, upper) residual quantiles per evidence group (pooled when a group is small)."""
    q = ((1 - coverage) / 2, (1 + coverage) / 2)
    pooled = tuple(np.quantile(residual, q)) if len(residual) else (0.0, 0.0)
    return {flag: (tuple(np.quantile(residual[thin == flag], q))
                   if (thin == flag).sum() >= MIN_GROUP_CALIBRATION else pooled) for flag in (False, True)}


def _band_frame(point: np.ndarray, features: pd.DataFrame, quantiles: dict[bool, tuple]) -> pd.DataFrame:
    thin = features[THIN].to_numpy() > 0.5
    lo = np.where(thin, quantiles[True][0], quantiles[False][0])
    hi = np.where(thin, quantiles[True][1], quantiles[False][1])
    point = np.clip(point, LEVEL_MIN, LEVEL_MAX)
    return pd.DataFrame({
        "predicted_level": point,
        "lower": np.clip(np.minimum(point + lo, point), LEVEL_MIN, LEVEL_MAX),
        "upper": np.clip(np.maximum(point + hi, point), LEVEL_MIN, LEVEL_MAX),
    }, index=features.index)


class CarryForward(_LevelRegressor, BaseEstimator):
    """The current level carried forward; interval from the empirical residual quantiles."""

    def __init__(self, coverage: float = 0.8) -> None:
        self.coverage = coverage

    def fit(self, X: pd.DataFrame, y: pd.Series, calib_features: pd.DataFrame | None = None,
            calib_target: pd.Series | None = None) -> CarryForward:
        X = require_frame(X, "CarryForward")
        x, target = (X, y) if calib_features is None else (calib_features, calib_target)
        residual = np.asarray(target, dtype=np.float64) - x[LATEST].to_numpy(np.float64)
        self.quantiles_ = _residual_quantiles(residual, x[THIN].to_numpy() > 0.5, self.coverage)
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:  # type: ignore[override]
        check_is_fitted(self, "quantiles_")
        return _band_frame(features[LATEST].to_numpy(np.float64), features, self.quantiles_)


LINEAR_FEATURES = ("current_level", "level_age_months", "horizon_months", "never_assessed")


class PerCompetencyLinear(_LevelRegressor, BaseEstimator):
    """One linear regression per competency on current level, its age, the horizon and never-assessed;
    competencies with fewer than `min_rows` rows share a pooled regression."""

    def __init__(self, coverage: float = 0.8, min_rows: int = 30) -> None:
        self.coverage = coverage
        self.min_rows = min_rows

    @staticmethod
    def _pipeline() -> Pipeline:
        pre = ColumnTransformer([("num", SimpleImputer(strategy="constant", fill_value=0.0, keep_empty_features=True),
                                  list(LINEAR_FEATURES))], verbose_feature_names_out=False)
        return Pipeline([("features", pre.set_output(transform="pandas")), ("model", LinearRegression())])

    def fit(self, X: pd.DataFrame, y: pd.Series, calib_features: pd.DataFrame | None = None,
            calib_target: pd.Series | None = None) -> PerCompetencyLinear:
        features = require_frame(X, "PerCompetencyLinear")
        target = pd.Series(np.asarray(y, dtype=np.float64), index=features.index)
        self.pooled_ = self._pipeline().fit(features, target)
        models: dict[str, Pipeline] = {}
        for comp, rows in features.groupby("competency_id", sort=True, observed=True):
            if len(rows) >= self.min_rows:
                models[str(comp)] = self._pipeline().fit(rows, target.loc[rows.index])
        self.models_ = models
        x, yy = (features, target) if calib_features is None else (calib_features, calib_target)
        residual = np.asarray(yy, dtype=np.float64) - self._point(x)
        self.quantiles_ = _residual_quantiles(residual, x[THIN].to_numpy() > 0.5, self.coverage)
        self.n_features_in_ = features.shape[1]
        self.feature_names_in_ = np.asarray(features.columns, dtype=object)
        return self

    def _point(self, features: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, ("pooled_", "models_"))
        point = pd.Series(self.pooled_.predict(features), index=features.index)
        for comp, rows in features.groupby("competency_id", sort=False, observed=True):
            model = self.models_.get(str(comp))
            if model is not None:
                point.loc[rows.index] = model.predict(rows)
        return point.to_numpy(np.float64)

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:  # type: ignore[override]
        return _band_frame(self._point(features), features, self.quantiles_)


# ---------------------------------------------------------------------------------------------------
# Evaluation helpers
# ---------------------------------------------------------------------------------------------------
def temporal_split(target_on: pd.Series, calib_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, calibration): calibration = the rows whose target is in the latest
    `calib_fraction` of target dates."""
    cut = target_on.quantile(1 - calib_fraction)
    calib = (target_on > cut).to_numpy()
    return ~calib, calib


def metrics(prediction: pd.DataFrame, target: pd.Series | np.ndarray,
            thin: pd.Series | np.ndarray | None = None) -> dict[str, float]:
    """MAE, RMSE, interval coverage and mean width (and coverage per evidence group when `thin` is given)."""
    y = np.asarray(target, dtype=np.float64)
    p = prediction["predicted_level"].to_numpy()
    lo, hi = prediction["lower"].to_numpy(), prediction["upper"].to_numpy()
    inside = (y >= lo) & (y <= hi)
    out = {"n": float(len(y)), "mae": float(np.mean(np.abs(y - p))), "rmse": float(np.sqrt(np.mean((y - p) ** 2))),
           "coverage": float(inside.mean()), "width": float(np.mean(hi - lo))}
    if thin is not None:
        t = np.asarray(thin) > 0.5
        for flag, name in ((True, "thin"), (False, "solid")):
            if (t == flag).any():
                out[f"coverage_{name}"] = float(inside[t == flag].mean())
                out[f"width_{name}"] = float(np.mean((hi - lo)[t == flag]))
                out[f"mae_{name}"] = float(np.mean(np.abs(y - p)[t == flag]))
    return out
