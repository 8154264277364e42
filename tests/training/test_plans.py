"""`engine.plans.make_plan`: scope (units and their descendants, include/exclude), candidate pruning, limits,
brute-force optimality on small instances, the budget curve, the audit inputs and the allocation file.

The recommendation engine is replaced by `FakeEngine` (deterministic gains on the *real* eligible pairs of a
small generated export), so these tests are fast and exact; tests/serving/test_plans_api.py runs the same
function end to end with a really trained predictor.
"""

from __future__ import annotations

import itertools
import json
import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.allocation import greedy_plan
from engine.plans import (
    PLAN_ALLOCATION_COLUMNS,
    PlanRequest,
    audit_inputs,
    make_plan,
    parse_ids,
    plan_candidates,
    unit_scope,
    write_allocations,
)
from engine.results import EngineError, UnknownEmployee, UnknownTraining, UnknownUnit
from features.constants import ACTIVE_STATUS, CANDIDATE_COLUMNS, JP_RIGHT_PER_YEAR
from features.eligibility import eligibility_matrix
from features.export import Export
from features.generator import generate_export
from features.io import read_export
from features.jp import jp_this_year

EPSILON = 0.01


class FakeEngine:
    """The slice of `Predictor` that plans use, with gains a pure function of (seed, nip, training)."""

    def __init__(self, seed: int = 0, zero_share: float = 0.3) -> None:
        self.seed = seed
        self.zero_share = zero_share
        self.gain_epsilon = EPSILON
        self.model_version = "fake-7"
        self.calls: list[tuple[str, tuple[str, ...], int]] = []

    def _unit(self, nip: str, training_id: str, salt: int) -> float:
        return zlib.crc32(f"{self.seed}|{salt}|{nip}|{training_id}".encode()) / 2**32

    def pair_gains(self, export: Export, nips: list[str] | None = None, *, as_of: object = None,
                   horizon_months: int = 12) -> pd.DataFrame:
        self.calls.append(("pair_gains", tuple(nips or ()), horizon_months))
        names, trainings, eligible = eligibility_matrix(export, nips, export.exported_on)
        rows, cols = np.nonzero(eligible)
        pairs = pd.DataFrame({"nip": names.to_numpy()[rows].astype(str),
                              "training_id": trainings.to_numpy()[cols].astype(str)})
        catalogue = export["trainings"].set_index(export["trainings"]["training_id"].astype(str))
        targets = export["training_targets"].groupby("training_id")["competency_id"].agg(
            lambda s: tuple(sorted(map(str, s))))
        u = np.array([self._unit(n, t, 1) for n, t in zip(pairs["nip"], pairs["training_id"], strict=True)])
        gain = np.where(u < self.zero_share, 0.0, np.round(u, 4))
        pairs["expected_gain"] = gain
        pairs["competency_ids"] = [targets.get(t, ()) if g > 0 else () for t, g in
                                   zip(pairs["training_id"], gain, strict=True)]
        pairs["cost_idr"] = catalogue["cost_idr"].reindex(pairs["training_id"]).to_numpy(np.int64)
        pairs["hours_jp"] = catalogue["hours_jp"].reindex(pairs["training_id"]).to_numpy(np.int64)
        pairs["total_gap_before"] = 2.0
        return pairs

    def candidates(self, export: Export, nips: list[str] | None = None, *, top_k: int | None = 5,
                   as_of: object = None, horizon_months: int = 12) -> pd.DataFrame:
        self.calls.append(("candidates", tuple(nips or ()), horizon_months))
        pairs = self.pair_gains(export, nips, horizon_months=horizon_months)
        self.calls.pop()
        pairs = pairs[pairs["expected_gain"] > self.gain_epsilon]
        units = export["employees"].set_index(export["employees"]["nip"].astype(str))["unit_id"].astype(str)
        jp = jp_this_year(export, export.exported_on)
        pairs = pairs.assign(unit_id=units.reindex(pairs["nip"]).to_numpy(),
                             jp_this_year=jp.reindex(pairs["nip"]).fillna(0.0).to_numpy(np.float64))
        return pairs[list(CANDIDATE_COLUMNS)].reset_index(drop=True)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Export:
    folder = tmp_path_factory.mktemp("plans") / "export"
    generate_export(folder, employees=160, years=2, seed=3)
    return read_export(folder).without_protected()


