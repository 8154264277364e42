"""Behaviour of the trained recommendation engine on a small generated export (one model per module).

Minimum functionality (the metrics beat the baselines), invariance (protected attributes change
nothing) and direction (completing a training drops it; a course far below one's level never outranks an
in-band one when the truth says it gains less), plus the shape of every answer.
"""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.gaps import INLINE_NIP
from engine.predictor import Predictor
from engine.recommend import _gap_closed
from engine.results import EngineError, UnknownEmployee, UnknownPosition, UnknownTraining, UnknownUnit
from features.constants import CANDIDATE_COLUMNS, GAPS_COLUMNS, RECOMMENDATIONS_COLUMNS
from features.eligibility import eligible_pairs, whole_years_of_service
from features.export import Export
from features.generator import generate_export
from features.io import read_export
from training.fit import fit_predictor
from training.rec_eval import evaluate_recommendations, read_truth_effects


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Export, Predictor]:
    folder = tmp_path_factory.mktemp("recs") / "export"
    generate_export(folder, employees=1000, years=5, seed=11)
    export = read_export(folder)
    predictor = fit_predictor(export, seed=0, gap_model_params={"n_jobs": 1},
                              effect_params={"n_bootstrap": 4})
    return folder, export, predictor


@pytest.fixture(scope="module")
def batch(world) -> tuple[pd.DataFrame, pd.DataFrame]:
    _, export, predictor = world
    return predictor.score(export, top_k=5)


def _copy(export: Export, **tables: pd.DataFrame) -> Export:
    return replace(export, tables={**export.tables, **tables}, snapshot_id=None)


def test_metrics_beat_both_baselines(world) -> None:
    folder, export, predictor = world
    m = evaluate_recommendations(predictor, export, folder / "truth")
    assert m["eligibility_agreement"] == 1.0
    assert m["recommended_ineligible"] == 0.0
    assert m["policy_value_top1"] >= 0.75
    assert m["policy_value_top1"] > m["popularity_policy_value_top1"] + 0.3
    assert m["policy_value_top1"] > m["rule_policy_value_top1"] + 0.3
    assert m["policy_value_top3"] > max(m["popularity_policy_value_top3"], m["rule_policy_value_top3"])
    assert m["spearman_recommended"] >= 0.45
    assert m["coverage"] > 0.5


def test_no_ineligible_training_is_ever_recommended(world, batch) -> None:
    _, export, _ = world
    _, recs = batch
    as_of = export.exported_on
    eligible = set(zip(*eligible_pairs(export, None, as_of).to_numpy().T, strict=True))
    assert set(zip(recs["nip"], recs["training_id"], strict=True)) <= eligible
    # And against the rule itself, written out independently of features.eligibility.
    emp = export["employees"].set_index("nip")
    ptype = export["positions"].set_index("position_id")["position_type"]
    cat = export["trainings"].set_index("training_id")
    records = export["training_records"]
    blocking = records[records["status"].isin(["selesai", "berjalan"])]
    done = set(zip(blocking["nip"], blocking["training_id"], strict=True))
    service = dict(zip(emp.index, whole_years_of_service(emp["hired_on"], as_of), strict=True))
    for nip, tid in zip(recs["nip"], recs["training_id"], strict=True):
        t = cat.loc[tid]
        assert bool(t["active"]) and emp.loc[nip, "status"] == "aktif"
        if not pd.isna(t["eligible_position_types"]):
            assert ptype[emp.loc[nip, "position_id"]] in str(t["eligible_position_types"]).split(";")
        if not pd.isna(t["eligible_employment"]):
            assert emp.loc[nip, "employment"] in str(t["eligible_employment"]).split(";")
        if not pd.isna(t["max_years_of_service"]):
            assert service[nip] <= t["max_years_of_service"]
        assert (nip, tid) not in done


def _employee_with_recommendations(export: Export, predictor: Predictor, batch) -> tuple[str, str]:
    _, recs = batch
    top = recs[recs["rank"] == 1].sort_values("expected_gain", ascending=False).iloc[0]
    return str(top["nip"]), str(top["training_id"])


