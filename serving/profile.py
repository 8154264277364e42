"""The employee profile of GET /v1/employees/{nip}: small pure functions on an `Export`.

No protected attribute is read or returned: the profile names unit, position, grade, employment,
education, hiring date and status, the current level per competency (INTERFACES.md "current level":
the latest assessment on or before the as-of date, same-day ties by the contract's trust order) and the
JP of competency development completed this year against the 20 JP right (PP 17/2020).

Speed: filtering the whole assessments and training-records tables by NIP cost 13–40 ms a request on
6,000 employees. `ProfileIndex` is built once per export object (row positions per NIP, the few columns
a profile reads as arrays, the small tables as dicts: ~0.08 s and ~4 MB for 6,000 employees) on the first
profile request, so a profile reads only that employee's rows: ~0.15 ms.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from engine.results import UnknownEmployee
from features.constants import ASSESSMENT_METHODS, ASSESSMENT_VALID_YEARS, JP_RIGHT_PER_YEAR
from features.eligibility import whole_years_of_service
from features.export import Export
from features.values import finite, mask_nip

PROFILE_EMPLOYEE_COLUMNS = ("nip", "unit_id", "position_id", "grade", "employment", "education", "hired_on",
                            "status")
LEVEL_COLUMNS = ["competency_id", "level", "assessed_on", "method"]
_TRUST_RANK = {method: rank for rank, method in enumerate(ASSESSMENT_METHODS)}
_NO_ROWS = np.empty(0, dtype=np.intp)


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _day(value: Any) -> date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def _whole(value: Any) -> int | None:
    number = finite(value)
    return None if number is None else int(number)


def _rows_by_nip(nips: pd.Series) -> dict[str, np.ndarray]:
    """NIP → positions of its rows, in table order."""
    if nips.empty:
        return {}
    return {str(nip): rows for nip, rows in nips.groupby(nips, sort=False, dropna=True).indices.items()}


def _codes(column: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """(codes, values): a string column as small integers; a missing value decodes to NaN, as it reads."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    return codes, [*uniques.tolist(), np.nan]  # code -1 indexes the trailing NaN


def _first_by(table: pd.DataFrame, key: str, columns: tuple[str, ...]) -> dict[str, dict[str, str | None]]:
    """key → the first row's `columns` as text (what a `.loc[key == value].iloc[0]` lookup gives)."""
    first = table.drop_duplicates(key, keep="first")
    values = {c: first[c].tolist() if c in first else [None] * len(first) for c in columns}
    return {str(k): {c: _text(values[c][i]) for c in columns} for i, k in enumerate(first[key].tolist())}


@dataclass(frozen=True)
class LatestAssessment:
    competency_id: Any  # str (NaN for a missing id, as pandas reads it)
    level: float
    assessed_on: pd.Timestamp
    method: Any  # str (NaN when missing)