def _active(export: Export) -> pd.DataFrame:
    employees = export["employees"]
    return employees[employees["status"] == ACTIVE_STATUS]


def _unit_with_children(export: Export, kind: str) -> str:
    """A unit of `kind` whose subtree has active employees outside the unit itself."""
    units, active = export["units"], _active(export)
    for unit_id in units.loc[units["kind"] == kind, "unit_id"].astype(str):
        below = unit_scope(units, [unit_id]) - {unit_id}
        if active["unit_id"].isin(below).any():
            return unit_id
    raise AssertionError(f"no {kind} with staffed sub-units in the generated export")


def assert_valid_plan(export: Export, request: PlanRequest, plan) -> None:
    """Every rule of a plan, checked from the export and the request, not from the planner's code."""
    alloc = plan.allocations
    assert list(alloc.columns) == list(PLAN_ALLOCATION_COLUMNS)
    assert int(alloc["cost_idr"].sum()) == plan.totals["cost_idr"] <= request.budget_idr
    assert plan.objective == pytest.approx(float(alloc["expected_gain"].sum()))
    assert not alloc.duplicated(["nip", "training_id"]).any()
    names, trainings, eligible = eligibility_matrix(export, alloc["nip"].tolist(), export.exported_on)
    rows, cols = names.get_indexer(alloc["nip"]), trainings.get_indexer(alloc["training_id"])
    assert (rows >= 0).all() and (cols >= 0).all() and eligible[rows, cols].all(), "an ineligible pair"
    employees = export["employees"].set_index(export["employees"]["nip"].astype(str))
    assert (employees.loc[alloc["nip"], "status"] == ACTIVE_STATUS).all()
    per = alloc.groupby("nip")
    assert (per.size() <= request.max_trainings_per_employee).all()
    if request.max_jp_per_employee is not None:
        assert (per["hours_jp"].sum() <= request.max_jp_per_employee).all()
    assert not set(alloc["nip"]) & set(request.exclude_nips)
    assert not set(alloc["training_id"]) & set(request.exclude_training_ids)
    for training_id, seats in request.seat_capacity.items():
        assert (alloc["training_id"] == training_id).sum() <= seats
    # No two trainings of one employee close the same competency.
    targets = export["training_targets"].astype(str)
    closes = alloc[alloc["expected_gain"] > 0].merge(targets, on="training_id")
    assert not closes.duplicated(["nip", "competency_id"]).any()


# ---------------------------------------------------------------------------------------------------
# Scope
# ---------------------------------------------------------------------------------------------------
def test_a_kecamatan_includes_its_kelurahan(export: Export) -> None:
    units = export["units"]
    kecamatan = _unit_with_children(export, "kecamatan")
    scope = unit_scope(units, [kecamatan])
    kelurahan = set(units.loc[units["parent_unit_id"] == kecamatan, "unit_id"].astype(str))
    assert kelurahan and scope == {kecamatan} | kelurahan  # kelurahan have no sub-units of their own
    assert unit_scope(units, []) == set()
    with pytest.raises(UnknownUnit) as info:
        unit_scope(units, [kecamatan, "NO-SUCH-UNIT"])
    assert info.value.field == "unit_ids[1]"


def test_the_engine_is_asked_exactly_for_the_active_employees_in_scope(export: Export) -> None:
    engine = FakeEngine()
    kecamatan = _unit_with_children(export, "kecamatan")
    scope = unit_scope(export["units"], [kecamatan])
    active = _active(export)
    expected = sorted(active.loc[active["unit_id"].isin(scope), "nip"].astype(str))
    plan = make_plan(engine, export, PlanRequest(budget_idr=50_000_000, unit_ids=(kecamatan,), horizon_months=18))
    kind, asked, horizon = engine.calls[0]
    assert (kind, sorted(asked), horizon) == ("candidates", expected, 18)
    assert plan.scope["employees"] == len(expected) and plan.scope["units"] == len(scope)
    assert set(plan.allocations["nip"]) <= set(expected)
    assert set(plan.allocations["unit_id"]) <= scope
    assert plan.model_version == "fake-7" and plan.as_of == export.exported_on