@pytest.mark.parametrize("status", ["selesai", "berjalan"])
def test_completing_or_starting_a_training_drops_it_from_the_list(world, batch, status) -> None:
    _, export, predictor = world
    nip, tid = _employee_with_recommendations(export, predictor, batch)
    before = predictor.recommend(export, nip)
    assert tid in [r.training_id for r in before.items]
    as_of = export.exported_on
    record = pd.DataFrame({
        "nip": [nip], "training_id": [tid], "started_on": [pd.Timestamp(as_of - timedelta(days=20))],
        "completed_on": [pd.Timestamp(as_of - timedelta(days=1)) if status == "selesai" else pd.NaT],
        "status": [status], "post_test_score": [np.nan],
    }).astype(export["training_records"].dtypes.to_dict())
    records = pd.concat([export["training_records"], record], ignore_index=True)
    changed = _copy(export, training_records=records)
    after = predictor.recommend(changed, nip)
    assert tid not in [r.training_id for r in after.items]


def _band_pairs(export: Export, truth: pd.DataFrame) -> pd.DataFrame:
    """(employee, competency, in-band course, course whose band lies a whole level or more below the
    current level), both single-target and eligible, where the truth says the in-band one gains more."""
    targets = export["training_targets"]
    single = targets.groupby("training_id").filter(lambda g: len(g) == 1)
    a = export["assessments"].sort_values("assessed_on")
    a = a.drop_duplicates(["nip", "competency_id"], keep="last")
    level = a.set_index(["nip", "competency_id"])["level"]
    pairs = truth.merge(single, on="training_id")
    pairs["level"] = level.reindex(pd.MultiIndex.from_frame(pairs[["nip", "competency_id"]])).to_numpy()
    pairs = pairs.dropna(subset=["level"])
    in_band = pairs[(pairs["level"] >= pairs["min_level"]) & (pairs["level"] < pairs["max_level"] + 1)]
    far = pairs[pairs["level"] >= pairs["max_level"] + 2]
    both = in_band.merge(far, on=["nip", "competency_id"], suffixes=("_in", "_far"))
    return both[both["expected_gain_in"] > both["expected_gain_far"] + 1e-9]


def test_a_course_far_below_ones_level_never_outranks_an_in_band_one(world) -> None:
    folder, export, predictor = world
    truth = read_truth_effects(folder / "truth")
    cases = _band_pairs(export, truth)
    assert len(cases) >= 5, "the fixture should hold such cases"
    gains = predictor.pair_gains(export, sorted(set(cases["nip"])))
    ranked = predictor.rank_pairs(gains, limit=None)
    rank = ranked.set_index(["nip", "training_id"])["rank"]
    gain = gains.set_index(["nip", "training_id"])["expected_gain"]
    for row in cases.itertuples(index=False):
        g_in, g_far = gain[(row.nip, row.training_id_in)], gain[(row.nip, row.training_id_far)]
        assert g_in >= g_far
        if (row.nip, row.training_id_far) in rank.index:
            assert (row.nip, row.training_id_in) in rank.index
            assert rank[(row.nip, row.training_id_in)] < rank[(row.nip, row.training_id_far)]


def test_employee_without_gap_gets_an_empty_list_and_a_message(world, batch) -> None:
    _, export, predictor = world
    gaps, _ = batch
    # No gap, not even within the predicted levels' uncertainty: the standards of the position at level 1.
    nip = str(gaps["nip"].iloc[0])
    position = export["employees"].set_index("nip").loc[nip, "position_id"]
    std = export["position_standards"].copy()
    std.loc[std["position_id"] == position, "required_level"] = 1
    export = _copy(export, position_standards=std)
    result = predictor.recommend(export, nip)
    assert result.items == [] and result.total_gap == 0.0
    assert result.message == "Tidak ada kesenjangan kompetensi yang perlu ditutup"
    assert predictor.recommend(export, nip, lang="en").message == "No competency gap to close"


def test_a_recommendation_explains_itself(world, batch) -> None:
    _, export, predictor = world
    nip, _ = _employee_with_recommendations(export, predictor, batch)
    result = predictor.recommend(export, nip, limit=3)
    items = result.items
    assert 1 <= len(items) <= 3 and [r.rank for r in items] == list(range(1, len(items) + 1))
    gains = [r.expected_gain for r in items]
    assert gains == sorted(gains, reverse=True) and min(gains) > predictor.gain_epsilon
    for r in items:
        assert r.lower <= r.expected_gain <= r.upper
        assert r.thin_evidence == (r.evidence.participants < predictor.thin_participants)
        assert any("→" in text and "," in text for text in r.reasons)  # "0,45 → 0,10": decimal comma
        assert any(text.startswith("Biaya Rp ") for text in r.reasons)
    english = predictor.recommend(export, nip, limit=3, lang="en").items[0].reasons
    assert any(text.startswith("Closes the ") for text in english)
    cheap = predictor.recommend(export, nip, max_cost_idr=0)
    assert all(r.cost_idr == 0 for r in cheap.items)
    short = predictor.recommend(export, nip, max_jp=10)
    assert all(r.hours_jp <= 10 for r in short.items)


