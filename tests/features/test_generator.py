"""The synthetic export generator: determinism, the contract's shape, domain rules and the truth files."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.constants import (
    LEVEL_MAX,
    LEVEL_MIN,
    POSITION_TYPES,
    TABLES,
    TRUTH_EFFECTS_COLUMNS,
    TRUTH_LEVELS_COLUMNS,
    skp_rating,
)
from features.generator import Simulation, generate_export, model, simulate_export
from features.generator.simulate import raw_attractor

EMPLOYEES, YEARS, SEED = 300, 4, 7
EXPORTED_ON = date(2026, 6, 30)


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small generated export, shared read-only by the tests of this module."""
    out = tmp_path_factory.mktemp("generated") / "export"
    generate_export(out, employees=EMPLOYEES, years=YEARS, seed=SEED, exported_on=EXPORTED_ON)
    return out


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _add_years(d: date, years: int) -> date:
    return d.replace(year=d.year + years, day=min(d.day, 28) if d.month == 2 and d.day == 29 else d.day)


def _whole_years(start: date, end: date) -> int:
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def test_same_seed_gives_identical_bytes_and_another_seed_differs(export_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_export(again, employees=EMPLOYEES, years=YEARS, seed=SEED, exported_on=EXPORTED_ON)
    first, second = _files(export_dir), _files(again)
    assert list(first) == list(second)
    assert [name for name in first if first[name] != second[name]] == []
    other = tmp_path / "other"
    generate_export(other, employees=EMPLOYEES, years=YEARS, seed=SEED + 1, exported_on=EXPORTED_ON)
    third = _files(other)
    for name in ("employees.csv", "assessments.csv", "training_records.csv", "truth/effects.csv"):
        assert third[name] != first[name], name


def test_every_table_has_exactly_the_contract_columns(export_dir: Path) -> None:
    for table in TABLES:
        frame = _read(export_dir, table.name)
        assert tuple(frame.columns) == table.column_names, table.name
        assert len(frame) > 0, table.name
    meta = json.loads((export_dir / "export.json").read_text(encoding="utf-8"))
    assert meta == {"contract_version": 1, "organisation": "Pemerintah Kota Pontianak",
                    "exported_on": "2026-06-30"}
    assert tuple(_read(export_dir / "truth", "levels").columns) == TRUTH_LEVELS_COLUMNS
    assert tuple(_read(export_dir / "truth", "effects").columns) == TRUTH_EFFECTS_COLUMNS
    world = json.loads((export_dir / "truth" / "world.json").read_text(encoding="utf-8"))
    assert world["name"] == "default" and world["mechanisms"] == []  # the demo world, recorded in truth/ only


def test_export_passes_the_contract_validator(export_dir: Path) -> None:
    io = pytest.importorskip("features.io")
    export = io.read_export(export_dir)
    assert export.exported_on == EXPORTED_ON
    assert len(export["employees"]) == len(_read(export_dir, "employees"))
    assert export.warnings == []


def test_active_count_is_close_to_the_request_and_every_position_type_occurs(export_dir: Path) -> None:
    employees = _read(export_dir, "employees").merge(_read(export_dir, "positions"), on="position_id")
    active = employees[employees["status"] == "aktif"]
    assert abs(len(active) - EMPLOYEES) <= 0.05 * EMPLOYEES
    assert set(active["position_type"]) == set(POSITION_TYPES)
    assert {"pensiun", "pindah", "cuti", "tugas_belajar"} <= set(employees["status"])
    assert set(active["employment"]) == {"pns", "pppk"}


def test_teachers_and_health_workers_dominate(tmp_path: Path) -> None:
    sim = simulate_export(employees=2000, years=1, seed=3, exported_on=EXPORTED_ON)
    roster = sim.roster
    active = [roster.positions[p] for p, s in zip(roster.position, roster.status, strict=True) if s == "aktif"]
    teachers = np.mean([p.teacher for p in active])
    health = np.mean([p.job_family == "kesehatan" and p.position_type.startswith("fungsional") for p in active])
    assert 0.40 <= teachers <= 0.50
    assert 0.16 <= health <= 0.25
    counts = pd.Series([p.position_type for p in active]).value_counts()
    assert counts["jpt_pratama"] < counts["administrator"] < counts["pengawas"] < counts["pelaksana"]


def test_nip_encodes_birth_date_tmt_and_sex(export_dir: Path) -> None:
    employees = _read(export_dir, "employees")
    nip = employees["nip"]
    assert nip.str.fullmatch(r"\d{18}").all()
    assert nip.is_unique
    assert (nip.str[:8] == employees["birth_date"].str.replace("-", "")).all()
    assert (nip.str[8:14] == employees["hired_on"].str[:7].str.replace("-", "")).all()
    assert (nip.str[14] == employees["sex"].map({"l": "1", "p": "2"})).all()
    assert (employees["hired_on"].str[8:] == "01").all()  # TMT is the first of a month
    assert (employees["hired_on"] <= "2026-06-30").all()
    ages_at_tmt = [_whole_years(date.fromisoformat(b), date.fromisoformat(h))
                   for b, h in zip(employees["birth_date"], employees["hired_on"], strict=True)]
    assert min(ages_at_tmt) >= 18


def test_grades_follow_employment(export_dir: Path) -> None:
    employees = _read(export_dir, "employees")
    pppk = employees["employment"] == "pppk"
    assert employees.loc[pppk, "grade"].str.startswith("pppk_").all()
    assert not employees.loc[~pppk, "grade"].str.startswith("pppk_").any()
    assert (employees.loc[pppk, "hired_on"] >= "2022-01-01").all()  # PPPK waves since the 2021 selection
    s2 = employees[~pppk & (employees["education"] == "s2")]
    assert not s2["grade"].isin(["I/a", "I/b", "I/c", "I/d", "II/a", "II/b", "II/c", "II/d", "III/a"]).any()


def test_retirement_at_bup(export_dir: Path) -> None:
    employees = _read(export_dir, "employees").merge(_read(export_dir, "positions"), on="position_id")
    bup = np.where(employees["position_type"] == "fungsional_ahli_utama", 65,
                   np.where(employees["position_type"].isin(["jpt_pratama", "fungsional_ahli_madya"])
                            | employees["title"].str.startswith("Guru"), 60, 58))
    reached = np.array([_add_years(date.fromisoformat(b), int(age)) <= EXPORTED_ON
                        for b, age in zip(employees["birth_date"], bup, strict=True)])
    status = employees["status"]
    assert not reached[status.isin(["aktif", "cuti", "tugas_belajar"]).to_numpy()].any()
    assert reached[(status == "pensiun").to_numpy()].all()
    # Retirees reached BUP inside the history and have no records after it.
    retired = employees[status == "pensiun"].assign(bup=bup[(status == "pensiun").to_numpy()])
    bup_day = {n: _add_years(date.fromisoformat(b), int(a)).isoformat()
               for n, b, a in zip(retired["nip"], retired["birth_date"], retired["bup"], strict=True)}
    assert min(bup_day.values()) >= "2022-07-01"
    assessments = _read(export_dir, "assessments")
    late = assessments[assessments["nip"].isin(bup_day)]
    assert (late["assessed_on"] < late["nip"].map(bup_day)).all()


def test_skp_predicates_follow_the_matrix_and_quotas(export_dir: Path) -> None:
    reviews = _read(export_dir, "performance_reviews")
    expected = [skp_rating(r, b) for r, b in zip(reviews["work_result"], reviews["work_behavior"], strict=True)]
    assert reviews["rating"].tolist() == expected
    assert reviews["year"].astype(int).max() == 2025
    assert not reviews.duplicated(["nip", "year"]).any()
    share = (reviews["rating"] == "sangat_baik").mean()
    assert 0.03 < share <= 0.20
    units = reviews.merge(_read(export_dir, "employees")[["nip", "unit_id"]], on="nip")
    big = units.groupby(["unit_id", "year"]).filter(lambda g: len(g) >= 10)
    per_unit = big.groupby(["unit_id", "year"])["rating"].apply(lambda r: (r == "sangat_baik").mean())
    assert len(per_unit) > 0 and per_unit.max() <= 0.20


def test_assessments_are_in_range_with_two_decimals_and_enough_history(export_dir: Path) -> None:
    assessments = _read(export_dir, "assessments")
    assert assessments["level"].str.fullmatch(r"\d\.\d\d").all()
    level = assessments["level"].astype(float)
    assert level.between(LEVEL_MIN, LEVEL_MAX).all()
    assert not assessments.duplicated(["nip", "competency_id", "assessed_on", "method"]).any()
    assert set(assessments["method"]) == {"assessment_center", "uji_kompetensi", "cat", "penilaian_360"}
    employees = _read(export_dir, "employees")
    dates = assessments.merge(employees[["nip", "hired_on"]], on="nip")
    assert (dates["assessed_on"] >= dates["hired_on"]).all() and (dates["assessed_on"] <= "2026-06-30").all()
    # 360 is lenient: its mean is higher than the assessment centre's.
    by_method = assessments.assign(level=level).groupby("method")["level"].mean()
    assert by_method["penilaian_360"] > by_method["assessment_center"] + 0.1
    active = employees.loc[employees["status"] == "aktif", "nip"]
    most = assessments.groupby(["nip", "competency_id"]).size().groupby(level=0).max()
    assert (most.reindex(active).fillna(0) >= 2).mean() > 0.6


def test_training_records_are_consistent(export_dir: Path) -> None:
    records = _read(export_dir, "training_records")
    trainings = _read(export_dir, "trainings")
    assert 60 <= len(trainings) <= 100
    assert (trainings["active"] == "false").sum() >= 2
    latsar = trainings.set_index("training_id").loc["PLT-LATSAR-CPNS"]
    assert (latsar["eligible_employment"], latsar["max_years_of_service"]) == ("pns", "1")
    assert int(latsar["hours_jp"]) >= 300
    status = records["status"]
    assert set(status) == {"selesai", "tidak_selesai", "berjalan"}
    assert (records.loc[status == "selesai", "completed_on"] != "").all()
    assert (records.loc[status != "selesai", "completed_on"] == "").all()
    done = records[status == "selesai"]
    assert (done["completed_on"] >= done["started_on"]).all() and (done["completed_on"] <= "2026-06-30").all()
    assert (records["started_on"] <= "2026-06-30").all()
    score = pd.to_numeric(records["post_test_score"].replace("", np.nan))
    assert score.notna().any() and score.dropna().between(0, 100).all()
    employees = _read(export_dir, "employees")
    years_worked = len(employees) * YEARS
    assert 0.8 <= len(records) / years_worked <= 2.5
    targets = _read(export_dir, "training_targets")
    assert (targets["min_level"].astype(int) <= targets["max_level"].astype(int)).all()


def test_truth_levels_cover_exactly_active_employees_times_required_competencies(export_dir: Path) -> None:
    levels = _read(export_dir / "truth", "levels")
    employees = _read(export_dir, "employees")
    standards = _read(export_dir, "position_standards")
    active = employees.loc[employees["status"] == "aktif", ["nip", "position_id"]]
    expected = set(map(tuple, active.merge(standards, on="position_id")[["nip", "competency_id"]].to_numpy()))
    assert set(map(tuple, levels[["nip", "competency_id"]].to_numpy())) == expected
    assert len(levels) == len(expected)
    assert (levels["as_of"] == "2026-06-30").all() and (levels["horizon_months"] == "12").all()
    value = levels["expected_level_no_plan"].astype(float)
    assert value.between(LEVEL_MIN, LEVEL_MAX).all()
    assert levels["expected_level_no_plan"].str.fullmatch(r"\d\.\d{6}").all()


def test_truth_effects_cover_exactly_the_eligible_pairs(export_dir: Path) -> None:
    effects = _read(export_dir / "truth", "effects")
    employees = _read(export_dir, "employees").merge(_read(export_dir, "positions"), on="position_id")
    trainings = _read(export_dir, "trainings")
    records = _read(export_dir, "training_records")
    blocked = set(map(tuple, records.loc[records["status"].isin(["selesai", "berjalan"]),
                                         ["nip", "training_id"]].to_numpy()))
    expected = set()
    for person in employees[employees["status"] == "aktif"].itertuples():
        service = _whole_years(date.fromisoformat(person.hired_on), EXPORTED_ON)
        for t in trainings.itertuples():
            types = [x for x in t.eligible_position_types.split(";") if x]
            employment = [x for x in t.eligible_employment.split(";") if x]
            if (t.active == "true" and (not types or person.position_type in types)
                    and (not employment or person.employment in employment)
                    and (t.max_years_of_service == "" or service <= int(t.max_years_of_service))
                    and (person.nip, t.training_id) not in blocked):
                expected.add((person.nip, t.training_id))
    assert set(map(tuple, effects[["nip", "training_id"]].to_numpy())) == expected
    assert len(effects) == len(expected)
    gain = effects["expected_gain"].astype(float)
    assert (gain >= 0).all() and (gain == 0).any() and (gain > 0.1).any()
    assert effects["expected_gain"].str.fullmatch(r"\d+\.\d{6}").all()


def test_training_effect_is_largest_in_band() -> None:
    levels = np.array([0.9, 1.5, 2.0, 2.5, 2.99, 3.0, 3.5, 4.5])
    shift = model.training_shift(40, 0, 1.0, 1.0, levels, 2, 2, np.zeros(len(levels)))
    in_band = shift[(levels >= 2) & (levels < 3)]
    assert np.allclose(in_band, in_band[0]) and in_band[0] == pytest.approx(
        model.base_effect(40) * model.openness_multiplier(np.zeros(1))[0])
    assert 0.2 <= in_band[0] <= 0.6
    assert shift[1] < in_band[0] and shift[0] < shift[1]  # shrinking below the band
    assert (shift[levels >= 3] < 0.1 * in_band[0]).all()  # almost nothing above it
    e_learning = model.training_shift(12, 1, 1.0, 1.0, np.array([1.5]), 1, 2, np.zeros(1))[0]
    assert 0.05 <= e_learning <= 0.15


def test_in_band_gains_exceed_above_band_gains(export_dir: Path) -> None:
    effects = _read(export_dir / "truth", "effects").assign(
        expected_gain=lambda f: f["expected_gain"].astype(float))
    targets = _read(export_dir, "training_targets").astype({"min_level": int, "max_level": int})
    assessments = _read(export_dir, "assessments").astype({"level": float}).sort_values("assessed_on")
    latest = assessments.groupby(["nip", "competency_id"]).tail(1)[["nip", "competency_id", "level"]]
    rows = effects.merge(targets, on="training_id").merge(latest, on=["nip", "competency_id"])
    in_band = rows[(rows["level"] >= rows["min_level"]) & (rows["level"] < rows["max_level"] + 1)]
    above = rows[rows["level"] >= rows["max_level"] + 1.5]
    assert len(in_band) > 100 and len(above) > 100
    assert in_band["expected_gain"].mean() > 2 * above["expected_gain"].mean()


def _monte_carlo_level(sim: Simulation, persons: np.ndarray, comps: np.ndarray, extra_shift: np.ndarray,
                       seed: int, reps: int = 4000) -> np.ndarray:
    """Mean true level 12 months after the export month, stepping the noisy dynamics `reps` times."""
    final, latent, timeline = sim.final, sim.latent, sim.timeline
    s0 = final.systematic[persons, comps]
    total = final.shifts[persons, comps] + extra_shift
    effect = model.capped_shift(total, s0)  # the month's completions (and the plan) arrive together
    boost = final.boost[persons, comps] + effect
    rng = np.random.default_rng(seed)
    s = np.repeat((s0 + effect)[None, :], reps, axis=0)
    n = np.repeat(final.transient[persons, comps][None, :], reps, axis=0)
    for k in range(12):
        raw = raw_attractor(latent, timeline, timeline.last + k, persons)[np.arange(len(persons)), comps]
        s, n = model.noisy_step(s, n, raw, boost, latent.rate[persons], rng.uniform(-1, 1, s.shape),
                                rng.uniform(-1, 1, s.shape))
    level = s + n
    assert level.min() >= LEVEL_MIN and level.max() <= LEVEL_MAX
    return level.mean(axis=0)


def test_truth_is_the_expectation_of_the_simulated_dynamics() -> None:
    """Monte Carlo: stepping the noisy dynamics from the export month averages to the truth files' values."""
    sim = simulate_export(employees=80, years=2, seed=5, exported_on=EXPORTED_ON)
    truth, catalogue, final = sim.truth, sim.catalogue, sim.final
    persons, comps = truth.level_person[:60], truth.level_competency[:60]
    mean = _monte_carlo_level(sim, persons, comps, np.zeros(len(persons)), seed=0)
    assert np.abs(mean - truth.expected_level[:60]).max() < 0.01
    # Gains: the plan's course completes just after the export date, its band judged on the level then.
    chosen = np.flatnonzero(truth.expected_gain > 0.05)[:12]
    assert len(chosen) >= 5
    for row in chosen:
        person, k = truth.effect_person[row], truth.effect_training[row]
        required = catalogue.required[sim.roster.position[person]]
        comps = np.flatnonzero((catalogue.weight[k] > 0) & (required > 0))
        persons = np.full(len(comps), person)
        level_now = final.systematic[person, comps] + final.transient[person, comps]
        shift = model.training_shift(catalogue.hours_jp[k], catalogue.format_index[k], catalogue.quality[k],
                                     catalogue.weight[k, comps], level_now, catalogue.min_level[k, comps],
                                     catalogue.max_level[k, comps], sim.latent.openness[person])
        without = _monte_carlo_level(sim, persons, comps, np.zeros(len(comps)), seed=int(row))
        with_plan = _monte_carlo_level(sim, persons, comps, shift, seed=int(row))
        gain = (np.maximum(0, required[comps] - without) - np.maximum(0, required[comps] - with_plan)).sum()
        assert gain == pytest.approx(truth.expected_gain[row], abs=0.01)


def test_small_and_odd_sizes_work(tmp_path: Path) -> None:
    summary = generate_export(tmp_path / "tiny", employees=40, years=1, seed=1, exported_on=date(2025, 12, 31))
    assert summary.counts["employees"] >= 40 and summary.counts["truth/levels"] > 0
    reviews = _read(tmp_path / "tiny", "performance_reviews")
    assert set(reviews["year"]) == {"2025"}  # an export on 31 December carries that year's SKP
    with pytest.raises(ValueError):
        generate_export(tmp_path / "none", employees=0)