def test_include_adds_and_exclude_removes_employees(export: Export) -> None:
    kecamatan = _unit_with_children(export, "kecamatan")
    scope = unit_scope(export["units"], [kecamatan])
    active = _active(export)
    inside = active.loc[active["unit_id"].isin(scope), "nip"].astype(str).tolist()
    outside = active.loc[~active["unit_id"].isin(scope), "nip"].astype(str).tolist()
    engine = FakeEngine()
    request = PlanRequest(budget_idr=30_000_000, unit_ids=(kecamatan,), include_nips=(outside[0],),
                          exclude_nips=(inside[0],))
    plan = make_plan(engine, export, request)
    asked = set(engine.calls[0][1])
    assert outside[0] in asked and inside[0] not in asked
    assert inside[0] not in set(plan.allocations["nip"])
    if outside[0] not in plan.unmet_include_nips:  # covered when it has an affordable candidate
        assert outside[0] in set(plan.allocations["nip"])
    assert_valid_plan(export, request, plan)


def test_unknown_or_inactive_employees_and_trainings_are_refused(export: Export) -> None:
    engine = FakeEngine()
    employees = export["employees"]
    inactive = employees.loc[employees["status"] != ACTIVE_STATUS, "nip"].astype(str).iloc[0]
    active = _active(export)["nip"].astype(str).iloc[0]
    with pytest.raises(UnknownEmployee) as info:
        make_plan(engine, export, PlanRequest(budget_idr=1, exclude_nips=(active, "000000000000000000")))
    assert info.value.field == "exclude_nips[1]" and "0000" not in str(info.value)
    with pytest.raises(EngineError) as info:
        make_plan(engine, export, PlanRequest(budget_idr=1, include_nips=(inactive,)))
    assert info.value.field == "include_nips[0]"
    with pytest.raises(UnknownTraining) as info:
        make_plan(engine, export, PlanRequest(budget_idr=1, exclude_training_ids=("NOPE",)))
    assert info.value.field == "exclude_training_ids[0]"
    with pytest.raises(UnknownTraining):
        make_plan(engine, export, PlanRequest(budget_idr=1, seat_capacity={"NOPE": 3}))
    assert engine.calls == []  # refused before any prediction


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"budget_idr": -1}, "budget_idr"),
    ({"max_trainings_per_employee": -1}, "max_trainings_per_employee"),
    ({"max_jp_per_employee": -5}, "max_jp_per_employee"),
    ({"curve_budgets": (10, -10)}, "curve_budgets[1]"),
    ({"curve_budgets": tuple(range(13))}, "curve_budgets"),
    ({"time_limit_s": 0}, "time_limit_s"),
    ({"candidates_per_employee": 0}, "candidates_per_employee"),
    ({"unit_ids": "KEC-PTK-KOTA"}, "unit_ids"),
    ({"include_nips": ("1",), "exclude_nips": ("1",)}, "exclude_nips"),
    ({"include_training_ids": ("T",), "exclude_training_ids": ("T",)}, "exclude_training_ids"),
    ({"seat_capacity": {"T": -1}}, "seat_capacity.T"),
])
def test_invalid_requests_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(EngineError) as info:
        PlanRequest.checked(**{"budget_idr": 1, **kwargs})
    assert info.value.field == field


def test_a_unit_without_active_employees_gives_an_empty_plan(export: Export) -> None:
    units, active = export["units"], _active(export)
    empty = next(u for u in units["unit_id"].astype(str)
                 if not active["unit_id"].isin(unit_scope(units, [u])).any())
    engine = FakeEngine()
    plan = make_plan(engine, export, PlanRequest(budget_idr=10**9, unit_ids=(empty,), curve_budgets=(0, 10**9)))
    assert plan.status == "empty" and plan.allocations.empty and plan.objective == 0.0
    assert plan.scope["employees"] == 0 and engine.calls == []
    assert [p["expected_gain"] for p in plan.curve] == [0.0, 0.0]