def test_gaps_explanations_add_up_and_name_their_evidence(world, batch) -> None:
    _, export, predictor = world
    nip, tid = _employee_with_recommendations(export, predictor, batch)
    for plan in ((), (tid,)):
        body = predictor.gaps(export, nip, plan=plan)
        assert body.competencies
        for c in body.competencies:
            e = c.explanation
            assert e is not None
            assert e.base_value + sum(x.contribution for x in e.contributions) == pytest.approx(
                c.predicted_level, abs=1e-6)
            assert c.lower <= c.predicted_level <= c.upper
            assert c.gap == pytest.approx(max(0.0, c.required_level - c.predicted_level))
            assert e.evidence and all(x.text for x in e.evidence)
            assert not any(x.feature.startswith(("plan_", "current_")) for x in e.contributions)
        assert body.total_gap == pytest.approx(sum(c.gap for c in body.competencies))


def test_whatif_of_a_recommended_training_closes_the_gap_its_recommendation_shows(world, batch) -> None:
    _, export, predictor = world
    nip, tid = _employee_with_recommendations(export, predictor, batch)
    rec = next(r for r in predictor.recommend(export, nip).items if r.training_id == tid)
    result = predictor.whatif(export, nip, plan=[tid])
    shown = sum(c.gap_before - c.gap_after for c in rec.closes)
    assert result.total_gap_before - result.total_gap_after == pytest.approx(shown, abs=1e-5)
    assert all(d.gap_change <= 1e-12 and d.predicted_level_change >= -1e-12 for d in result.delta)
    assert result.summary[-1].startswith("Total kesenjangan")
    other = export["positions"]["position_id"].iloc[0]
    moved = predictor.whatif(export, nip, plan=[], position_id=other)
    assert moved.scenario.position_id == other
    std = export["position_standards"]
    assert {c.competency_id for c in moved.scenario.competencies} == set(
        std.loc[std["position_id"] == other, "competency_id"])


def test_batch_files_match_the_one_employee_answers(world, batch) -> None:
    _, export, predictor = world
    gaps, recs = batch
    assert list(gaps.columns) == list(GAPS_COLUMNS) and list(recs.columns) == list(RECOMMENDATIONS_COLUMNS)
    active = export["employees"].loc[export["employees"]["status"] == "aktif", "nip"]
    assert set(gaps["nip"]) <= set(active) and recs.groupby("nip")["rank"].max().max() <= 5
    for nip in list(recs["nip"].drop_duplicates()[:5]):
        one = predictor.recommend(export, nip)
        assert [r.training_id for r in one.items] == recs.loc[recs["nip"] == nip, "training_id"].tolist()
        body = predictor.gaps(export, nip, explain=False)
        mine = gaps[gaps["nip"] == nip].set_index("competency_id")["predicted_level"]
        shown = {c.competency_id: c.predicted_level for c in body.competencies}
        assert shown == pytest.approx(mine.to_dict())
    cands = predictor.candidates(export, top_k=3)
    assert list(cands.columns) == list(CANDIDATE_COLUMNS)
    assert cands.groupby("nip").size().max() <= 3 and (cands["expected_gain"] > 0).all()
    assert all(isinstance(c, tuple) and c for c in cands["competency_ids"])


def test_protected_attributes_change_nothing(world, batch) -> None:
    _, export, predictor = world
    nip, _ = _employee_with_recommendations(export, predictor, batch)
    emp = export["employees"].copy()
    emp["sex"] = emp["sex"].map({"l": "p", "p": "l"}).astype("str")
    emp["birth_date"] = emp["birth_date"] - pd.Timedelta(days=3650)
    flipped = _copy(export, employees=emp)
    a, b = predictor.recommend(export, nip), predictor.recommend(flipped, nip)
    assert [(r.training_id, r.expected_gain) for r in a.items] == [
        (r.training_id, r.expected_gain) for r in b.items]


