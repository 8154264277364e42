"""Fitting the engine's models from an export: the training pairs with their point-in-time features, the gap
model, the effect estimator, and the `engine.predictor.Predictor` that holds them with its metadata.

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
from engine.gap_model import GapModel, temporal_split
from engine.predictor import Predictor
from features.constants import DEFAULT_HORIZON_MONTHS
from features.export import Export
from features.pit import FEATURES, PitIndex, build_features, training_pairs

EFFECT_PAIR_KINDS = ("next", "next2")  # assessment-to-assessment pairs …
EFFECT_QUERY_HORIZON = DEFAULT_HORIZON_MONTHS  # … and the query pairs at the default horizon


@dataclass
class TrainingData:
    """The training pairs of an export with their point-in-time features (what every model learns from)."""

    index: PitIndex
    pairs: pd.DataFrame
    features: pd.DataFrame
    target: np.ndarray


def training_data(export: Export, *, before: date | None = None, progress: Progress | None = None
                  ) -> TrainingData:
    """Training pairs (`features.pit.training_pairs`, later assessment on or before `before`) and features."""
    say = progress or (lambda _m: None)
    say("building the point-in-time index")
    index = PitIndex.build(export)
    pairs = training_pairs(index, before=before)
    if len(pairs) < 100:
        raise ValueError(f"only {len(pairs)} training pairs: not enough history to fit a model")
    say(f"features of {len(pairs):,} training pairs")
    return TrainingData(index, pairs, build_features(index, pairs), pairs["target"].to_numpy(np.float64))


def fit_effect_model(export: Export, data: TrainingData, *, seed: int = 0,
                     params: dict[str, Any] | None = None, progress: Progress | None = None
                     ) -> XLearnerEffect:
    """The X-learner on the assessment-to-assessment pairs and the query pairs at the default horizon (the
    query pairs at other horizons repeat the same later measurements and would only cost time).
    Raises NotEnoughHistory when too few pairs hold a training."""
    pairs = data.pairs
    keep = (pairs["pair_kind"].isin(EFFECT_PAIR_KINDS) | (pairs["horizon_months"] == EFFECT_QUERY_HORIZON)
            ).to_numpy()
    catalogue = course_catalogue(export)
    features = data.features[keep]
    courses = with_courses(features, catalogue, pairs["plan"][keep].tolist())
    learner = XLearnerEffect(seed=seed, **(params or {}))
    counterfactual = (counterfactual_plan_features(data.index, features, seed, catalogue)
                      if learner.blend == "x" else None)
    return learner.fit(courses, data.target[keep], pairs["nip"].to_numpy()[keep], counterfactual, progress)


def fit_predictor(export: Export, *, seed: int = 0, before: date | None = None,
                  progress: Progress | None = None, effect_estimator: str = "x_learner",
                  gap_model_params: dict[str, Any] | None = None,
                  effect_params: dict[str, Any] | None = None, data: TrainingData | None = None) -> Predictor:
    """Train everything from an export: the gap model (temporal calibration split for its intervals) and
    the effect estimator ("x_learner", the default, or "s_learner": see `engine.effects` and the
    comparison in `training.rec_eval.compare_effect_estimators`), and fill `metadata`.

    With `before`, only training pairs whose later assessment is on or before it are used (back-tests).
    `data` reuses training pairs already built for this export (and `before`).
    """
    say = progress or (lambda _m: None)
    if effect_estimator not in ("x_learner", "s_learner"):
        raise ValueError(f"unknown effect estimator {effect_estimator!r}")
    data = data or training_data(export, before=before, progress=say)
    pairs, features, target = data.pairs, data.features, data.target
    train, calib = temporal_split(pairs["target_on"])
    say("gap model (point, quantiles, conformal calibration)")
    gap_params = dict(gap_model_params or {})
    gap_model = GapModel(seed=seed, **gap_params).fit(features[train], target[train], features[calib],
                                                      target[calib])
    effect_params = dict(effect_params or {})
    effect: Any = SLearnerEffect(gap_model)
    if effect_estimator == "x_learner":
        try:
            effect = fit_effect_model(export, data, seed=seed, params=effect_params, progress=say)
        except NotEnoughHistory as exc:
            # Too little training history for the meta-learner (e.g. a new organisation): the level
            # model's own plan features still give an effect, so fall back rather than fail.
            say(f"effect model: {exc}; falling back to the S-learner")
            effect_estimator = "s_learner"
    window = {"start": pd.Timestamp(pairs["as_of"].min()).date().isoformat(),
              "end": pd.Timestamp(pairs["target_on"].max()).date().isoformat()}
    diagnostics = {k: float(v) for k, v in getattr(effect, "diagnostics_", {}).items()}
    metadata = {
        "model_version": None,
        "as_of": export.exported_on.isoformat(),
        "data_window": window,
        "snapshot_id": export.snapshot_id,
        "metrics": {},
        "fit_metrics": {"training_pairs": float(len(pairs)),
                        **{f"effect_{k}": v for k, v in diagnostics.items()}},
        "params": {"gap_model": gap_params, "effect_estimator": effect_estimator, "effect": effect_params},
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "features": list(FEATURES),
        "effect_estimator": effect_estimator,
        "seed": int(seed),
        "before": before.isoformat() if before else None,
    }
    return Predictor(gap_model, effect, metadata)