# ---------------------------------------------------------------------------------------------------
# Candidates and limits
# ---------------------------------------------------------------------------------------------------
def test_pruning_keeps_the_best_by_gain_and_by_gain_per_rupiah(export: Export) -> None:
    engine = FakeEngine(seed=4)
    request = PlanRequest(budget_idr=10**10, candidates_per_employee=2)
    kept, _ = plan_candidates(engine, export, request)
    pool = engine.candidates(export, _active(export)["nip"].astype(str).tolist(), top_k=None)
    pool = pool.assign(ratio=np.where(pool["cost_idr"] > 0, pool["expected_gain"] / pool["cost_idr"].clip(1),
                                      np.inf))
    for nip, own in pool.groupby("nip"):
        by_gain = own.sort_values(["expected_gain", "cost_idr", "training_id"], ascending=[False, True, True])
        by_ratio = own.sort_values(["ratio", "cost_idr", "training_id"], ascending=[False, True, True])
        expected = set(by_gain["training_id"].head(2)) | set(by_ratio["training_id"].head(2))
        assert set(kept.loc[kept["nip"] == nip, "training_id"]) == expected
    assert list(kept.columns) == [*CANDIDATE_COLUMNS, "estimated_gain"]


def test_training_filters_and_seats(export: Export) -> None:
    engine = FakeEngine(seed=1)
    base = make_plan(engine, export, PlanRequest(budget_idr=200_000_000))
    popular = base.allocations["training_id"].value_counts()
    top, second = popular.index[0], popular.index[1]
    assert popular.iloc[0] >= 2
    request = PlanRequest(budget_idr=200_000_000, exclude_training_ids=(top,), seat_capacity={second: 1})
    plan = make_plan(engine, export, request)
    assert top not in set(plan.allocations["training_id"])
    assert (plan.allocations["training_id"] == second).sum() <= 1
    assert_valid_plan(export, request, plan)
    only = PlanRequest(budget_idr=200_000_000, include_training_ids=(top, second))
    plan = make_plan(engine, export, only)
    assert set(plan.allocations["training_id"]) == {top, second}


def test_jp_priority_uses_zero_gain_trainings_for_employees_below_20_jp(export: Export) -> None:
    engine = FakeEngine(seed=2, zero_share=0.6)
    budget = 150_000_000
    plain_plan = make_plan(engine, export, PlanRequest(budget_idr=budget))
    request = PlanRequest(budget_idr=budget, jp_priority=True)
    jp_plan = make_plan(engine, export, request)
    assert_valid_plan(export, request, jp_plan)
    assert jp_plan.totals["employees_reaching_20_jp"] >= plain_plan.totals["employees_reaching_20_jp"]
    assert (plain_plan.allocations["expected_gain"] > EPSILON).all()  # without jp mode, gains only

    # No training closes any gap: only the JP right justifies spending, and only in jp mode.
    nothing = FakeEngine(seed=2, zero_share=1.0)
    assert make_plan(nothing, export, PlanRequest(budget_idr=budget)).status == "empty"
    jp_only = make_plan(nothing, export, request)
    assert jp_only.totals["employees_reaching_20_jp"] > 0
    assert (jp_only.allocations["expected_gain"] == 0).all()
    jp = jp_this_year(export, export.exported_on)
    assert (jp.reindex(jp_only.allocations["nip"]).fillna(0.0) < JP_RIGHT_PER_YEAR).all()
    assert_valid_plan(export, request, jp_only)


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), budget=st.integers(0, 120_000_000), max_trainings=st.integers(0, 3),
       max_jp=st.one_of(st.none(), st.integers(0, 120)), jp_priority=st.booleans())
def test_every_constraint_holds_and_the_milp_beats_greedy(export: Export, seed: int, budget: int,
                                                          max_trainings: int, max_jp: int | None,
                                                          jp_priority: bool) -> None:
    engine = FakeEngine(seed=seed)
    request = PlanRequest(budget_idr=budget, max_trainings_per_employee=max_trainings,
                          max_jp_per_employee=max_jp, jp_priority=jp_priority, time_limit_s=20)
    plan = make_plan(engine, export, request)
    assert_valid_plan(export, request, plan)
    candidates, _ = plan_candidates(engine, export, request)
    greedy = greedy_plan(candidates, request.planner_options())
    if not jp_priority:  # in jp mode the order is lexicographic: 20 JP first, the gain second
        assert plan.objective >= greedy.objective - 1e-9
    else:
        assert plan.totals["employees_reaching_20_jp"] >= greedy.totals["employees_reaching_20_jp"]


