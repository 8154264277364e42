"""What every answer of `Predictor` shares: its configuration, request validation, and the predicted
levels of query rows with and without a plan (the gap model plus the effect τ of the plan).

`PredictorCore` is the base of the answer mixins (`engine.gaps`, `engine.recommend`, `engine.whatif`,
`engine.units_summary`); `engine.predictor.Predictor` composes them and makes the object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from engine import explain as words
from engine.effects import with_courses
from engine.results import EngineError, UnknownEmployee, UnknownTraining
from engine.snapshot import Context, SnapshotTables
from features.constants import LEVEL_MAX, LEVEL_MIN, MAX_HORIZON_MONTHS
from features.export import Export
from features.pit import PLAN_FEATURES, PitIndex, build_features, plan_features, prediction_queries
from features.settings import Settings

GAIN_EPSILON = 0.01  # levels: an expected gain at or below this is noise, not a reason to train
THIN_PARTICIPANTS = 5  # fewer comparable past participants than this: thin evidence
LANGS = ("id", "en")
# The configuration a Predictor is given once (`Predictor.configure`); until then the Settings defaults
# (read from the field definitions: nothing here reads the environment).
DEFAULT_JPM_BANDS: tuple[float, float] = tuple(Settings.model_fields["jpm_bands"].default)
DEFAULT_SEED: int = int(Settings.model_fields["seed"].default)

Progress = Callable[[str], None]


def _t(lang: str, id_text: str, en_text: str) -> str:
    return en_text if lang == "en" else id_text


def _num(x: float, lang: str, decimals: int = 2) -> str:
    return words.number(float(x), lang, decimals)


class PredictorCore(SnapshotTables):
    """The attributes `Predictor.__init__` sets (and `configure` changes) and the helpers every answer uses."""

    gap_model: Any  # level at the horizon with its interval and explanation (`engine.gap_model`)
    effect_model: Any  # what a plan adds to a competency (`engine.effects`)
    metadata: dict[str, Any]
    gain_epsilon: float
    thin_participants: int
    jpm_bands: tuple[float, float]  # Settings.jpm_bands, given by `configure`
    seed: int  # Settings.seed (drift), given by `configure`

    @property
    def model_version(self) -> str:
        return str(self.metadata.get("model_version") or "unregistered")

    # -- validation ------------------------------------------------------------------------------
    @staticmethod
    def _as_of(export: Export, as_of: date | None) -> date:
        if as_of is None:
            return export.exported_on
        if isinstance(as_of, datetime):
            as_of = as_of.date()
        if as_of > export.exported_on:
            raise EngineError(f"as_of {as_of} is after the export date {export.exported_on}: no data from "
                              "the future", field="as_of")
        return as_of

    @staticmethod
    def _check(horizon_months: int, lang: str) -> None:
        if not 1 <= int(horizon_months) <= MAX_HORIZON_MONTHS:
            raise EngineError(f"horizon_months must be between 1 and {MAX_HORIZON_MONTHS}",
                              field="horizon_months")
        if lang not in LANGS:
            raise EngineError(f"lang must be one of {', '.join(LANGS)}", field="lang")

    @staticmethod
    def _employee(index: PitIndex, nip: str) -> pd.Series:
        nip = str(nip)
        if nip not in index.employees.index:
            # The NIP itself is not echoed: its digits encode the birth date and sex.
            raise UnknownEmployee("unknown employee (nip)", field="nip")
        return index.employees.loc[nip]

    @staticmethod
    def _known_nips(index: PitIndex, nips: Iterable[str]) -> list[str]:
        out = [str(n) for n in nips]
        missing = [i for i, n in enumerate(out) if n not in index.employees.index]
        if missing:
            # Positions, not values: a NIP's digits encode the birth date and sex.
            raise UnknownEmployee(f"{len(missing)} unknown employee(s) in nips, first at nips[{missing[0]}]",
                                  field=f"nips[{missing[0]}]")
        return list(dict.fromkeys(out))

    @staticmethod
    def _plan(ctx: Context, plan: Sequence[str]) -> tuple[str, ...]:
        ids = tuple(dict.fromkeys(str(t) for t in plan))
        unknown = [t for t in ids if t not in ctx.tables.info]
        if unknown:
            raise UnknownTraining(f"unknown training {unknown[0]}", field="plan")
        return ids

    # -- levels with a plan ----------------------------------------------------------------------
    @staticmethod
    def _with_plans(ctx: Context, base_x: pd.DataFrame, plans: Sequence[Sequence[str]]) -> pd.DataFrame:
        """`base_x` (features with the empty plan) with the plan and course features of `plans[i]` on
        row i."""
        index = ctx.index
        comp_code = index.competencies["code"].reindex(base_x["competency_id"].astype(str)).to_numpy(np.int64)
        planned = plan_features(index, comp_code, base_x["current_level"].to_numpy(np.float64), plans)
        out = base_x.copy()
        for name in PLAN_FEATURES:
            out[name] = planned[name]
        return with_courses(out, ctx.catalogue, plans)

    def _effect(self, plan_x: pd.DataFrame, base_x: pd.DataFrame, base: pd.DataFrame, interval: bool = True
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.effect_model.effect(plan_x, base_x, base, interval=interval)

    def _levels(self, ctx: Context, queries: pd.DataFrame, plans: Sequence[Sequence[str]] | None = None
                ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(features with the empty plan, features with the plans, levels) for the query rows.

        levels: base_level (empty plan), predicted_level, lower, upper, tau, gap, current_level (null
        when never assessed), thin_evidence.
        """
        base_x, plan_x, out, _ = self._explained_levels(ctx, queries, plans, explain=False)
        return base_x, plan_x, out

    def _explained_levels(self, ctx: Context, queries: pd.DataFrame, plans: Sequence[Sequence[str]] | None,
                          *, explain: bool) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Any]:
        """`_levels` and, with `explain`, the gap model's explanation of the empty-plan rows (the rows are
        encoded once for both)."""
        # The measurement model learnt at training time (None: the export's own, features.measurement).
        base_x = build_features(ctx.index, queries, measurement=getattr(self.gap_model, "measurement_", None))
        explanation = None
        if explain and len(base_x) and hasattr(self.gap_model, "predict_and_explain"):
            base, explanation = self.gap_model.predict_and_explain(base_x)
        else:
            base = self.gap_model.predict(base_x)
            if explain and len(base_x):
                explanation = self.gap_model.explain(base_x)
        level = base["predicted_level"].to_numpy(np.float64)
        lower, upper = base["lower"].to_numpy(np.float64), base["upper"].to_numpy(np.float64)
        tau = np.zeros(len(base_x))
        plan_x = base_x
        if plans is not None and any(len(p) for p in plans):
            plan_x = self._with_plans(ctx, base_x, plans)
            tau, t_lo, t_hi = self._effect(plan_x, base_x, base)
            lower = np.clip(lower + t_lo, LEVEL_MIN, LEVEL_MAX)
            upper = np.clip(upper + t_hi, LEVEL_MIN, LEVEL_MAX)
        predicted = np.clip(level + tau, LEVEL_MIN, LEVEL_MAX)
        required = queries["required_level"].to_numpy(np.float64)
        assessed = base_x["current_level_source"].to_numpy() == "assessed"
        out = pd.DataFrame({
            "nip": queries["nip"].astype(str).to_numpy(),
            "competency_id": queries["competency_id"].astype(str).to_numpy(),
            "required_level": required,
            "current_level": np.where(assessed, base_x["current_level"].to_numpy(np.float64), np.nan),
            "base_level": level,
            "predicted_level": predicted,
            "lower": np.minimum(lower, predicted),
            "upper": np.maximum(upper, predicted),
            "tau": predicted - level,
            "gap": np.maximum(required - predicted, 0.0),
            "thin_evidence": base_x["thin_evidence"].to_numpy(np.float64) > 0.5,
        }, index=queries.index)
        return base_x, plan_x, out, explanation

    def _queries(self, index: PitIndex, nips: Sequence[str] | None, as_of: date, horizon_months: int
                 ) -> pd.DataFrame:
        return prediction_queries(index, as_of, horizon_months, nips=nips).reset_index(drop=True)
