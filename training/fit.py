"""Fitting the engine's models from an export: the training pairs with their point-in-time features, the gap
model, the effect estimator, the completion model (`training.completion`), and the
`engine.predictor.Predictor` that holds them with its metadata.

Training code: the server and the engine never import it (`training` sits above `engine`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from engine.core import Progress
from engine.effects import (
    NotEnoughHistory,
    SLearnerEffect,
    XLearnerEffect,
    counterfactual_plan_features,
    course_catalogue,
    with_courses,
)
from engine.effects_dr import DRLearnerEffect, RLearnerEffect
from engine.gap_model import GapModel, temporal_split
from engine.predictor import Predictor
from features.constants import DEFAULT_HORIZON_MONTHS
from features.export import Export
from features.measurement import MeasurementModel
from features.pair_features import PairTables, course_pair_features, with_pair_features
from features.pit import FEATURES, PitIndex, build_features, training_pairs
from features.pit_index import to_days
from training.completion import fit_bundle_completion

EFFECT_PAIR_KINDS = ("next", "next2")  # assessment-to-assessment pairs …
EFFECT_QUERY_HORIZON = DEFAULT_HORIZON_MONTHS  # … and the query pairs at the default horizon
# The effect estimators by name (`engine.effects`, `engine.effects_dr`); "s_learner" is the level model.
EFFECT_ESTIMATORS: dict[str, Any] = {"x_learner": XLearnerEffect, "dr_learner": DRLearnerEffect,
                                     "r_learner": RLearnerEffect}


@dataclass
class TrainingData:
    """The training pairs of an export with their point-in-time features (what every model learns from)."""

    index: PitIndex
    pairs: pd.DataFrame
    features: pd.DataFrame
    target: np.ndarray
    measurement: MeasurementModel | None = None  # fitted on the assessments up to `before` (or the export)


def training_data(export: Export, *, before: date | None = None, progress: Progress | None = None
                  ) -> TrainingData:
    """Training pairs (`features.pit.training_pairs`, later assessment on or before `before`) and features."""
    say = progress or (lambda _m: None)
    say("building the point-in-time index")
    index = PitIndex.build(export)
    pairs = training_pairs(index, before=before)
    if len(pairs) < 100:
        raise ValueError(f"only {len(pairs)} training pairs: not enough history to fit a model")
    say(f"measurement model and features of {len(pairs):,} training pairs")
    measurement = MeasurementModel().fit(index, before)
    return TrainingData(index, pairs, build_features(index, pairs, measurement=measurement),
                        pairs["target"].to_numpy(np.float64), measurement)


@dataclass
class EffectRows:
    """The effect estimators' training rows: features with plan, course and pair features as of each pair's
    own as-of date, the later level, the employee of each row, and the counterfactual course rows."""

    rows: pd.DataFrame
    target: np.ndarray
    groups: np.ndarray
    counterfactual: pd.DataFrame | None


def effect_rows(export: Export, data: TrainingData, *, seed: int = 0, counterfactual: bool = True
                ) -> EffectRows:
    """The assessment-to-assessment pairs and the query pairs at the default horizon (the query pairs at
    other horizons repeat the same later measurements and would only cost time), each with its course and
    pair features as of its own as-of date (`features.pair_features`), and with `counterfactual` one
    training each pair could have taken (drawn among those targeting its competency) with its features."""
    pairs = data.pairs
    keep = (pairs["pair_kind"].isin(EFFECT_PAIR_KINDS) | (pairs["horizon_months"] == EFFECT_QUERY_HORIZON)
            ).to_numpy()
    catalogue = course_catalogue(export)
    features = data.features[keep]
    plans = pairs["plan"][keep].tolist()
    index = data.index
    tables = PairTables.of(index, export)
    nip_code = index.nips.get_indexer(pairs["nip"][keep].astype(str)).astype(np.int64)
    as_of = to_days(pairs["as_of"][keep])
    rows = with_pair_features(with_courses(features, catalogue, plans), tables, index, nip_code, as_of, plans)
    other = None
    if counterfactual:
        other = counterfactual_plan_features(index, features, seed, catalogue)
        comp_code = index.competencies.index.get_indexer(features["competency_id"].astype(str)).astype(np.int64)
        values = course_pair_features(tables, index, nip_code, comp_code, as_of, other["plan"].tolist())
        for name, v in values.items():
            other[name] = v
    return EffectRows(rows, data.target[keep], pairs["nip"].to_numpy()[keep], other)


def fit_effect_model(export: Export, data: TrainingData, *, seed: int = 0,
                     params: dict[str, Any] | None = None, progress: Progress | None = None,
                     estimator: str = "x_learner") -> Any:
    """An effect estimator (`EFFECT_ESTIMATORS`) on the `effect_rows` of the training pairs (with the
    counterfactual rows for the estimators that use the untreated arm). Raises NotEnoughHistory when too
    few pairs hold a training."""
    learner = EFFECT_ESTIMATORS[estimator](seed=seed, **(params or {}))
    r = effect_rows(export, data, seed=seed, counterfactual=getattr(learner, "blend", "x") == "x")
    return learner.fit(r.rows, r.target, r.groups, r.counterfactual, progress)


def fit_predictor(export: Export, *, seed: int = 0, before: date | None = None,
                  progress: Progress | None = None, effect_estimator: str = "x_learner",
                  gap_model_params: dict[str, Any] | None = None,
                  effect_params: dict[str, Any] | None = None, data: TrainingData | None = None) -> Predictor:
    """Train everything from an export: the gap model (temporal calibration split for its intervals) and
    the effect estimator ("x_learner", the default, "dr_learner", "r_learner" or "s_learner": see
    `engine.effects`, `engine.effects_dr` and the comparison in `training.rec_eval.compare_effect_estimators`),
    and fill `metadata`.

    With `before`, only training pairs whose later assessment is on or before it are used (back-tests).
    `data` reuses training pairs already built for this export (and `before`).
    """
    say = progress or (lambda _m: None)
    if effect_estimator not in (*EFFECT_ESTIMATORS, "s_learner"):
        raise ValueError(f"unknown effect estimator {effect_estimator!r}")
    data = data or training_data(export, before=before, progress=say)
    pairs, features, target = data.pairs, data.features, data.target
    train, calib = temporal_split(pairs["target_on"])
    say("gap model (point, quantiles, conformal calibration)")
    gap_params = dict(gap_model_params or {})
    gap_model = GapModel(seed=seed, **gap_params).fit(features[train], target[train], features[calib],
                                                      target[calib])
    gap_model.measurement_ = data.measurement  # serving's features use the biases and variances learnt here
    effect_params = dict(effect_params or {})
    effect: Any = SLearnerEffect(gap_model)
    if effect_estimator in EFFECT_ESTIMATORS:
        try:
            effect = fit_effect_model(export, data, seed=seed, params=effect_params, progress=say,
                                      estimator=effect_estimator)
        except NotEnoughHistory as exc:
            # Too little training history for the meta-learner (e.g. a new organisation): the level
            # model's own plan features still give an effect, so fall back rather than fail.
            say(f"effect model: {exc}; falling back to the S-learner")
            effect_estimator = "s_learner"
    window = {"start": pd.Timestamp(pairs["as_of"].min()).date().isoformat(),
              "end": pd.Timestamp(pairs["target_on"].max()).date().isoformat()}
    diagnostics = {k: float(v) for k, v in getattr(effect, "diagnostics_", {}).items()}
    fit_metrics = {"training_pairs": float(len(pairs)), **{f"effect_{k}": v for k, v in diagnostics.items()}}
    completion = fit_bundle_completion(export, seed=seed, before=before, index=data.index, progress=say)
    if completion is not None:
        fit_metrics["completion_examples"] = float(completion.n_examples_)
    metadata = {
        "model_version": None,
        "as_of": export.exported_on.isoformat(),
        "data_window": window,
        "snapshot_id": export.snapshot_id,
        "metrics": {},
        "fit_metrics": fit_metrics,
        "params": {"gap_model": gap_params, "effect_estimator": effect_estimator, "effect": effect_params},
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "features": list(FEATURES),
        "effect_estimator": effect_estimator,
        "seed": int(seed),
        "before": before.isoformat() if before else None,
    }
    predictor = Predictor(gap_model, effect, metadata)
    predictor.completion_model = completion
    return predictor
