"""Summaries over many employees: a unit's gaps, JPM bands, JP compliance, most-recommended trainings and
learning culture beside the city's units (`unit_summary`, `engine.culture`), and the population drift of
the served snapshot against the model's training population (`drift_summary`, `engine.drift`).
"""

from __future__ import annotations

import logging
import weakref
from datetime import date
from typing import Any

import numpy as np

from engine.culture import CultureTable, culture_table, learning_culture
from engine.drift import drift_report
from engine.gaps import JPM_BANDS, jpm_band
from engine.recommend import RecommendMixin
from engine.results import UnitSummary, UnitSummaryCompetency, UnknownUnit
from engine.snapshot import Context
from engine.units import unit_scope
from features.constants import ACTIVE_STATUS, DEFAULT_HORIZON_MONTHS, JP_RIGHT_PER_YEAR
from features.export import Export
from features.values import finite

log = logging.getLogger("engine.predictor")  # the Predictor's log (its name before the engine was split)


class UnitSummaryMixin(RecommendMixin):
    """`unit_summary` and `drift_summary` of `Predictor` (built on the recommendations' pairs)."""

    # Per snapshot (weakly: it goes when `_cache` lets the snapshot's Context go), per as-of date: every
    # unit's learning-culture counts (`Predictor.__init__` and `__setstate__` make it; never pickled).
    _culture: list[tuple[weakref.ref[Context], dict[date, CultureTable]]]

    def _culture_table(self, ctx: Context, as_of: date) -> CultureTable:
        """Every unit's learning-culture counts at `as_of`, built once per snapshot and date: the city-wide
        distribution beside a unit's figures needs all units, so one request computes them all."""
        with self._lock:
            tables = next((t for ref, t in self._culture if ref() is ctx), None)
            if tables is None:
                tables = {}
                # The snapshots `_cache` still holds, and this one.
                self._culture = [(ref, t) for ref, t in self._culture if ref() is not None][-1:]
                self._culture.append((weakref.ref(ctx), tables))
        return self._remember(tables, as_of, lambda: culture_table(ctx.export, as_of))

    def unit_summary(self, export: Export, unit_id: str, *, horizon_months: int = DEFAULT_HORIZON_MONTHS,
                     lang: str = "id") -> UnitSummary:
        """The unit's (with its sub-units') gaps per competency, employees below standard, JPM bands, JP
        compliance, the trainings recommended most and its learning culture beside the city's units."""
        self._check(horizon_months, lang)
        units = export["units"].set_index(export["units"]["unit_id"].astype(str))
        if str(unit_id) not in units.index:
            raise UnknownUnit(f"unknown unit {unit_id}", field="unit_id")
        as_of = export.exported_on
        ctx = self._context(export)
        index = ctx.index
        emp = index.employees
        # The unit with its sub-units (a kecamatan with its kelurahan, an OPD with its schools), as plans do.
        scope = unit_scope(export["units"], [str(unit_id)])
        in_unit = emp["unit_id"].astype(str).isin(scope) & (emp["status"] == ACTIVE_STATUS)
        members = [str(n) for n in emp.index[in_unit]]
        competencies: list[UnitSummaryCompetency] = []
        by_type: list[dict[str, Any]] = []
        bands = {b: 0 for b in JPM_BANDS}
        top: list[dict[str, Any]] = []
        jp = self._jp_year(ctx, as_of).reindex(members).fillna(0.0)
        meeting = int((jp >= JP_RIGHT_PER_YEAR).sum())
        if members:
            queries = self._queries(index, members, as_of, horizon_months)
            base_x, _, levels = self._levels(ctx, queries)
            levels["name"] = base_x["competency_name"].to_numpy()
            levels["below"] = levels["predicted_level"] < levels["required_level"]
            per = levels.groupby(["competency_id", "name"], sort=True).agg(
                employees=("nip", "nunique"), mean_gap=("gap", "mean"), share=("below", "mean")).reset_index()
            competencies = [UnitSummaryCompetency(str(r.competency_id), str(r.name), int(r.employees),
                                                  round(float(r.mean_gap), 6), round(float(r.share), 6))
                            for r in per.itertuples(index=False)]
            levels["position_type"] = emp["position_type"].reindex(levels["nip"]).astype(str).to_numpy()
            pt = levels.groupby(["position_type", "competency_id"], sort=True)["gap"].mean().reset_index()
            by_type = [{"position_type": r.position_type, "competency_id": r.competency_id,
                        "mean_gap": round(float(r.gap), 6)} for r in pt.itertuples(index=False)]
            # JPM per employee: the mean over required competencies of min(100, predicted / required),
            # capped so that a surplus in one competency does not hide a gap in another.
            jpm = np.minimum(100.0 * levels["predicted_level"] / levels["required_level"], 100.0)
            for value in jpm.groupby(levels["nip"]).mean():
                bands[jpm_band(float(value), self.jpm_bands)] += 1
            pairs = self._pair_gains(export, ctx, queries, members, as_of, levels=levels, base_x=base_x)
            ranked = self.rank_pairs(pairs, limit=5)
            titles = {t: info["title"] for t, info in ctx.tables.info.items()}
            agg = ranked.groupby("training_id").agg(employees_recommended=("nip", "nunique"),
                                                    total_expected_gain=("expected_gain", "sum"))
            agg = agg.reset_index()
            agg = agg.sort_values(["total_expected_gain", "training_id"], ascending=[False, True]).head(10)
            top = [{"training_id": r.training_id, "title": titles.get(str(r.training_id), str(r.training_id)),
                    "employees_recommended": int(r.employees_recommended),
                    "total_expected_gain": round(float(r.total_expected_gain), 6)} for r in agg.itertuples()]
        return UnitSummary(
            unit_id=str(unit_id), name=str(units.loc[str(unit_id), "name"]), model_version=self.model_version,
            as_of=as_of, horizon_months=int(horizon_months), employees=len(members),
            competencies=competencies, gap_by_position_type=by_type, jpm_bands=bands,
            jp_compliance={"year": as_of.year, "employees_meeting_20_jp": meeting,
                           "share": round(meeting / len(members), 6) if members else 0.0},
            top_trainings=top,
            learning_culture=learning_culture(self._culture_table(ctx, as_of), str(unit_id), lang))

    # -- drift -----------------------------------------------------------------------------------
    def drift_summary(self, export: Export) -> dict[str, Any]:
        """Population drift (PSI) of this model's training population vs `export`, JSON-ready:
        `{"status", "psi_max", "prediction_psi", "features": {name: psi}}` (`engine.drift`).

        Status "unknown" with None values when the bundle carries no drift reference or the computation
        fails: the server calls this in the background, so it logs and never raises.
        """
        unknown: dict[str, Any] = {"status": "unknown", "psi_max": None, "prediction_psi": None, "features": {}}
        if not self.metadata.get("drift_reference"):
            return unknown
        try:
            report = drift_report(export, self, seed=self.seed)
            features = {str(f): finite(v) for f, v in zip(report.features["feature"], report.features["psi"],
                                                            strict=True)}
            return {"status": report.status, "psi_max": finite(report.psi_max),
                    "prediction_psi": finite(report.prediction_psi), "features": features}
        except Exception as exc:  # noqa: BLE001 - drift is a diagnostic: it must never take serving down
            log.warning("drift not computed for model %s: %s: %s", self.model_version,
                        type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
            return unknown
