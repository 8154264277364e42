"""What-if: one employee's gaps with a plan of trainings (and optionally another position's standard)
against the baseline (no plan, own position), with the change per competency and a summary in words.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.core import _num, _t
from engine.gaps import GapsMixin
from engine.results import CompetencyDelta, WhatIf
from features.constants import DEFAULT_HORIZON_MONTHS
from features.export import Export


class WhatIfMixin(GapsMixin):
    """`whatif` of `Predictor` (built on `gaps`)."""

    def whatif(self, export: Export, nip: str, *, plan: Sequence[str], position_id: str | None = None,
               horizon_months: int = DEFAULT_HORIZON_MONTHS, lang: str = "id") -> WhatIf:
        """Baseline (empty plan, own position) vs the scenario (plan, optionally another position)."""
        baseline = self.gaps(export, nip, horizon_months=horizon_months, lang=lang)
        scenario = self.gaps(export, nip, horizon_months=horizon_months, plan=plan, position_id=position_id,
                             lang=lang)
        ctx = self._context(export)
        plan = self._plan(ctx, plan)
        index = ctx.index
        # Levels of every competency of either side, with and without the plan, for the deltas.
        comps = list(dict.fromkeys([c.competency_id for c in baseline.competencies]
                                   + [c.competency_id for c in scenario.competencies]))
        q = self._own_queries(index, str(nip), comps, baseline.as_of, horizon_months)
        _, _, before = self._levels(ctx, q)
        _, _, after = self._levels(ctx, q, [plan] * len(q) if plan else None)
        gap_before = {c.competency_id: c.gap for c in baseline.competencies}
        gap_after = {c.competency_id: c.gap for c in scenario.competencies}
        names = index.competencies["name"]
        delta, summary = [], []
        for i, comp in enumerate(comps):
            change = float(after["predicted_level"].iloc[i] - before["predicted_level"].iloc[i])
            g0, g1 = gap_before.get(comp, 0.0), gap_after.get(comp, 0.0)
            delta.append(CompetencyDelta(comp, round(change, 6), round(g1 - g0, 6)))
            if abs(change) > 1e-6 or abs(g1 - g0) > 1e-6:
                name = str(names.get(comp, comp))
                p0, p1 = float(before["predicted_level"].iloc[i]), float(after["predicted_level"].iloc[i])
                levels_text = f"{_num(p0, lang)} → {_num(p1, lang)}"
                gaps_text = f"{_num(g0, lang)} → {_num(g1, lang)}"
                summary.append(_t(lang, f"{name}: prediksi {levels_text}, kesenjangan {gaps_text}.",
                                  f"{name}: predicted {levels_text}, gap {gaps_text}."))
        if position_id and position_id != baseline.position_id:
            title = ctx.tables.positions.get(position_id, position_id)
            summary.insert(0, _t(lang, f"Skenario diukur terhadap standar jabatan {title}.",
                                 f"The scenario is measured against the standard of {title}."))
        if plan:
            _, positions = self._eligible(ctx, [str(nip)], baseline.as_of)
            open_ids = set(ctx.tables.training_ids.to_numpy()[positions])
            for t in plan:
                if t not in open_ids:
                    summary.append(_t(lang, f"Catatan: pegawai ini tidak memenuhi syarat untuk {t}.",
                                      f"Note: this employee is not eligible for training {t}."))
        totals = f"{_num(baseline.total_gap, lang)} → {_num(scenario.total_gap, lang)}"
        summary.append(_t(lang, f"Total kesenjangan {totals}.", f"Total gap {totals}."))
        return WhatIf(nip=str(nip), model_version=self.model_version, baseline=baseline, scenario=scenario,
                      delta=delta, total_gap_before=baseline.total_gap, total_gap_after=scenario.total_gap,
                      summary=summary)
