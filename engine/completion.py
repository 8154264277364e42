"""Will an employee finish a course if enrolled? The completion model and the predictor's answer to it.

`CompletionModel`: P(finish | enrolled) from the point-in-time features of `features.completion` (the
person's own record of finishing and abandoning, format, JP, fit to the job and level band, unit habits,
SKP, tenure; no protected attribute). A LightGBM classifier ranks, starting
from each format's log-odds (the trees only add what the person, course and unit say beyond the format),
with the number of trees chosen by early stopping on the *later* enrolments, which the trees never fit:
where the records say little beyond the format (the default world) few trees survive and the model
stays close to the per-format rate instead of fitting noise. A logistic (Platt) map fitted on the same
later enrolments turns the log-odds into probabilities. An abandonment model is used as a probability
(expected completions, money at risk), so calibration matters as much as ranking; a later calibration
set also absorbs drift between fit and use; Platt (two parameters) rather than isotonic (a step
function) because the calibration set is a few hundred to a few thousand enrolments.
Fitted in `training.completion`; measured there (`completion_backtest`, `kompetensi evaluate`).

`CompletionMixin` is the part of `engine.predictor.Predictor` that answers `completion_probability`.
Bundles trained before the model existed have none (`completion_model` is None): they load and serve
everything else, and this one answer says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier, early_stopping
from sklearn.linear_model import LogisticRegression

from engine.results import EngineError, UnknownTraining
from features.completion import (
    COMPLETION_FEATURES,
    FORMAT_FEATURE,
    NUMERIC_COMPLETION_FEATURES,
    CompletionTables,
    completion_features,
)
from features.constants import TRAINING_FORMATS
from features.export import Export
from features.pit import PitIndex

# Small trees and many examples per leaf: a few thousand enrolments, most of them finished. No row
# bagging: the fitted model must not depend on the order of the rows, which ties break by NIP (and a NIP's
# digits encode birth date and sex).
EARLY_STOPPING_ROUNDS = 40
LGBM_PARAMS: dict[str, Any] = {"n_estimators": 400, "learning_rate": 0.03, "num_leaves": 15,
                               "min_child_samples": 40, "colsample_bytree": 0.8, "reg_lambda": 1.0,
                               "verbose": -1}
# Directions the domain is sure of: more past abandonment never raises the chance of finishing, a
# better own or unit record never lowers it.
MONOTONE = {"past_abandoned": -1, "past_abandoned_36m": -1, "past_completion_rate": 1,
            "unit_completion_rate": 1}
MIN_EXAMPLES = 200  # fewer enrolments with an outcome than this: no model (the bundle goes without)
FORMAT_PRIOR = 20.0  # pseudo-enrolments at the overall rate in each format's starting log-odds


def _logit(p: float | np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-4, 1 - 1e-4)
    return np.log(q / (1 - q))


class NotEnoughEnrolments(ValueError):
    """Too few enrolments with an outcome (or only one outcome) to fit a completion model."""


def _matrix(x: pd.DataFrame) -> pd.DataFrame:
    """The classifier's input: the format one-hot (fixed columns, so unseen formats are all-zero), the
    numeric features as they are (LightGBM handles missing values)."""
    out = pd.DataFrame({name: x[name].to_numpy(np.float64) for name in NUMERIC_COMPLETION_FEATURES},
                       index=x.index)
    fmt = x[FORMAT_FEATURE].astype(str).to_numpy()
    for name in TRAINING_FORMATS:
        out[f"format_{name}"] = (fmt == name).astype(np.float64)
    return out


class CompletionModel:
    """LightGBM from the format's log-odds, Platt calibration on later enrolments (module docstring)."""

    def __init__(self, seed: int = 0, **params: Any) -> None:
        self.seed = seed
        self.params = {**LGBM_PARAMS, **params}

    def fit(self, x: pd.DataFrame, finished: np.ndarray, x_calib: pd.DataFrame, finished_calib: np.ndarray
            ) -> CompletionModel:
        """Fit the classifier on (x, finished) and the calibration map on the later (x_calib, …)."""
        y, y_calib = np.asarray(finished, dtype=np.int64), np.asarray(finished_calib, dtype=np.int64)
        if len(y) + len(y_calib) < MIN_EXAMPLES:
            raise NotEnoughEnrolments(f"only {len(y) + len(y_calib)} enrolments with an outcome (at least "
                                      f"{MIN_EXAMPLES} are needed for a completion model)")
        if len(np.unique(y)) < 2 or len(y_calib) == 0:
            raise NotEnoughEnrolments("the enrolments before the calibration split are all finished or all "
                                      "abandoned, or none come after it: no completion model")
        m = _matrix(x)
        self.columns_ = list(m.columns)
        overall = float(np.mean(y))
        fmt = x[FORMAT_FEATURE].astype(str).to_numpy()
        self.format_logit_ = {
            str(f): float(_logit((y[fmt == f].sum() + FORMAT_PRIOR * overall) / ((fmt == f).sum() + FORMAT_PRIOR)))
            for f in np.unique(fmt)}
        self.overall_logit_ = float(_logit(overall))
        constraints = [MONOTONE.get(c, 0) for c in self.columns_]
        # The number of trees is chosen on the later enrolments: where the records say little beyond the
        # format (the default world), few trees survive and the model stays near the per-format rate.
        self.classifier_ = LGBMClassifier(random_state=self.seed, monotone_constraints=constraints,
                                          **self.params).fit(
            m, y, init_score=self._offset(x), eval_X=(_matrix(x_calib)[self.columns_],), eval_y=(y_calib,),
            eval_init_score=[self._offset(x_calib)], eval_metric="binary_logloss",
            callbacks=[early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)])
        self.calibration_ = LogisticRegression(C=100.0).fit(self._score(x_calib)[:, None], y_calib)
        self.base_rate_ = float(np.mean(np.r_[y, y_calib]))
        self.n_examples_ = int(len(y) + len(y_calib))
        return self

    def _offset(self, x: pd.DataFrame) -> np.ndarray:
        """The per-format log-odds the trees start from (formats never seen: the overall log-odds)."""
        return np.array([self.format_logit_.get(str(f), self.overall_logit_) for f in x[FORMAT_FEATURE]],
                        dtype=np.float64)

    def _score(self, x: pd.DataFrame) -> np.ndarray:
        """The classifier's log-odds: the format's, plus what the person, course and unit add."""
        return self._offset(x) + self.classifier_.predict(_matrix(x)[self.columns_], raw_score=True)

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        """P(finish | enrolled) per row of `x` (COMPLETION_FEATURES)."""
        if len(x) == 0:
            return np.zeros(0)
        return np.asarray(self.calibration_.predict_proba(self._score(x)[:, None])[:, 1], dtype=np.float64)


