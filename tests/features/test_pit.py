"""Point-in-time features, training pairs and prediction queries (features/pit.py)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from features.constants import TABLES_BY_NAME
from features.export import PANDAS_DTYPES, Export
from features.pit import (
    CATEGORICAL_FEATURES,
    FEATURES,
    NO_BAND_DISTANCE,
    NUMERIC_FEATURES,
    PitIndex,
    assessment_history,
    assessment_records,
    build_features,
    prediction_queries,
    training_pairs,
)

EXPORTED_ON = date(2025, 12, 31)


def _table(name: str, rows: list[dict]) -> pd.DataFrame:
    spec = TABLES_BY_NAME[name]
    df = pd.DataFrame(rows, columns=list(spec.column_names))
    for col in spec.columns:
        if col.type == "date":
            df[col.name] = pd.to_datetime(df[col.name])
        else:
            df[col.name] = df[col.name].astype(PANDAS_DTYPES[col.type])
    return df


def tiny_export() -> Export:
    """Three employees, three competencies, a handful of records with hand-checkable features."""
    e1, e2, e3 = "198001012005011001", "198502022010012002", "199003032015011003"
    return Export({
        "units": _table("units", [
            {"unit_id": "U1", "name": "Dinas A", "kind": "dinas", "parent_unit_id": None},
            {"unit_id": "U2", "name": "Kecamatan B", "kind": "kecamatan", "parent_unit_id": None}]),
        "competencies": _table("competencies", [
            {"competency_id": "M1", "name": "Komunikasi", "kind": "manajerial"},
            {"competency_id": "M2", "name": "Integritas", "kind": "manajerial"},
            {"competency_id": "T1", "name": "Pengelolaan Keuangan", "kind": "teknis"}]),
        "positions": _table("positions", [
            {"position_id": "P1", "title": "Analis", "position_type": "pelaksana", "job_family": "keuangan"},
            {"position_id": "P2", "title": "Kepala Seksi", "position_type": "pengawas",
             "job_family": "administrasi"}]),
        "position_standards": _table("position_standards", [
            {"position_id": "P1", "competency_id": "M1", "required_level": 2},
            {"position_id": "P1", "competency_id": "T1", "required_level": 3},
            {"position_id": "P2", "competency_id": "M1", "required_level": 3},
            {"position_id": "P2", "competency_id": "M2", "required_level": 3}]),
        "employees": _table("employees", [
            {"nip": e1, "unit_id": "U1", "position_id": "P1", "grade": "III/a", "employment": "pns",
             "education": "s1", "hired_on": "2005-01-01", "birth_date": "1980-01-01", "sex": "l",
             "status": "aktif"},
            {"nip": e2, "unit_id": "U1", "position_id": "P2", "grade": "pppk_9", "employment": "pppk",
             "education": "s2", "hired_on": "2010-01-01", "birth_date": "1985-02-02", "sex": "p",
             "status": "aktif"},
            {"nip": e3, "unit_id": "U2", "position_id": "P1", "grade": "II/c", "employment": "pns",
             "education": "sma", "hired_on": "2015-01-01", "birth_date": "1990-03-03", "sex": "l",
             "status": "pensiun"}]),
        "assessments": _table("assessments", [
            {"nip": e1, "competency_id": "M1", "assessed_on": "2021-03-01", "level": 2.0, "method": "cat"},
            {"nip": e1, "competency_id": "M1", "assessed_on": "2022-03-01", "level": 2.6,
             "method": "penilaian_360"},
            # Same day, two methods: the assessment centre is trusted over the 360.
            {"nip": e1, "competency_id": "M1", "assessed_on": "2022-03-01", "level": 2.4,
             "method": "assessment_center"},
            {"nip": e1, "competency_id": "M1", "assessed_on": "2024-03-01", "level": 3.0,
             "method": "uji_kompetensi"},
            {"nip": e1, "competency_id": "M2", "assessed_on": "2022-06-01", "level": 3.2, "method": "cat"},
            {"nip": e2, "competency_id": "M1", "assessed_on": "2022-01-10", "level": 3.4, "method": "cat"},
            {"nip": e2, "competency_id": "M2", "assessed_on": "2023-01-10", "level": 2.8, "method": "cat"}]),
        "performance_reviews": _table("performance_reviews", [
            {"nip": e1, "year": 2021, "rating": "baik", "work_result": "sesuai_ekspektasi",
             "work_behavior": "sesuai_ekspektasi"},
            {"nip": e2, "year": 2021, "rating": "sangat_baik", "work_result": "diatas_ekspektasi",
             "work_behavior": "diatas_ekspektasi"},
            {"nip": e1, "year": 2022, "rating": "sangat_baik", "work_result": "diatas_ekspektasi",
             "work_behavior": "diatas_ekspektasi"},
            {"nip": e2, "year": 2022, "rating": "baik", "work_result": "sesuai_ekspektasi",
             "work_behavior": "sesuai_ekspektasi"}]),
        "trainings": _table("trainings", [
            {"training_id": "TR1", "title": "Komunikasi Efektif", "format": "klasikal", "hours_jp": 24,
             "cost_idr": 1_000_000, "provider": "internal", "eligible_position_types": None,
             "eligible_employment": None, "max_years_of_service": None, "active": True},
            {"training_id": "TR2", "title": "Coaching Komunikasi", "format": "coaching", "hours_jp": 8,
             "cost_idr": 500_000, "provider": "internal", "eligible_position_types": None,
             "eligible_employment": None, "max_years_of_service": None, "active": True},
            {"training_id": "TR3", "title": "Keuangan Daerah", "format": "e_learning", "hours_jp": 10,
             "cost_idr": 0, "provider": "LAN", "eligible_position_types": None,
             "eligible_employment": None, "max_years_of_service": None, "active": True}]),
        "training_targets": _table("training_targets", [
            {"training_id": "TR1", "competency_id": "M1", "min_level": 2, "max_level": 3},
            {"training_id": "TR2", "competency_id": "M1", "min_level": 4, "max_level": 5},
            {"training_id": "TR3", "competency_id": "T1", "min_level": 1, "max_level": 3}]),
        "training_records": _table("training_records", [
            {"nip": e1, "training_id": "TR1", "started_on": "2022-09-01", "completed_on": "2022-09-10",
             "status": "selesai", "post_test_score": 80.0},
            {"nip": e1, "training_id": "TR3", "started_on": "2023-05-01", "completed_on": "2023-05-20",
             "status": "selesai", "post_test_score": None},
            {"nip": e1, "training_id": "TR2", "started_on": "2023-07-01", "completed_on": None,
             "status": "tidak_selesai", "post_test_score": None},
            {"nip": e1, "training_id": "TR2", "started_on": "2025-11-01", "completed_on": None,
             "status": "berjalan", "post_test_score": None}]),
        "awards": _table("awards", []),
    }, exported_on=EXPORTED_ON)


E1, E2, E3 = "198001012005011001", "198502022010012002", "199003032015011003"


def _one(export: Export, nip: str, comp: str, as_of: str, plan: tuple = (), horizon: int = 12) -> pd.Series:
    q = pd.DataFrame({"nip": [nip], "competency_id": [comp], "as_of": [pd.Timestamp(as_of)],
                      "horizon_months": [horizon]})
    return build_features(export, q, plans=[plan]).iloc[0]


def test_current_level_takes_latest_and_trust_order_on_ties() -> None:
    ex = tiny_export()
    row = _one(ex, E1, "M1", "2023-03-01")
    assert row["current_level"] == 2.4  # assessment centre beats the same-day 360 (2.6)
    assert row["current_method"] == "assessment_center"
    assert row["n_assessments"] == 2  # distinct days
    assert row["previous_level"] == 2.0
    assert row["level_age_months"] == pytest.approx(365 / (365.25 / 12))
    # Slope of (2021-03-01, 2.0), (2022-03-01, 2.4): 0.4 per 365 days.
    assert row["level_trend"] == pytest.approx(0.4 * 365.25 / 365, rel=1e-6)
    assert row["related_mean_level"] == pytest.approx(3.2) and row["others_mean_level"] == pytest.approx(3.2)
    assert row["thin_evidence"] == 0.0 and row["never_assessed"] == 0.0
    assert row["required_level"] == 2.0 and row["current_gap"] == pytest.approx(-0.4)
    # On the assessment day itself the measurement is already known.
    assert _one(ex, E1, "M1", "2024-03-01")["current_level"] == 3.0
    assert _one(ex, E1, "M1", "2024-02-29")["current_level"] == 2.4


def test_never_assessed_falls_back_and_is_thin() -> None:
    ex = tiny_export()
    row = _one(ex, E1, "T1", "2023-03-01")  # E1 never assessed in T1: mean of M1 (2.4) and M2 (3.2)
    assert row["current_level"] == pytest.approx(2.8)
    assert row["current_level_source"] == "other_competencies"
    assert row["never_assessed"] == 1.0 and row["thin_evidence"] == 1.0
    assert np.isnan(row["level_age_months"]) and row["current_method"] == "belum_dinilai"
    # E3 has no assessment at all: T1 was assessed by nobody → the middle of the scale; M1 → the mean of
    # the other pelaksana (E1, 2.4) as of the date.
    assert _one(ex, E3, "T1", "2023-03-01")["current_level"] == 3.0
    m1 = _one(ex, E3, "M1", "2023-03-01")
    assert m1["current_level"] == pytest.approx(2.4)
    assert m1["current_level_source"] == "position_type"
    # Stale evidence: the latest M2 level of E1 is older than three years.
    assert _one(ex, E1, "M2", "2025-07-01")["thin_evidence"] == 1.0


def test_skp_training_and_unit_features() -> None:
    ex = tiny_export()
    row = _one(ex, E1, "M1", "2023-06-30")
    assert row["skp_last_rating"] == 5.0  # 2022 sangat_baik: over on 31 Dec 2022
    assert row["skp_mean_3y"] == pytest.approx(4.5)
    assert row["skp_percentile"] == 1.0  # top of U1 in 2022
    assert _one(ex, E1, "M1", "2022-12-30")["skp_last_rating"] == 4.0  # 2022 not over yet
    assert row["trainings_12m"] == 2 and row["jp_12m"] == 34
    assert row["abandoned_12m"] == 0  # dated by its start (2023-07-01), after as-of
    assert _one(ex, E1, "M1", "2023-07-01")["abandoned_12m"] == 1
    assert row["targeted_trainings_36m"] == 1  # TR1 targets M1
    assert row["jp_compliant"] == 1.0  # 24 JP in 2022
    assert _one(ex, E1, "M1", "2024-01-01")["jp_compliant"] == 0.0  # 10 JP in 2023
    assert row["unit_mean_level"] == 3.4  # E2 is the only colleague in U1
    assert row["grade_rank"] == 9 and row["education_rank"] == 8
    assert _one(ex, E2, "M1", "2023-06-30")["grade_rank"] == 9  # pppk_9 sits with III/a
    assert row["tenure_years"] == pytest.approx((pd.Timestamp("2023-06-30") - pd.Timestamp("2005-01-01")).days
                                                / 365.25)


def test_plan_features_count_band_and_format() -> None:
    ex = tiny_export()
    row = _one(ex, E1, "M1", "2023-03-01", plan=("TR1", "TR2", "TR3"))  # current M1 level 2.4
    assert row["plan_n_targeting"] == 2 and row["plan_n_other"] == 1
    assert row["plan_n_in_band"] == 1 and row["plan_n_below_band"] == 1 and row["plan_n_above_band"] == 0
    assert row["plan_band_distance"] == 0.0
    assert row["plan_jp_targeting"] == 32 and row["plan_jp_total"] == 42
    assert row["plan_n_classroom"] == 1 and row["plan_n_workplace"] == 1 and row["plan_n_online"] == 0
    only_far = _one(ex, E1, "M1", "2023-03-01", plan=("TR2",))
    assert only_far["plan_band_distance"] == pytest.approx(4 - 2.4)
    empty = _one(ex, E1, "M1", "2023-03-01")
    assert empty["plan_n_targeting"] == 0 and empty["plan_band_distance"] == NO_BAND_DISTANCE


def test_output_shape_and_no_protected_attribute() -> None:
    ex = tiny_export()
    q = prediction_queries(ex, EXPORTED_ON)
    assert set(q["nip"]) == {E1, E2}  # E3 is not active
    assert len(q) == 4 and set(q.columns) == {"nip", "competency_id", "as_of", "horizon_months",
                                              "required_level"}
    q.index = pd.Index([10, 11, 12, 13])
    feats = build_features(ex, q)
    assert list(feats.index) == [10, 11, 12, 13]
    for col in feats.columns:
        assert not any(word in col for word in ("sex", "birth", "age_years", "nip")), col
    assert set(FEATURES) <= set(feats.columns)
    assert all(feats[c].dtype == np.float64 for c in NUMERIC_FEATURES)
    assert all(str(feats[c].dtype) == "str" for c in CATEGORICAL_FEATURES)
    assert (feats["target_method"] == "assessment_center").all()
    with pytest.raises(KeyError):
        prediction_queries(ex, EXPORTED_ON, nips=["000"])


def test_training_pairs() -> None:
    ex = tiny_export()
    pairs = training_pairs(ex, query_horizons=())
    m1 = pairs[(pairs["nip"] == E1) & (pairs["competency_id"] == "M1")]
    got = sorted(zip(m1["as_of"].dt.date.astype(str), m1["target_on"].dt.date.astype(str),
                     m1["target_method"], m1["pair_kind"], strict=True))
    assert got == [
        ("2021-03-01", "2022-03-01", "assessment_center", "next"),
        ("2021-03-01", "2022-03-01", "penilaian_360", "next"),
        ("2021-03-01", "2024-03-01", "uji_kompetensi", "next2"),
        ("2022-03-01", "2024-03-01", "uji_kompetensi", "next"),
    ]
    row = m1[(m1["as_of"] == "2022-03-01")].iloc[0]
    assert row["horizon_months"] == 24 and row["target"] == 3.0
    assert row["plan"] == ("TR1", "TR3")  # completed in (2022-03-01, 2024-03-01]
    before = training_pairs(ex, before=date(2023, 12, 31), query_horizons=())
    assert (before["target_on"] <= "2023-12-31").all() and len(before) < len(pairs)
    q = training_pairs(ex, query_horizons=(12,))
    q = q[q["pair_kind"] == "query"]
    assert ((q["target_on"] - q["as_of"]).dt.days.between(365, 366)).all()
    assert (q["horizon_months"] == 12).all()


def test_features_ignore_protected_attributes() -> None:
    ex = tiny_export()
    q = prediction_queries(ex, EXPORTED_ON)
    before = build_features(ex, q)
    emp = ex["employees"].copy()
    emp["sex"] = np.where(emp["sex"] == "l", "p", "l")
    emp["birth_date"] = emp["birth_date"] - pd.Timedelta(days=3000)
    changed = Export({**ex.tables, "employees": emp.astype({"sex": "str"})}, ex.exported_on)
    pd.testing.assert_frame_equal(before, build_features(changed, q))


def test_point_in_time_perturbing_the_future_changes_nothing() -> None:
    ex = tiny_export()
    cut = pd.Timestamp("2022-12-31")
    queries = pd.DataFrame([(n, c, cut, 12) for n in (E1, E2, E3) for c in ("M1", "M2", "T1")],
                           columns=["nip", "competency_id", "as_of", "horizon_months"])
    before = build_features(ex, queries, plans=[("TR1",)] * len(queries))
    after = build_features(perturb_after(ex, cut, seed=3), queries, plans=[("TR1",)] * len(queries))
    pd.testing.assert_frame_equal(before, after)


def perturb_after(ex: Export, cut: pd.Timestamp, seed: int) -> Export:
    """Every record dated after `cut` altered: levels and dates shifted, SKP flipped, trainings moved."""
    rng = np.random.default_rng(seed)
    t = dict(ex.tables)
    a = t["assessments"].copy()
    late = a["assessed_on"] > cut
    a.loc[late, "level"] = np.clip(rng.uniform(1, 5, late.sum()), 1, 5)
    a.loc[late, "assessed_on"] = a.loc[late, "assessed_on"] + pd.Timedelta(days=17)
    a.loc[late, "method"] = "assessment_center"
    extra = a[~late].head(len(a) // 3).assign(assessed_on=cut + pd.Timedelta(days=40), level=4.9,
                                              method="penilaian_360")
    t["assessments"] = pd.concat([a, extra], ignore_index=True)
    p = t["performance_reviews"].copy()
    late = p["year"] > cut.year - (0 if cut.is_year_end else 1)
    p.loc[late, "rating"] = "sangat_kurang"
    p.loc[late, "work_result"] = "dibawah_ekspektasi"
    p.loc[late, "work_behavior"] = "dibawah_ekspektasi"
    t["performance_reviews"] = p
    r = t["training_records"].copy()
    dated = r["completed_on"].fillna(r["started_on"])
    late = dated > cut
    r.loc[late, "status"] = np.where(rng.random(late.sum()) < 0.5, "selesai", "tidak_selesai")
    r.loc[late, "completed_on"] = dated[late] + pd.Timedelta(days=30)
    r.loc[late, "started_on"] = dated[late] + pd.Timedelta(days=5)
    t["training_records"] = r.astype({"status": "str"})
    return Export(t, ex.exported_on)


def test_assessment_history_is_the_evidence() -> None:
    ex = tiny_export()
    h = assessment_history(PitIndex.build(ex), E1, "M1", date(2022, 12, 31))
    assert list(h["method"]) == ["cat", "assessment_center", "penilaian_360"]
    assert list(h["level"]) == [2.0, 2.4, 2.6]


def test_point_in_time_on_a_generated_export() -> None:
    """Perturbing every record dated after A changes no feature, bit for bit, for queries as of A."""
    from tests.model.gap_setup import small_export

    export = small_export()[0]
    cut = pd.Timestamp(export.exported_on) - pd.DateOffset(months=20)
    queries = prediction_queries(export, cut.date())
    queries = queries.sample(min(3000, len(queries)), random_state=1)
    catalogue = export["trainings"]["training_id"].astype(str).to_numpy()
    rng = np.random.default_rng(0)
    plans = [tuple(rng.choice(catalogue, size=rng.integers(0, 4), replace=False)) for _ in range(len(queries))]
    before = build_features(export, queries, plans)
    after = build_features(perturb_after(export, cut, seed=5), queries, plans)
    pd.testing.assert_frame_equal(before, after, check_exact=True)
    assert before["never_assessed"].between(0, 1).all() and (before["n_assessments"] > 0).any()


def test_training_pairs_on_a_generated_export() -> None:
    from tests.model.gap_setup import small_export

    export = small_export()[0]
    index = PitIndex.build(export)
    pairs = training_pairs(index)
    assert pairs["horizon_months"].between(3, 36).all()
    assert (pairs["as_of"] < pairs["target_on"]).all()
    assert set(pairs["pair_kind"]) == {"next", "next2", "query"}
    # Plans hold only trainings completed in (as_of, target_on] by that employee.
    records = export["training_records"]
    done = records[records["status"] == "selesai"].assign(nip=lambda d: d["nip"].astype(str))
    sample = pairs[pairs["plan"].map(len) > 0].sample(50, random_state=0)
    for row in sample.itertuples():
        mine = done[(done["nip"] == row.nip) & (done["completed_on"] > row.as_of)
                    & (done["completed_on"] <= row.target_on)]
        assert sorted(row.plan) == sorted(mine["training_id"].astype(str))


def test_queries_of_named_employees_equal_those_of_everyone() -> None:
    """The per-position look-up of one request gives the rows (and order) of the whole-population merge."""
    from tests.model.gap_setup import small_export

    export = small_export()[0]
    index = PitIndex.build(export)
    everyone = prediction_queries(index, export.exported_on, 12)
    nips = list(dict.fromkeys(everyone["nip"]))[::7]
    named = prediction_queries(index, export.exported_on, 12, nips=nips)
    expected = everyone[everyone["nip"].isin(nips)].reset_index(drop=True)
    expected = pd.concat([expected[expected["nip"] == n] for n in nips], ignore_index=True)
    pd.testing.assert_frame_equal(named, expected)
    assert prediction_queries(index, export.exported_on, 12, nips=[]).empty


def test_assessment_records_are_the_history_newest_first() -> None:
    ex = tiny_export()
    index = PitIndex.build(ex)
    records = assessment_records(index, E1, "M1", date(2022, 12, 31))
    assert [(m, lv) for _, m, lv in records] == [("penilaian_360", 2.6), ("assessment_center", 2.4),
                                                  ("cat", 2.0)]
    assert all(isinstance(d, date) for d, _, _ in records)
    assert assessment_records(index, E1, "no-such-competency", date(2022, 12, 31)) == []
    assert assessment_records(index, "no-such-nip", "M1", date(2022, 12, 31)) == []
    assert assessment_history(index, "no-such-nip", "M1", date(2022, 12, 31)).empty
