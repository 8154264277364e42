"""Eligibility and evidence of past participants, on a tiny hand-made export."""

from __future__ import annotations

import time
from datetime import date

import numpy as np
import pandas as pd
import pytest

from features.constants import POSITION_TYPES, TABLES
from features.eligibility import (
    eligibility_matrix,
    eligible_pairs,
    level_band,
    training_evidence,
    training_evidence_by_band,
    training_evidence_rows,
    whole_years_of_service,
)
from features.export import PANDAS_DTYPES, Export, empty_table

AS_OF = date(2025, 6, 30)


def _table(name: str, rows: list[dict]) -> pd.DataFrame:
    spec = next(t for t in TABLES if t.name == name)
    if not rows:
        return empty_table(spec)
    df = pd.DataFrame(rows)
    for column in spec.columns:
        if column.name not in df.columns:
            df[column.name] = None
    return df[list(spec.column_names)].astype({c.name: PANDAS_DTYPES[c.type] for c in spec.columns})


def _export(records: list[dict] | None = None, assessments: list[dict] | None = None) -> Export:
    employees = [
        # nip, position, employment, hired_on
        dict(nip="A", position_id="P_PEL", employment="pns", hired_on="2024-09-01"),  # < 1 year
        dict(nip="B", position_id="P_PEL", employment="pppk", hired_on="2015-01-10"),
        dict(nip="C", position_id="P_ADM", employment="pns", hired_on="2010-07-01"),
        dict(nip="D", position_id="P_ADM", employment="pns", hired_on="2010-07-01", status="pensiun"),
        dict(nip="E", position_id="P_PEL", employment="pns", hired_on="2024-06-30"),  # exactly 1 year
    ]
    for e in employees:
        e.setdefault("status", "aktif")
        e.update(unit_id="U1", grade="III/a", education="s1", birth_date="1990-01-01", sex="l")
        e["hired_on"] = pd.Timestamp(e["hired_on"])
        e["birth_date"] = pd.Timestamp(e["birth_date"])
    trainings = [
        dict(training_id="T_ALL", eligible_position_types="", active=True),
        dict(training_id="T_ADM", eligible_position_types="administrator;pengawas", active=True),
        dict(training_id="T_PNS", eligible_position_types="", eligible_employment="pns", active=True),
        dict(training_id="T_NEW", eligible_position_types="pelaksana", max_years_of_service=1, active=True),
        dict(training_id="T_OFF", eligible_position_types="", active=False),
    ]
    for t in trainings:
        t.update(title=t["training_id"], format="klasikal", hours_jp=10, cost_idr=1_000_000, provider="LAN")
        t["eligible_position_types"] = t["eligible_position_types"] or None
    tables = {
        "units": _table("units", [dict(unit_id="U1", name="Dinas", kind="dinas")]),
        "competencies": _table("competencies", [
            dict(competency_id="K1", name="Komunikasi", kind="manajerial")]),
        "positions": _table("positions", [
            dict(position_id="P_PEL", title="Pelaksana", position_type="pelaksana", job_family="umum"),
            dict(position_id="P_ADM", title="Kabid", position_type="administrator", job_family="umum"),
        ]),
        "position_standards": _table("position_standards", []),
        "employees": _table("employees", employees),
        "assessments": _table("assessments", assessments or []),
        "performance_reviews": _table("performance_reviews", []),
        "trainings": _table("trainings", trainings),
        "training_targets": _table("training_targets", [
            dict(training_id="T_ALL", competency_id="K1", min_level=1, max_level=3),
        ]),
        "training_records": _table("training_records", records or []),
        "awards": _table("awards", []),
    }
    return Export(tables, exported_on=AS_OF)


def _pairs(export: Export, nips=None, as_of=AS_OF) -> set[tuple[str, str]]:
    df = eligible_pairs(export, nips, as_of)
    assert list(df.columns) == ["nip", "training_id"]
    return set(zip(df["nip"], df["training_id"], strict=True))