def test_inline_employee_gets_gaps_without_a_nip(world) -> None:
    _, export, predictor = world
    emp = export["employees"].iloc[0]
    history = export["assessments"][export["assessments"]["nip"] == emp["nip"]]
    assessments = [{"competency_id": r.competency_id, "assessed_on": r.assessed_on.date().isoformat(),
                    "level": r.level, "method": r.method} for r in history.itertuples()]
    employee = {k: emp[k] for k in ("position_id", "unit_id", "grade", "employment", "education")}
    employee["hired_on"] = emp["hired_on"].date()
    body = predictor.gaps_inline(export, employee, assessments, [], [])
    assert body.nip == INLINE_NIP and body.competencies
    for c in body.competencies:
        assert c.explanation is not None and 1.0 <= c.predicted_level <= 5.0
    with pytest.raises(UnknownPosition):
        predictor.gaps_inline(export, employee | {"position_id": "NOPE"}, assessments, [], [])
    bad = [dict(assessments[0], level=7.5)] if assessments else [{"competency_id": "x", "level": 7.5}]
    with pytest.raises(EngineError) as info:
        predictor.gaps_inline(export, employee, bad, [], [])
    assert info.value.field is not None and info.value.field.startswith("assessments[0]")


def test_errors_name_what_is_wrong(world, batch) -> None:
    _, export, predictor = world
    nip, _ = _employee_with_recommendations(export, predictor, batch)
    with pytest.raises(UnknownEmployee):
        predictor.recommend(export, "000000000000000000")
    with pytest.raises(UnknownTraining):
        predictor.whatif(export, nip, plan=["NO-SUCH-COURSE"])
    with pytest.raises(UnknownUnit):
        predictor.unit_summary(export, "NO-SUCH-UNIT")
    with pytest.raises(EngineError) as info:
        predictor.gaps(export, nip, horizon_months=0)
    assert info.value.field == "horizon_months"
    with pytest.raises(EngineError) as info:
        predictor.gaps(export, nip, as_of=export.exported_on + timedelta(days=1))
    assert info.value.field == "as_of"


def test_unit_summary_counts_its_employees_and_those_of_its_sub_units(world) -> None:
    _, export, predictor = world
    emp = export["employees"]
    active = emp[emp["status"] == "aktif"]
    units = export["units"]
    parent = {str(u): (None if pd.isna(p) else str(p))
              for u, p in zip(units["unit_id"], units["parent_unit_id"], strict=True)}

    def ancestors(unit: str) -> list[str]:
        chain = []
        while unit is not None and unit not in chain:
            chain.append(unit)
            unit = parent.get(unit)
        return chain

    # The unit that holds the most active employees counting its sub-units (e.g. Dinas Pendidikan).
    counts = pd.Series([a for u in active["unit_id"].astype(str) for a in ancestors(u)]).value_counts()
    unit = str(counts.index[0])
    summary = predictor.unit_summary(export, unit)
    assert summary.employees == int(counts.iloc[0])
    assert summary.employees > int((active["unit_id"] == unit).sum())  # sub-units are counted
    assert sum(summary.jpm_bands.values()) == summary.employees
    assert all(0.0 <= c.share_below_standard <= 1.0 for c in summary.competencies)
    assert 0.0 <= summary.jp_compliance["share"] <= 1.0


def test_the_predictor_pickles_without_its_cache(world, batch) -> None:
    _, export, predictor = world
    nip, _ = _employee_with_recommendations(export, predictor, batch)
    clone = pickle.loads(pickle.dumps(predictor))
    assert clone._cache == []
    assert [r.training_id for r in clone.recommend(export, nip).items] == [
        r.training_id for r in predictor.recommend(export, nip).items]
    assert predictor.metadata["as_of"] == export.exported_on.isoformat()
    assert predictor.metadata["effect_estimator"] == "x_learner"
    assert date.fromisoformat(predictor.metadata["data_window"]["end"]) <= export.exported_on


