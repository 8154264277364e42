"""The profile's indexed lookups give exactly what filtering the whole tables gives (the former code, kept
here as the reference), on data made to hit the edge cases: same-day ties, unknown and missing methods,
missing dates, other years, unfinished trainings, unknown trainings, missing JP, unknown NIPs."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest

from engine.results import UnknownEmployee
from features.constants import ASSESSMENT_METHODS, ASSESSMENT_VALID_YEARS
from features.eligibility import whole_years_of_service
from features.export import Export
from serving.profile import employee_profile, profile_index

AS_OF = date(2026, 6, 30)
A, B, C, D = "198501012010011001", "199002022015022002", "197003032000031003", "198804042012042004"
_TRUST = {method: rank for rank, method in enumerate(ASSESSMENT_METHODS)}


def _frame(rows: list[tuple[Any, ...]], columns: dict[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    return frame.astype(columns)


def _export() -> Export:
    ac, uk, cat, p360 = ASSESSMENT_METHODS
    day = pd.Timestamp
    tables = {
        "employees": _frame([
            (A, "U1", "P1", "III/a", "pns", "S1", day("2010-01-01"), "aktif"),
            (B, "U2", "P2", "II/c", "pppk", "D3", day("2015-07-01"), "aktif"),
            (C, "U9", "P9", "IV/a", "pns", "S2", pd.NaT, "pensiun"),  # unknown unit and position
            (D, "U1", "P1", "III/b", "pns", "S1", day("2012-06-30"), "aktif"),
        ], {"nip": "str", "unit_id": "str", "position_id": "str", "grade": "str", "employment": "str",
            "education": "str", "hired_on": "datetime64[ns]", "status": "str"}),
        "assessments": _frame([
            (A, "K1", day("2024-03-01"), 3.0, cat),
            (A, "K1", day("2025-05-01"), 2.5, p360),  # latest date wins over trust …
            (A, "K1", day("2025-05-01"), 3.5, ac),  # … and on the same day the most trusted method
            (A, "K2", day("2021-01-01"), 4.0, uk),  # stale
            (A, "K2", day("2027-01-01"), 5.0, ac),  # after the as-of date: not yet known
            (A, "K3", day("2025-01-01"), 2.0, "interview"),  # unknown method: least trusted
            (A, "K3", day("2025-01-01"), 2.25, None),  # missing method: as untrusted, table order decides
            (A, "K4", pd.NaT, 1.0, ac),  # no date: never current
            (B, "K2", day("2026-06-30"), 3.25, uk),  # on the as-of date itself
            (B, "K1", day("2022-02-02"), 1.5, cat),
            (D, "K1", day("2025-05-01"), 3.0, cat),  # a full tie: the first row wins
            (D, "K1", day("2025-05-01"), 4.0, cat),
        ], {"nip": "str", "competency_id": "str", "assessed_on": "datetime64[ns]", "level": "float64",
            "method": "str"}),
        "training_records": _frame([
            (A, "T1", day("2026-01-10"), day("2026-01-20"), "selesai", 80.0),
            (A, "T2", day("2026-02-01"), day("2026-02-05"), "selesai", None),  # JP unknown → 0
            (A, "T9", day("2026-03-01"), day("2026-03-02"), "selesai", None),  # not in the catalogue
            (A, "T1", day("2025-12-01"), day("2025-12-20"), "selesai", 70.0),  # last year
            (A, "T1", day("2026-07-01"), day("2026-07-05"), "selesai", 70.0),  # after the as-of date
            (A, "T1", day("2026-04-01"), pd.NaT, "berjalan", None),  # not completed
            (B, "T1", day("2026-05-01"), day("2026-05-03"), "batal", None),
            (D, "T3", day("2026-01-01"), day("2026-06-30"), "selesai", 90.0),
        ], {"nip": "str", "training_id": "str", "started_on": "datetime64[ns]", "completed_on": "datetime64[ns]",
            "status": "str", "post_test_score": "float64"}),
        "trainings": _frame([("T1", 12), ("T2", None), ("T3", 24)], {"training_id": "str", "hours_jp": "Int64"}),
        "position_standards": _frame([("P1", "K1", 3), ("P1", "K2", None), ("P2", "K2", 4)],
                                     {"position_id": "str", "competency_id": "str", "required_level": "Int64"}),
        "units": _frame([("U1", "Dinas A", "dinas"), ("U2", "Kecamatan B", None)],
                        {"unit_id": "str", "name": "str", "kind": "str"}),
        "positions": _frame([("P1", "Analis", "fungsional", "keuangan"), ("P2", "Pengadministrasi", None, None)],
                            {"position_id": "str", "title": "str", "position_type": "str", "job_family": "str"}),
        "competencies": _frame([("K1", "Integritas", "manajerial"), ("K2", "Kerja sama", None)],
                               {"competency_id": "str", "name": "str", "kind": "str"}),
    }
    return Export(tables, exported_on=AS_OF, snapshot_id="test-snapshot")


# --- the former implementation: filter the whole tables on every request -------------------------
def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _day(value: Any) -> date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def _lookup(table: pd.DataFrame, key: str, value: str, columns: tuple[str, ...]) -> dict[str, Any]:
    rows = table.loc[table[key] == value]
    if rows.empty:
        return {c: None for c in columns}
    return {c: _text(rows.iloc[0].get(c)) for c in columns}


def _reference_profile(export: Export, nip: str, at: date) -> dict[str, Any]:
    employees = export["employees"]
    rows = employees.loc[employees["nip"] == nip]
    if rows.empty:
        raise UnknownEmployee("unknown", field="nip")
    emp = rows.iloc[0].to_dict()
    unit_id, position_id = str(emp["unit_id"]), str(emp["position_id"])
    standards = export["position_standards"]
    required = standards.loc[standards["position_id"] == position_id].set_index("competency_id")["required_level"]
    competencies = export["competencies"].set_index("competency_id")
    a = export["assessments"]
    mine = a.loc[(a["nip"] == nip) & (a["assessed_on"] <= pd.Timestamp(at)),
                 ["competency_id", "level", "assessed_on", "method"]]
    ranked = mine.assign(_trust=mine["method"].map(_TRUST).fillna(len(_TRUST)))
    ranked = ranked.sort_values(["competency_id", "assessed_on", "_trust"], ascending=[True, False, True])
    current = ranked.drop_duplicates("competency_id")
    stale_before = pd.Timestamp(at) - pd.DateOffset(years=ASSESSMENT_VALID_YEARS)
    levels = []
    for row in current.itertuples(index=False):
        cid = str(row.competency_id)
        req = required.get(cid)
        levels.append({"competency_id": cid, "name": _text(competencies["name"].get(cid)),
                       "kind": _text(competencies["kind"].get(cid)), "level": round(float(row.level), 4),
                       "assessed_on": _day(row.assessed_on), "method": str(row.method),
                       "stale": bool(pd.Timestamp(row.assessed_on) < stale_before),
                       "required_level": None if req is None or pd.isna(req) else int(req)})
    records = export["training_records"]
    done = records.loc[(records["nip"] == nip) & (records["status"] == "selesai")
                       & (records["completed_on"].dt.year == at.year)
                       & (records["completed_on"] <= pd.Timestamp(at)), ["training_id"]]
    hours = done.merge(export["trainings"][["training_id", "hours_jp"]], on="training_id", how="left")
    jp = int(hours["hours_jp"].fillna(0).sum()) if len(done) else 0
    hired_on = _day(emp.get("hired_on"))
    years = None if hired_on is None else int(whole_years_of_service(pd.Series([pd.Timestamp(hired_on)]), at)[0])
    return {
        "nip": nip, "as_of": at, "status": str(emp["status"]),
        "unit": {"unit_id": unit_id, **_lookup(export["units"], "unit_id", unit_id, ("name", "kind"))},
        "position": {"position_id": position_id, **_lookup(export["positions"], "position_id", position_id,
                                                           ("title", "position_type", "job_family"))},
        "grade": str(emp["grade"]), "employment": str(emp["employment"]), "education": str(emp["education"]),
        "hired_on": hired_on, "years_of_service": years, "current_levels": levels,
        "jp": {"year": at.year, "completed_jp": jp, "right_jp": 20, "remaining_jp": max(0, 20 - jp),
               "meets_right": jp >= 20, "trainings_completed": len(done)},
    }


@pytest.mark.parametrize("at", [AS_OF, date(2025, 5, 1), date(2020, 1, 1)])
@pytest.mark.parametrize("nip", [A, B, C, D])
def test_profile_matches_filtering_the_whole_tables(nip: str, at: date) -> None:
    export = _export()
    assert employee_profile(export, nip, at) == _reference_profile(export, nip, at)


def test_the_edge_cases_resolve_as_the_contract_says() -> None:
    profile = employee_profile(_export(), A)
    levels = {lv["competency_id"]: lv for lv in profile["current_levels"]}
    assert list(levels) == ["K1", "K2", "K3"]  # K4 has no date; ordered by competency_id
    assert (levels["K1"]["level"], levels["K1"]["method"]) == (3.5, ASSESSMENT_METHODS[0])
    assert (levels["K2"]["level"], levels["K2"]["stale"], levels["K2"]["required_level"]) == (4.0, True, None)
    assert levels["K3"]["method"] == "interview"  # an unknown method ties with a missing one: table order
    assert profile["jp"]["completed_jp"] == 12 and profile["jp"]["trainings_completed"] == 3
    assert employee_profile(_export(), D)["current_levels"][0]["level"] == 3.0  # a full tie: first row
    assert employee_profile(_export(), C)["unit"] == {"unit_id": "U9", "name": None, "kind": None}


def test_unknown_nip_and_one_index_per_export() -> None:
    export = _export()
    with pytest.raises(UnknownEmployee):
        employee_profile(export, "000000000000000000")
    assert profile_index(export) is profile_index(export)  # built once, reused by every request
    assert profile_index(_export()) is not profile_index(export)  # another export object, another index