class CompletionMixin:
    """`Predictor.completion_probability` (see the module docstring)."""

    completion_model: CompletionModel | None = None  # class default: bundles pickled before it existed
    _context: Any  # engine.snapshot.SnapshotTables._context (the per-snapshot index), in the Predictor

    def completion_probability(self, export: Export, nips: Sequence[str],
                               training_ids: Sequence[str] | None = None, as_of: date | None = None
                               ) -> pd.DataFrame:
        """P(finish | enrolled at `as_of`, default the export date) for every (nip, training_id) of
        `nips` × `training_ids` (default: the catalogue's active trainings): nip, training_id,
        completion_probability. Eligibility is not checked: the question is about finishing, not about
        being allowed in."""
        model = self.completion_model
        if model is None:
            raise EngineError("this model version has no completion model: train a new version "
                              "(`kompetensi train`) to predict completion")
        as_of = as_of or export.exported_on
        if as_of > export.exported_on:
            raise EngineError(f"as_of {as_of} is after the export date {export.exported_on}", field="as_of")
        index: PitIndex = self._context(export).index
        wanted = list(dict.fromkeys(str(n) for n in nips))
        missing = [i for i, n in enumerate(wanted) if n not in index.employees.index]
        if missing:
            raise EngineError(f"{len(missing)} unknown employee(s) in nips, first at nips[{missing[0]}]",
                              field=f"nips[{missing[0]}]")
        if training_ids is None:
            trainings = export["trainings"]
            active = trainings["active"].astype(str).str.lower().isin(("true", "1"))
            ids = sorted(set(trainings.loc[active, "training_id"].astype(str)))
        else:
            ids = list(dict.fromkeys(str(t) for t in training_ids))
            unknown = [t for t in ids if t not in index.trainings.index]
            if unknown:
                raise UnknownTraining(f"unknown training {unknown[0]}", field="training_ids")
        queries = pd.DataFrame({"nip": np.repeat(wanted, len(ids)), "training_id": np.tile(ids, len(wanted)),
                                "as_of": pd.Timestamp(as_of)})
        x = completion_features(index, CompletionTables.of(index, export), queries)
        return queries[["nip", "training_id"]].assign(completion_probability=model.predict_proba(x))


__all__ = ["COMPLETION_FEATURES", "CompletionMixin", "CompletionModel", "NotEnoughEnrolments"]