def test_eligibility_follows_type_employment_service_and_activity() -> None:
    pairs = _pairs(_export())
    assert pairs == {
        ("A", "T_ALL"), ("A", "T_PNS"), ("A", "T_NEW"),
        ("B", "T_ALL"),  # pppk: not T_PNS; 10 years: not T_NEW
        ("C", "T_ALL"), ("C", "T_ADM"), ("C", "T_PNS"),
        ("E", "T_ALL"), ("E", "T_PNS"), ("E", "T_NEW"),  # exactly one whole year is still ≤ 1
    }
    # D is retired: not active, so not in the default population, but can be asked for by nip.
    assert ("D", "T_ADM") in _pairs(_export(), nips=["D", "unknown"])
    assert not any(t == "T_OFF" for _, t in pairs)


def test_whole_years_of_service_is_anniversary_based() -> None:
    hired = pd.Series(pd.to_datetime(["2024-07-01", "2024-06-30", "2020-02-29", None]))
    assert whole_years_of_service(hired, date(2025, 6, 30)).tolist() == [0.0, 1.0, 5.0, 0.0]


@pytest.mark.parametrize(
    ("status", "started", "completed", "blocked"),
    [
        ("selesai", "2025-01-01", "2025-02-01", True),
        ("berjalan", "2025-06-01", None, True),
        ("tidak_selesai", "2025-01-01", "2025-02-01", False),  # may try again
        ("selesai", "2025-07-01", "2025-07-15", False),  # dated after the as-of date: not yet known
        ("tidak_selesai", "2025-06-01", "2025-08-01", True),  # still running at the as-of date
    ],
)
def test_records_block_only_when_completed_or_running(status, started, completed, blocked) -> None:
    record = dict(nip="A", training_id="T_ALL", status=status, started_on=pd.Timestamp(started),
                  completed_on=pd.Timestamp(completed) if completed else pd.NaT)
    pairs = _pairs(_export(records=[record]))
    assert (("A", "T_ALL") not in pairs) is blocked
    assert ("B", "T_ALL") in pairs


def test_eligibility_is_fast_for_a_city() -> None:
    rng = np.random.default_rng(0)
    base = _export()
    n = 6000
    employees = pd.concat([base["employees"].iloc[[0]]] * n, ignore_index=True)
    employees["nip"] = pd.array([f"N{i:05d}" for i in range(n)], dtype="str")
    positions = pd.DataFrame({
        "position_id": pd.array([f"P{i}" for i in range(len(POSITION_TYPES))], dtype="str"),
        "title": pd.array(list(POSITION_TYPES), dtype="str"),
        "position_type": pd.array(list(POSITION_TYPES), dtype="str"),
        "job_family": pd.array(["administrasi"] * len(POSITION_TYPES), dtype="str"),
    })
    employees["position_id"] = pd.array(rng.choice(positions["position_id"], n), dtype="str")
    employees["hired_on"] = pd.to_datetime("2000-01-01") + pd.to_timedelta(rng.integers(0, 9000, n), unit="D")
    trainings = pd.concat([base["trainings"]] * 16, ignore_index=True)
    trainings["training_id"] = pd.array([f"T{i:03d}" for i in range(len(trainings))], dtype="str")
    records = pd.DataFrame({
        "nip": pd.array(rng.choice(employees["nip"], 20_000), dtype="str"),
        "training_id": pd.array(rng.choice(trainings["training_id"], 20_000), dtype="str"),
        "started_on": pd.to_datetime("2024-01-01"),
        "completed_on": pd.to_datetime("2024-02-01"),
        "status": pd.array(["selesai"] * 20_000, dtype="str"),
        "post_test_score": np.nan,
    })
    big = Export({**base.tables, "employees": employees, "positions": positions, "trainings": trainings,
                  "training_records": records}, exported_on=AS_OF)
    start = time.perf_counter()
    nips, tids, matrix = eligibility_matrix(big, None, AS_OF)
    elapsed = time.perf_counter() - start
    assert matrix.shape == (6000, 64)  # the 16 inactive copies are left out
    assert elapsed < 1.0
    # Spot-check one employee against the rule, written the slow way.
    done = set(records.loc[records["nip"] == nips[0], "training_id"])
    ptype = positions.set_index("position_id").loc[employees.set_index("nip").loc[nips[0], "position_id"],
                                                   "position_type"]
    for j, tid in enumerate(tids):
        row = trainings.set_index("training_id").loc[tid]
        expected = bool(row["active"]) and tid not in done
        if not pd.isna(row["eligible_position_types"]):
            expected &= ptype in str(row["eligible_position_types"]).split(";")
        if not pd.isna(row["max_years_of_service"]):
            service = whole_years_of_service(employees.loc[employees["nip"] == nips[0], "hired_on"], AS_OF)[0]
            expected &= service <= row["max_years_of_service"]
        assert matrix[0, j] == expected, tid