def _brute_force(candidates: pd.DataFrame, request: PlanRequest) -> float:
    """The best total gain over every feasible allocation (per-employee options × employees)."""
    options_per_employee = []
    for _, own in candidates.groupby("nip"):
        rows = list(own.itertuples(index=False))
        options = []
        for size in range(request.max_trainings_per_employee + 1):
            for combo in itertools.combinations(rows, size):
                comps = [c for r in combo for c in r.competency_ids]
                hours = sum(r.hours_jp for r in combo)
                if len(comps) != len(set(comps)):
                    continue
                if request.max_jp_per_employee is not None and hours > request.max_jp_per_employee:
                    continue
                options.append((sum(r.cost_idr for r in combo), sum(r.expected_gain for r in combo)))
        options_per_employee.append(options)
    best = 0.0
    for choice in itertools.product(*options_per_employee):
        if sum(c for c, _ in choice) <= request.budget_idr:
            best = max(best, sum(g for _, g in choice))
    return best


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), budget=st.integers(0, 30_000_000), max_trainings=st.integers(1, 2),
       max_jp=st.one_of(st.none(), st.integers(8, 80)))
def test_small_instances_match_brute_force(export: Export, seed: int, budget: int, max_trainings: int,
                                           max_jp: int | None) -> None:
    active = _active(export)["nip"].astype(str).tolist()
    rng = np.random.default_rng(seed)
    chosen = tuple(rng.choice(active, 3, replace=False))
    other = tuple(n for n in active if n not in chosen)
    request = PlanRequest(budget_idr=budget, unit_ids=(), exclude_nips=other, candidates_per_employee=2,
                          max_trainings_per_employee=max_trainings, max_jp_per_employee=max_jp)
    engine = FakeEngine(seed=seed)
    candidates, scope = plan_candidates(engine, export, request)
    assert scope["employees"] == 3
    plan = make_plan(engine, export, request)
    assert plan.objective == pytest.approx(_brute_force(candidates, request), abs=1e-9)
    assert_valid_plan(export, request, plan)


def test_the_budget_curve_is_non_decreasing(export: Export) -> None:
    engine = FakeEngine(seed=9)
    budgets = (200_000_000, 0, 10_000_000, 50_000_000, 10_000_000)
    plan = make_plan(engine, export, PlanRequest(budget_idr=50_000_000, curve_budgets=budgets))
    assert [p["budget_idr"] for p in plan.curve] == [0, 10_000_000, 50_000_000, 200_000_000]
    gains = [p["expected_gain"] for p in plan.curve]
    assert gains == sorted(gains) and gains[-1] > gains[0]
    assert all(p["cost_idr"] <= p["budget_idr"] for p in plan.curve)
    assert plan.curve[2]["expected_gain"] == pytest.approx(plan.objective, rel=1e-3)


# ---------------------------------------------------------------------------------------------------
# Audit inputs, files, CLI helpers
# ---------------------------------------------------------------------------------------------------
def test_audit_inputs_are_compact_and_hold_no_nip() -> None:
    nips = ("198503122010031001", "199207252019022002")
    request = PlanRequest(budget_idr=5_000_000, unit_ids=("KEC-PTK-KOTA",), include_nips=nips[:1],
                          exclude_nips=nips[1:], exclude_training_ids=("PLT-X",), seat_capacity={"PLT-Y": 3},
                          curve_budgets=(1, 2))
    text = audit_inputs(request)
    assert " " not in text and not re.search(r"\d{18}", text)
    inputs = json.loads(text)
    assert inputs["budget_idr"] == 5_000_000 and inputs["unit_ids"] == ["KEC-PTK-KOTA"]
    assert inputs["include_nips_count"] == 1 and inputs["exclude_nips_count"] == 1
    assert "include_nips" not in inputs and inputs["seat_capacity"] == {"PLT-Y": 3}
    assert inputs["curve_budgets"] == [1, 2] and inputs["horizon_months"] == 12