@dataclass(frozen=True)
class ProfileIndex:
    """Everything a profile reads, indexed once per export: row positions by NIP, the columns it needs as
    arrays (strings as codes), and the small tables as dicts."""

    employee_columns: dict[str, list[Any]]  # the profile columns, as read by `.iloc[row]`
    employee_rows: dict[str, int]  # nip → its first row
    assessment_rows: dict[str, np.ndarray]
    competency_codes: tuple[np.ndarray, list[Any]]
    method_codes: tuple[np.ndarray, list[Any]]
    levels: np.ndarray  # float64
    assessed_on: np.ndarray  # datetime64[ns]
    completed_rows: dict[str, np.ndarray]  # training records with status `selesai`
    completed_hours: np.ndarray  # hours_jp of each such record's training (0 when unknown or missing)
    completed_on: np.ndarray  # datetime64[ns]
    units: dict[str, dict[str, str | None]]
    positions: dict[str, dict[str, str | None]]
    required: dict[tuple[str, str], Any]  # (position_id, competency_id) → required_level (NA kept)
    competencies: dict[str, dict[str, str | None]]
    years_cache: dict[date, np.ndarray]  # as-of → whole years of service of every employee row

    @classmethod
    def build(cls, export: Export) -> ProfileIndex:
        employees = export["employees"].reset_index(drop=True)
        columns = {c: employees[c].tolist() for c in PROFILE_EMPLOYEE_COLUMNS if c in employees}
        employee_rows: dict[str, int] = {}
        for position, nip in enumerate(columns["nip"]):
            if isinstance(nip, str):
                employee_rows.setdefault(nip, position)
        assessments = export["assessments"].reset_index(drop=True)
        records = export["training_records"]
        completed = records.loc[records["status"] == "selesai"].reset_index(drop=True)
        trainings = export["trainings"].drop_duplicates("training_id", keep="first")
        hours = {t: _whole(h) or 0
                 for t, h in zip(trainings["training_id"].tolist(), trainings["hours_jp"].tolist(), strict=True)}
        standards = export["position_standards"].drop_duplicates(["position_id", "competency_id"], keep="first")
        return cls(
            employee_columns=columns,
            employee_rows=employee_rows,
            assessment_rows=_rows_by_nip(assessments["nip"]),
            competency_codes=_codes(assessments["competency_id"]),
            method_codes=_codes(assessments["method"]),
            levels=assessments["level"].to_numpy(dtype="float64", na_value=np.nan),
            assessed_on=assessments["assessed_on"].to_numpy(dtype="datetime64[ns]"),
            completed_rows=_rows_by_nip(completed["nip"]),
            completed_hours=np.array([hours.get(t, 0) for t in completed["training_id"].tolist()], dtype="int64"),
            completed_on=completed["completed_on"].to_numpy(dtype="datetime64[ns]"),
            units=_first_by(export["units"], "unit_id", ("name", "kind")),
            positions=_first_by(export["positions"], "position_id", ("title", "position_type", "job_family")),
            required=dict(zip(zip(standards["position_id"].tolist(), standards["competency_id"].tolist(),
                                  strict=True), standards["required_level"].tolist(), strict=True)),
            competencies=_first_by(export["competencies"], "competency_id", ("name", "kind")),
            years_cache={},
        )

    def years_of_service(self, row: int, at: date) -> int:
        """`features.eligibility.whole_years_of_service` of the row's hiring date, computed for all rows
        at once per as-of date (one vectorised call instead of a Series per request)."""
        years = self.years_cache.get(at)
        if years is None:
            hired = pd.Series(self.employee_columns["hired_on"], dtype="datetime64[ns]")
            years = whole_years_of_service(hired, at)
            if len(self.years_cache) >= 4:  # the API asks at the snapshot date; keep a few others
                self.years_cache.clear()
            self.years_cache[at] = years
        return int(years[row])

    def current_levels(self, nip: str, as_of: date) -> list[LatestAssessment]:
        """The current level of each competency the employee was ever assessed in, by competency_id."""
        rows = self.assessment_rows.get(nip, _NO_ROWS)
        rows = rows[self.assessed_on[rows] <= np.datetime64(pd.Timestamp(as_of))]  # NaT never passes
        if not len(rows):
            return []
        codes, cids = self.competency_codes
        method_codes, methods = self.method_codes
        days = self.assessed_on[rows].view("int64").tolist()
        candidates = []
        for i, (code, day, method_code) in enumerate(zip(codes[rows].tolist(), days,
                                                          method_codes[rows].tolist(), strict=True)):
            cid, method = cids[code], methods[method_code]
            trust = _TRUST_RANK.get(method, len(_TRUST_RANK)) if isinstance(method, str) else len(_TRUST_RANK)
            # competency_id ascending (missing last), then the latest date, then the most trusted method;
            # full ties keep table order (pandas' stable multi-key sort + drop_duplicates(keep="first")).
            candidates.append(((code < 0, cid if code >= 0 else ""), -day, trust, i))
        candidates.sort()
        chosen, seen = [], set()
        for key, _, _, i in candidates:
            if key not in seen:
                seen.add(key)
                chosen.append(i)
        levels = self.levels[rows].tolist()
        return [LatestAssessment(cids[codes[rows[i]]], levels[i], pd.Timestamp(days[i]),
                                 methods[method_codes[rows[i]]]) for i in chosen]

    def jp_completed(self, nip: str, year: int, as_of: date) -> tuple[int, int]:
        rows = self.completed_rows.get(nip, _NO_ROWS)
        on = self.completed_on[rows]
        done = (~np.isnat(on)) & (on.astype("datetime64[Y]").astype("int64") + 1970 == year) \
            & (on <= np.datetime64(pd.Timestamp(as_of)))
        return int(self.completed_hours[rows][done].sum()), int(done.sum())


