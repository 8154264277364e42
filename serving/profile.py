"""The employee profile of GET /v1/employees/{nip}: small pure functions on an `Export`.

No protected attribute is read or returned: the profile names unit, position, grade, employment,
education, hiring date and status, the current level per competency (INTERFACES.md "current level":
the latest assessment on or before the as-of date, same-day ties by the contract's trust order) and the
JP of competency development completed this year against the 20 JP right (PP 17/2020).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from features.constants import ASSESSMENT_METHODS, ASSESSMENT_VALID_YEARS, JP_RIGHT_PER_YEAR
from features.eligibility import whole_years_of_service
from features.export import Export
from training.results import UnknownEmployee

PROFILE_EMPLOYEE_COLUMNS = ("nip", "unit_id", "position_id", "grade", "employment", "education", "hired_on",
                            "status")
_TRUST_RANK = {method: rank for rank, method in enumerate(ASSESSMENT_METHODS)}


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _day(value: Any) -> date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def employee_record(export: Export, nip: str) -> dict[str, Any]:
    """The employee's non-protected columns; `UnknownEmployee` when the NIP is not in the export."""
    employees = export["employees"]
    rows = employees.loc[employees["nip"] == nip, [c for c in PROFILE_EMPLOYEE_COLUMNS if c in employees]]
    if rows.empty:
        raise UnknownEmployee(f"No employee with NIP {nip} in the loaded snapshot.", field="nip")
    return rows.iloc[0].to_dict()


def current_levels(export: Export, nip: str, as_of: date) -> pd.DataFrame:
    """competency_id, level, assessed_on, method: the current level of each competency ever assessed."""
    a = export["assessments"]
    mine = a.loc[(a["nip"] == nip) & (a["assessed_on"] <= pd.Timestamp(as_of)),
                 ["competency_id", "level", "assessed_on", "method"]]
    if mine.empty:
        return mine.reset_index(drop=True)
    ranked = mine.assign(_trust=mine["method"].map(_TRUST_RANK).fillna(len(_TRUST_RANK)))
    # Latest date first, then the most trusted method of that day.
    ranked = ranked.sort_values(["competency_id", "assessed_on", "_trust"], ascending=[True, False, True])
    return ranked.drop_duplicates("competency_id").drop(columns="_trust").reset_index(drop=True)


def jp_completed(export: Export, nip: str, year: int, as_of: date) -> tuple[int, int]:
    """(JP, trainings) completed (`selesai`) by the employee in `year`, up to `as_of`."""
    records = export["training_records"]
    done = records.loc[(records["nip"] == nip) & (records["status"] == "selesai")
                       & (records["completed_on"].dt.year == year)
                       & (records["completed_on"] <= pd.Timestamp(as_of)), ["training_id"]]
    if done.empty:
        return 0, 0
    hours = done.merge(export["trainings"][["training_id", "hours_jp"]], on="training_id", how="left")
    return int(hours["hours_jp"].fillna(0).sum()), len(done)


def _lookup(table: pd.DataFrame, key: str, value: str, columns: tuple[str, ...]) -> dict[str, Any]:
    rows = table.loc[table[key] == value]
    if rows.empty:
        return {c: None for c in columns}
    row = rows.iloc[0]
    return {c: _text(row.get(c)) for c in columns}


def employee_profile(export: Export, nip: str, as_of: date | None = None) -> dict[str, Any]:
    """The profile body (without `model_version`), JSON-ready."""
    at = as_of or export.exported_on
    emp = employee_record(export, nip)
    unit_id, position_id = str(emp["unit_id"]), str(emp["position_id"])
    unit = {"unit_id": unit_id, **_lookup(export["units"], "unit_id", unit_id, ("name", "kind"))}
    position = {"position_id": position_id,
                **_lookup(export["positions"], "position_id", position_id, ("title", "position_type", "job_family"))}

    standards = export["position_standards"]
    required = standards.loc[standards["position_id"] == position_id].set_index("competency_id")["required_level"]
    competencies = export["competencies"].set_index("competency_id")
    stale_before = pd.Timestamp(at) - pd.DateOffset(years=ASSESSMENT_VALID_YEARS)
    levels = []
    for row in current_levels(export, nip, at).itertuples(index=False):
        cid = str(row.competency_id)
        req = required.get(cid)
        levels.append({
            "competency_id": cid,
            "name": _text(competencies["name"].get(cid)),
            "kind": _text(competencies["kind"].get(cid)),
            "level": round(float(row.level), 4),
            "assessed_on": _day(row.assessed_on),
            "method": str(row.method),
            "stale": bool(pd.Timestamp(row.assessed_on) < stale_before),
            "required_level": None if req is None or pd.isna(req) else int(req),
        })

    jp, count = jp_completed(export, nip, at.year, at)
    hired_on = _day(emp.get("hired_on"))
    years = None
    if hired_on is not None:
        years = int(whole_years_of_service(pd.Series([pd.Timestamp(hired_on)]), at)[0])
    return {
        "nip": nip,
        "as_of": at,
        "status": str(emp["status"]),
        "unit": unit,
        "position": position,
        "grade": str(emp["grade"]),
        "employment": str(emp["employment"]),
        "education": str(emp["education"]),
        "hired_on": hired_on,
        "years_of_service": years,
        "current_levels": levels,
        "jp": {
            "year": at.year,
            "completed_jp": jp,
            "right_jp": JP_RIGHT_PER_YEAR,
            "remaining_jp": max(0, JP_RIGHT_PER_YEAR - jp),
            "meets_right": jp >= JP_RIGHT_PER_YEAR,
            "trainings_completed": count,
        },
    }