def test_allocations_are_written_as_csv_or_parquet(export: Export, tmp_path: Path) -> None:
    plan = make_plan(FakeEngine(seed=5), export, PlanRequest(budget_idr=20_000_000))
    assert len(plan.allocations) > 0
    csv_file = write_allocations(plan, tmp_path / "out" / "plan.csv")
    parquet_file = write_allocations(plan, tmp_path / "plan.parquet")
    from_csv = pd.read_csv(csv_file, dtype={"nip": str})
    from_parquet = pd.read_parquet(parquet_file)
    for frame in (from_csv, from_parquet):
        assert list(frame.columns) == [*PLAN_ALLOCATION_COLUMNS, "model_version"]
        assert frame["nip"].astype(str).tolist() == plan.allocations["nip"].tolist()
        assert int(frame["cost_idr"].sum()) == plan.totals["cost_idr"]
        assert (frame["model_version"] == "fake-7").all()
    with pytest.raises(EngineError):
        write_allocations(plan, tmp_path / "plan.xlsx")
    body = plan.body()
    assert body["allocations"][0].keys() == set(PLAN_ALLOCATION_COLUMNS)
    assert isinstance(body["allocations"][0]["cost_idr"], int)


def test_parse_ids_accepts_repeats_and_commas() -> None:
    assert parse_ids(["A", "B,C", " C ", ""]) == ("A", "B", "C")
    assert parse_ids(None) == ()


class IntervalEngine:
    """Known candidates that carry their own 80% interval (`lower`, `upper`), as the engine's do."""

    gain_epsilon = EPSILON
    model_version = "intervals-1"

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def candidates(self, export: Export, nips: list[str] | None = None, *, top_k: int | None = 5,
                   as_of: object = None, horizon_months: int = 12) -> pd.DataFrame:
        return self.frame[self.frame["nip"].isin(set(nips or ()))].reset_index(drop=True)


def test_a_tight_budget_does_not_buy_a_thin_estimate_over_an_equally_priced_solid_one(export: Export) -> None:
    nips = _active(export)["nip"].astype(str).tolist()[:8]
    solid, thin = export["trainings"]["training_id"].astype(str).tolist()[:2]
    rows = []
    for i, nip in enumerate(nips):  # the solid course: certain gains; the thin one: small, uncertain gains
        rows.append((nip, solid, 0.30 + 0.02 * i, 0.30 + 0.02 * i, 0.30 + 0.02 * i))
        rows.append((nip, thin, 0.05 + 0.01 * i, 0.0, 0.05 + 0.01 * i))
    rows[1] = (nips[0], thin, 0.60, 0.0, 0.60)  # one thin estimate looks best of all
    frame = pd.DataFrame(rows, columns=["nip", "training_id", "expected_gain", "lower", "upper"]).assign(
        cost_idr=1_000_000, hours_jp=10, competency_ids=[(f"K{i % 2}",) for i in range(len(rows))],
        unit_id="U", total_gap_before=2.0, jp_this_year=0.0)
    engine = IntervalEngine(frame)
    request = PlanRequest(budget_idr=1_000_000, unit_ids=(), exclude_nips=tuple(
        n for n in _active(export)["nip"].astype(str) if n not in nips))
    candidates, _ = plan_candidates(engine, export, request, shrink=True)
    shrunk = candidates.set_index(["nip", "training_id"])["expected_gain"]
    best_solid = frame[frame["training_id"] == solid]["expected_gain"].max()
    assert shrunk[(nips[0], thin)] < best_solid < 0.60  # the thin estimate is pulled toward its course
    assert make_plan(engine, export, request).allocations["training_id"].tolist() == [thin]  # unshrunk
    plan = make_plan(engine, export, request, shrink=True)
    assert list(plan.allocations["training_id"]) == [solid]
    # The plan reports the estimates themselves, and the shrunk total beside them.
    assert plan.totals["expected_gain"] == pytest.approx(best_solid)
    assert plan.objective == pytest.approx(float(plan.allocations["expected_gain"].sum()))
    assert plan.totals["expected_gain_shrunk"] == pytest.approx(float(shrunk[(nips[-1], solid)]))