def _assessment(nip: str, day: str, level: float, method: str = "cat") -> dict:
    return dict(nip=nip, competency_id="K1", assessed_on=pd.Timestamp(day), level=level, method=method)


def test_evidence_uses_assessments_before_start_and_after_completion() -> None:
    records = [
        dict(nip="A", training_id="T_ALL", status="selesai", started_on=pd.Timestamp("2024-03-01"),
             completed_on=pd.Timestamp("2024-03-10")),
        dict(nip="B", training_id="T_ALL", status="selesai", started_on=pd.Timestamp("2024-03-01"),
             completed_on=pd.Timestamp("2024-03-10")),
        # no assessment after: not evidence
        dict(nip="C", training_id="T_ALL", status="selesai", started_on=pd.Timestamp("2024-03-01"),
             completed_on=pd.Timestamp("2024-03-10")),
        # not completed: not evidence
        dict(nip="E", training_id="T_ALL", status="tidak_selesai", started_on=pd.Timestamp("2024-03-01"),
             completed_on=pd.Timestamp("2024-03-10")),
    ]
    assessments = [
        _assessment("A", "2023-01-01", 1.5),
        _assessment("A", "2024-02-01", 2.0),  # latest before the start
        _assessment("A", "2024-02-01", 2.2, "penilaian_360"),  # same day, less trusted: ignored
        _assessment("A", "2024-03-05", 9.0 / 4),  # during the training: neither before nor after
        _assessment("A", "2024-09-01", 2.6),  # first after completion
        _assessment("A", "2025-03-01", 3.5),
        _assessment("B", "2024-01-01", 3.2),
        _assessment("B", "2024-03-10", 3.4),  # the completion day counts as after
        _assessment("B", "2025-07-01", 4.9),  # after the as-of date: not used
        _assessment("C", "2024-01-01", 2.0),
        _assessment("E", "2024-01-01", 2.0),
        _assessment("E", "2024-09-01", 3.0),
    ]
    export = _export(records=records, assessments=assessments)
    rows = training_evidence_rows(export, AS_OF).sort_values("nip")
    assert rows["nip"].tolist() == ["A", "B"]
    assert rows["level_before"].tolist() == [2.0, 3.2]
    assert rows["level_after"].tolist() == [2.6, 3.4]
    assert rows["band"].tolist() == [2, 3]
    ev = training_evidence(export, AS_OF)
    assert ev["participants"].tolist() == [2]
    assert ev["mean_observed_change"].iloc[0] == pytest.approx((0.6 + 0.2) / 2)
    by_band = training_evidence_by_band(export, AS_OF)
    assert by_band[["band", "participants"]].values.tolist() == [[2, 1], [3, 1]]
    # At an earlier as-of date nobody had completed it yet.
    assert training_evidence(export, date(2024, 3, 9)).empty


def test_level_band_puts_five_in_band_four_and_missing_apart() -> None:
    assert level_band(np.array([1.0, 1.99, 2.0, 4.5, 5.0, np.nan])).tolist() == [1, 1, 2, 4, 4, -1]