_cache_lock = threading.Lock()
_cache: list[tuple[weakref.ref[Export], ProfileIndex]] = []  # the last two exports (a reload overlaps)


def profile_index(export: Export) -> ProfileIndex:
    """The `ProfileIndex` of this export object, built on first use (the lock: built once, not per thread)."""
    with _cache_lock:
        for ref, index in _cache:
            if ref() is export:
                return index
        index = ProfileIndex.build(export)
        _cache[:] = [(weakref.ref(export), index)] + [(r, i) for r, i in _cache if r() is not None][:1]
        return index


def employee_row(export: Export, nip: str) -> int:
    """The employee's row in `ProfileIndex.employee_columns`; `UnknownEmployee` when the NIP is unknown."""
    row = profile_index(export).employee_rows.get(nip)
    if row is None:
        raise UnknownEmployee(f"No employee with NIP {mask_nip(nip)} in the loaded snapshot.", field="nip")
    return row


def employee_record(export: Export, nip: str) -> dict[str, Any]:
    """The employee's non-protected columns; `UnknownEmployee` when the NIP is not in the export."""
    row = employee_row(export, nip)
    return {c: values[row] for c, values in profile_index(export).employee_columns.items()}


def current_levels(export: Export, nip: str, as_of: date) -> pd.DataFrame:
    """competency_id, level, assessed_on, method: the current level of each competency ever assessed."""
    levels = profile_index(export).current_levels(nip, as_of)
    return pd.DataFrame([vars(level) for level in levels], columns=LEVEL_COLUMNS)


def jp_completed(export: Export, nip: str, year: int, as_of: date) -> tuple[int, int]:
    """(JP, trainings) completed (`selesai`) by the employee in `year`, up to `as_of`."""
    return profile_index(export).jp_completed(nip, year, as_of)


def employee_profile(export: Export, nip: str, as_of: date | None = None) -> dict[str, Any]:
    """The profile body (without `model_version`), JSON-ready."""
    at = as_of or export.exported_on
    index = profile_index(export)
    row = employee_row(export, nip)
    emp = {c: values[row] for c, values in index.employee_columns.items()}
    unit_id, position_id = str(emp["unit_id"]), str(emp["position_id"])
    unit = {"unit_id": unit_id, **index.units.get(unit_id, {"name": None, "kind": None})}
    position = {"position_id": position_id,
                **index.positions.get(position_id, {"title": None, "position_type": None, "job_family": None})}

    no_competency = {"name": None, "kind": None}
    stale_before = pd.Timestamp(at) - pd.DateOffset(years=ASSESSMENT_VALID_YEARS)
    levels = []
    for level in index.current_levels(nip, at):
        cid = str(level.competency_id)
        req = index.required.get((position_id, cid))
        levels.append({
            "competency_id": cid,
            **index.competencies.get(cid, no_competency),
            "level": round(float(level.level), 4),
            "assessed_on": level.assessed_on.date(),
            "method": str(level.method),
            "stale": bool(level.assessed_on < stale_before),
            "required_level": _whole(req),
        })

    jp, count = index.jp_completed(nip, at.year, at)
    hired_on = _day(emp.get("hired_on"))
    years = None if hired_on is None else index.years_of_service(row, at)
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