def test_one_employee_answers_equal_the_batch_computation(world, batch) -> None:
    """A request reads per-snapshot tables (eligibility, evidence, JP) and computes intervals for the shown
    pairs only: its answer must be the one the all-pairs computation gives."""
    _, export, predictor = world
    nip, _ = _employee_with_recommendations(export, predictor, batch)
    everything = predictor.pair_gains(export, [nip], detail=True).set_index("training_id")
    shown = predictor.recommend(export, nip, limit=50)
    assert shown.items
    for item in shown.items:
        row = everything.loc[item.training_id]
        assert (item.expected_gain, item.lower, item.upper) == pytest.approx(
            (row["expected_gain"], row["lower"], row["upper"]), abs=1e-9)
        assert item.evidence.participants == row["participants"]
        # What it closes at the point levels; a gain only in expectation names its primary competency.
        assert [c.competency_id for c in item.closes] == list(row["competency_ids"]) if item.closes else (
            list(row["competency_ids"]) == [row["primary_competency"]])
        # What it closes is shown at the point levels, and sums to the point gain.
        assert sum(c.gap_before - c.gap_after for c in item.closes) == pytest.approx(row["point_gain"], abs=1e-5)
    # Eligibility read from the snapshot's matrix equals the one computed for this employee alone, and
    # the tables are built once per date (warm) and bounded.
    as_of = export.exported_on
    assert set(everything.index) == set(eligible_pairs(export, [nip], as_of)["training_id"])
    earlier = as_of - timedelta(days=400)
    assert set(predictor.pair_gains(export, [nip], as_of=earlier)["training_id"]) == set(
        eligible_pairs(export, [nip], earlier)["training_id"])
    predictor.warm(export)
    ctx = predictor._context(export)
    assert as_of in ctx.eligibility and as_of in ctx.evidence and as_of in ctx.jp_year
    for days in range(1, 8):
        predictor.pair_gains(export, [nip], as_of=as_of - timedelta(days=30 * days))
    assert len(ctx.eligibility) <= 4 and len(ctx.evidence) <= 4


def test_an_employee_just_above_the_standard_still_gets_the_trainings_that_may_close_a_gap(world, batch) -> None:
    _, export, predictor = world
    gaps, _ = batch
    total = gaps.groupby("nip")["gap"].sum()
    no_point_gap = [str(n) for n in total.index[total == 0]]
    pairs = predictor.pair_gains(export, no_point_gap)
    assert (pairs["point_gain"] <= predictor.gain_epsilon).all()  # at the point levels, nothing to close
    results = predictor.recommend_many(export, no_point_gap, lang="en")
    listed = [r for r in results if r.items]
    assert listed, "no employee just above the standard got a recommendation"
    for result in listed:
        assert result.message is None
        for item in result.items:
            # The expected gain counts the uncertainty of the level; at the point levels it closes nothing,
            # and the first reason says why it is listed all the same.
            assert item.expected_gain > predictor.gain_epsilon and not item.closes
            assert "uncertain" in item.reasons[0]
    in_indonesian = predictor.recommend(export, listed[0].nip)
    assert "belum pasti" in in_indonesian.items[0].reasons[0]


def test_the_expected_gain_is_the_gap_closed_over_the_uncertainty_of_the_level() -> None:
    """`_gap_closed` against a Monte Carlo of the true level, the point figure when the level is certain, and
    nothing to close for a standard at the bottom of the scale."""
    rng = np.random.default_rng(0)
    required = np.array([3.0, 3.0, 3.0, 1.0, 4.0])
    level = np.array([3.2, 2.6, 1.5, 1.0, 4.6])
    sd = np.array([0.3, 0.5, 0.2, 0.6, 0.4])
    effect = np.array([0.4, 0.3, 0.5, 0.3, 0.2])
    true = level[:, None] + sd[:, None] * rng.standard_normal((len(level), 400_000))

    def gap(x: np.ndarray) -> np.ndarray:
        return np.maximum(required[:, None] - np.clip(x, 1.0, 5.0), 0.0).mean(axis=1)

    closed = _gap_closed(required, level, sd, effect)
    assert closed == pytest.approx(gap(true) - gap(true + effect[:, None]), abs=3e-3)
    point = np.maximum(required - level, 0) - np.maximum(required - level - effect, 0)
    assert _gap_closed(required, level, np.zeros(5), effect) == pytest.approx(point, abs=1e-12)
    assert closed[0] > 0.02  # predicted above the standard: a gap may still be there
    assert closed[3] == pytest.approx(0.0, abs=1e-12)  # a standard of 1: nothing to close, however uncertain
