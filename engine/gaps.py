"""Gaps: per required competency of one employee, the current and predicted level (given a plan), its
interval, the gap to the required level, JPM and its band, and why (contributions and evidence); also for
an employee sent inline (`inline_export`: the request's rows with the store's reference tables).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from engine import explain as words
from engine.core import DEFAULT_JPM_BANDS, PredictorCore
from engine.results import (
    CompetencyGap,
    Contribution,
    EmployeeGaps,
    EngineError,
    Evidence,
    Explanation,
    UnknownPosition,
    UnknownUnit,
)
from engine.snapshot import Context
from features.constants import (
    ACTIVE_STATUS,
    DEFAULT_HORIZON_MONTHS,
    EDUCATIONS,
    EMPLOYMENTS,
    GRADES,
    TABLES_BY_NAME,
)
from features.contract import ErrorLog, RawTable, validate_tables
from features.export import PANDAS_DTYPES, Export, empty_table
from features.pit import PitIndex, queries_frame

TOP_CONTRIBUTIONS = 6  # contributions shown per competency; the rest are summed into "Faktor lain"
INLINE_NIP = "inline"  # the internal id of an employee sent inline: never a real NIP (not 18 digits)
JPM_BANDS = ("kurang_memenuhi_syarat", "masih_memenuhi_syarat", "memenuhi_syarat")
PLAN_EFFECT_FEATURE = "plan_n_targeting"  # the contribution that carries the plan's effect τ


def jpm_band(jpm: float, bands: Sequence[float] = DEFAULT_JPM_BANDS) -> str:
    """The JPM category of a match in % (Settings.jpm_bands: < first kurang, < second masih memenuhi)."""
    low, high = tuple(bands)
    if jpm < low:
        return JPM_BANDS[0]
    if jpm < high:
        return JPM_BANDS[1]
    return JPM_BANDS[2]


class GapsMixin(PredictorCore):
    """`gaps` and `gaps_inline` of `Predictor`."""

    def gaps(self, export: Export, nip: str, *, as_of: date | None = None,
             horizon_months: int = DEFAULT_HORIZON_MONTHS, plan: Sequence[str] = (),
             position_id: str | None = None, explain: bool = True, lang: str = "id") -> EmployeeGaps:
        """Per required competency: current, predicted (given `plan`), interval, required, gap, JPM."""
        self._check(horizon_months, lang)
        as_of = self._as_of(export, as_of)
        ctx = self._context(export)
        index = ctx.index
        employee = self._employee(index, nip)
        plan = self._plan(ctx, plan)
        position = self._position(ctx, position_id or str(employee["position_id"]))
        queries = self._position_queries(index, str(nip), as_of, horizon_months, position)
        return self._gaps_body(ctx, queries, str(nip), as_of, horizon_months, plan, position, explain, lang)

    @staticmethod
    def _position(ctx: Context, position_id: str) -> str:
        if position_id not in ctx.tables.positions:
            raise UnknownPosition(f"unknown position {position_id}", field="position_id")
        return position_id

    def _position_queries(self, index: PitIndex, nip: str, as_of: date, horizon_months: int,
                          position_id: str) -> pd.DataFrame:
        """Query rows for the competencies `position_id` requires, with its required levels.

        The features stay those of the employee's own position (the model's `required_level` feature
        included): a prediction of the level does not depend on which standard it is compared with.
        """
        comps, target = index.standards_of(position_id)
        q = self._own_queries(index, nip, comps, as_of, horizon_months)
        q["target_required"] = target
        return q

    @staticmethod
    def _own_queries(index: PitIndex, nip: str, competency_ids: Sequence[str] | np.ndarray, as_of: date,
                     horizon_months: int) -> pd.DataFrame:
        """Query rows of `nip` for `competency_ids`, with the employee's own position's required level (the
        model's `required_level` feature; NaN where that position does not require the competency)."""
        own = dict(zip(*index.standards_of(str(index.employees.at[nip, "position_id"])), strict=True))
        required = np.array([own.get(c, np.nan) for c in competency_ids], dtype=np.float64)
        return queries_frame(np.full(len(competency_ids), nip, dtype=object),
                             np.asarray(competency_ids, dtype=object), required, as_of, horizon_months)

    def _gaps_body(self, ctx: Context, queries: pd.DataFrame, nip: str, as_of: date, horizon_months: int,
                   plan: tuple[str, ...], position_id: str, explain: bool, lang: str,
                   shown_nip: str | None = None) -> EmployeeGaps:
        plans = [plan] * len(queries) if plan else None
        base_x, plan_x, levels, explanation = self._explained_levels(
            ctx, queries.drop(columns=["target_required"]), plans, explain=explain)
        required = queries["target_required"].to_numpy(np.float64)
        levels["required_level"] = required
        levels["gap"] = np.maximum(required - levels["predicted_level"].to_numpy(), 0.0)
        bands = self.jpm_bands
        records = levels.to_dict("records")
        values = plan_x.to_dict("records") if explanation is not None else []
        names = base_x["competency_name"].to_numpy(dtype=object)
        items = []
        for i, row in enumerate(records):
            jpm = 100.0 * float(row["predicted_level"]) / float(row["required_level"])
            body = None
            if explanation is not None:
                body = self._explanation(ctx.index, explanation, i, values[i], row, nip, as_of, lang)
            items.append(CompetencyGap(
                competency_id=str(row["competency_id"]), name=str(names[i]),
                required_level=int(row["required_level"]),
                current_level=(None if pd.isna(row["current_level"])
                               else round(float(row["current_level"]), 6)),
                predicted_level=float(row["predicted_level"]), lower=float(row["lower"]),
                upper=float(row["upper"]), gap=float(row["gap"]), jpm=round(jpm, 2),
                jpm_band=jpm_band(jpm, bands), thin_evidence=bool(row["thin_evidence"]), explanation=body))
        return EmployeeGaps(nip=shown_nip or nip, model_version=self.model_version, as_of=as_of,
                            horizon_months=int(horizon_months), position_id=position_id,
                            total_gap=float(levels["gap"].sum()), competencies=items)

    def _explanation(self, index: PitIndex, explanation: Any, i: int, values: dict[str, Any],
                     row: dict[str, Any], nip: str, as_of: date, lang: str) -> Explanation:
        frame = explanation.contributions
        names = list(frame.columns)
        contributions = frame.to_numpy(np.float64)[i].copy()
        plan_effect = float(row["predicted_level"] - row["base_level"])
        if plan_effect != 0.0:
            # The plan's effect τ is carried by "trainings planned for this competency".
            if PLAN_EFFECT_FEATURE not in names:
                names.append(PLAN_EFFECT_FEATURE)
                contributions = np.r_[contributions, 0.0]
            contributions[names.index(PLAN_EFFECT_FEATURE)] += plan_effect
        base_value = float(explanation.base_value[i])
        # Make the sum exact in floating point too: the rounding remainder joins the largest item.
        remainder = float(row["predicted_level"]) - base_value - float(contributions.sum())
        contributions[int(np.argmax(np.abs(contributions)))] += remainder
        rendered = words.render(pd.Series(contributions, index=names), values, lang, top=TOP_CONTRIBUTIONS)
        evidence = [Evidence(kind=e["kind"], text=e["text"], date=e["date"], detail=e["detail"])
                    for e in words.evidence(index, nip, str(row["competency_id"]), as_of, lang)]
        return Explanation(base_value=base_value,
                           contributions=[Contribution(**item) for item in rendered], evidence=evidence)

    def gaps_inline(self, export: Export, employee: dict[str, Any], assessments: list[dict[str, Any]],
                    performance_reviews: list[dict[str, Any]], training_records: list[dict[str, Any]], *,
                    as_of: date | None = None, horizon_months: int = DEFAULT_HORIZON_MONTHS,
                    lang: str = "id") -> EmployeeGaps:
        """Gaps of an employee the store does not hold: the reference tables come from `export`."""
        self._check(horizon_months, lang)
        as_of = self._as_of(export, as_of)
        one = inline_export(export, employee, assessments, performance_reviews, training_records, as_of)
        try:
            result = self.gaps(one, INLINE_NIP, as_of=as_of, horizon_months=horizon_months, lang=lang)
        finally:
            self._forget(one)
        return result


_EMPLOYEE_FIELDS = ("position_id", "unit_id", "grade", "employment", "education", "hired_on")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _inline_table(name: str, rows: list[dict[str, Any]], nip: str, field_name: str, as_of: date
                  ) -> pd.DataFrame:
    """Rows of one table sent inline, parsed and checked by the contract's own validator, as if they were
    an export file; the first broken rule becomes an EngineError naming the field (`assessments[2].level`)."""
    spec = TABLES_BY_NAME[name]
    if not rows:
        return empty_table(spec)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise EngineError(f"{field_name}[{i}] must be an object", field=f"{field_name}[{i}]")
    wanted = [c for c in spec.columns if c.name == "nip" or c.required or any(c.name in r for r in rows)]
    columns = {c.name: pd.Series([nip if c.name == "nip" else _text(r.get(c.name)) for r in rows],
                                 dtype="str") for c in wanted}
    raw = RawTable(spec, f"{field_name}", columns, np.arange(2, len(rows) + 2))
    log = ErrorLog(1)
    typed = validate_tables({name: raw}, as_of, log, [])
    if log.total:
        error = log.errors[0]
        where = f"{field_name}[{(error.row or 2) - 2}]" + (f".{error.column}" if error.column else "")
        raise EngineError(f"{where}: {error.rule}", field=where)
    return typed[name]


def _employee_row(employee: dict[str, Any], as_of: date) -> dict[str, Any]:
    """The inline employee's fields, checked against the contract's enumerations."""
    missing = [f for f in _EMPLOYEE_FIELDS if employee.get(f) in (None, "")]
    if missing:
        raise EngineError(f"employee.{missing[0]} is required", field=f"employee.{missing[0]}")
    row = {f: str(employee[f]) for f in ("position_id", "unit_id", "grade", "employment", "education")}
    for name, choices in (("grade", GRADES), ("employment", EMPLOYMENTS), ("education", EDUCATIONS)):
        if row[name] not in choices:
            raise EngineError(f"employee.{name} must be one of: {', '.join(choices)}",
                              field=f"employee.{name}")
    try:
        hired = pd.Timestamp(date.fromisoformat(_text(employee["hired_on"]) or ""))
    except ValueError:
        raise EngineError("employee.hired_on must be a date YYYY-MM-DD", field="employee.hired_on") from None
    if hired > pd.Timestamp(as_of):
        raise EngineError("employee.hired_on is after the as-of date", field="employee.hired_on")
    return row | {"hired_on": hired}


def inline_export(export: Export, employee: dict[str, Any], assessments: list[dict[str, Any]],
                  performance_reviews: list[dict[str, Any]], training_records: list[dict[str, Any]],
                  as_of: date) -> Export:
    """A one-employee Export: the request's rows (under the synthetic id INLINE_NIP) and the reference
    tables of `export` (units, competencies, positions, standards, trainings, targets)."""
    row = _employee_row(employee, as_of)
    if row["position_id"] not in set(export["positions"]["position_id"].astype(str)):
        raise UnknownPosition(f"unknown position {row['position_id']}", field="employee.position_id")
    if row["unit_id"] not in set(export["units"]["unit_id"].astype(str)):
        raise UnknownUnit(f"unknown unit {row['unit_id']}", field="employee.unit_id")
    spec = TABLES_BY_NAME["employees"]
    row["status"] = ACTIVE_STATUS
    employees = pd.DataFrame({c.name: pd.Series([row.get(c.name)], dtype=PANDAS_DTYPES[c.type])
                              for c in spec.columns})
    employees["nip"] = pd.Series([INLINE_NIP], dtype="str")
    # Protected attributes are not asked for: they stay empty, and never reach a feature anyway.
    tables = dict(export.tables)
    tables["employees"] = employees
    tables["assessments"] = _inline_table("assessments", assessments, INLINE_NIP, "assessments", as_of)
    tables["performance_reviews"] = _inline_table("performance_reviews", performance_reviews, INLINE_NIP,
                                                  "performance_reviews", as_of)
    tables["training_records"] = _inline_table("training_records", training_records, INLINE_NIP,
                                               "training_records", as_of)
    tables["awards"] = empty_table(TABLES_BY_NAME["awards"])
    comps = set(export["competencies"]["competency_id"].astype(str))
    for i, c in enumerate(tables["assessments"]["competency_id"].astype(str)):
        if c not in comps:
            raise EngineError(f"assessments[{i}].competency_id: unknown competency {c}",
                              field=f"assessments[{i}].competency_id")
    known = set(export["trainings"]["training_id"].astype(str))
    for i, t in enumerate(tables["training_records"]["training_id"].astype(str)):
        if t not in known:
            raise EngineError(f"training_records[{i}].training_id: unknown training {t}",
                              field=f"training_records[{i}].training_id")
    return Export(tables, exported_on=as_of, organisation=export.organisation,
                  contract_version=export.contract_version, snapshot_id=f"inline-{uuid.uuid4().hex}")
