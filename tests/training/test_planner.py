"""The budget-constrained training plan: feasibility, brute-force optimality, priorities, fallbacks."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import OptimizeResult

from engine import allocation as planner
from engine.allocation import PlanOptions, budget_curve, greedy_plan, optimise_plan
from features.constants import CANDIDATE_COLUMNS, JP_RIGHT_PER_YEAR

COSTS = np.array([0, 250_000, 1_500_000, 4_000_000, 8_000_000, 15_000_000, 23_000_000])
HOURS = np.array([2, 8, 16, 24, 40])


def make_candidates(n_employees: int, per_employee: int = 5, *, seed: int = 0, n_trainings: int = 30,
                    n_competencies: int = 10) -> pd.DataFrame:
    """Synthetic candidates: a catalogue with realistic costs, each employee gets distinct trainings."""
    rng = np.random.default_rng(seed)
    cost = rng.choice(COSTS, n_trainings)
    hours = rng.choice(HOURS, n_trainings)
    comps = [tuple(f"K{c:02d}" for c in rng.choice(n_competencies, rng.integers(1, 4), replace=False))
             for _ in range(n_trainings)]
    nip = np.repeat([f"1990{e:014d}" for e in range(n_employees)], per_employee)
    training = np.concatenate(
        [rng.choice(n_trainings, per_employee, replace=False) for _ in range(n_employees)])
    gap_before = np.repeat(rng.uniform(0, 4, n_employees).round(3), per_employee)
    jp = np.repeat(rng.choice([0, 6, 12, 18, 24], n_employees), per_employee)
    gain = np.minimum(rng.gamma(2.0, 0.25, len(nip)).round(3), gap_before)
    frame = pd.DataFrame({
        "nip": pd.array(nip, dtype="str"),
        "training_id": pd.array([f"T{t:03d}" for t in training], dtype="str"),
        "expected_gain": gain,
        "cost_idr": cost[training].astype("int64"),
        "hours_jp": hours[training].astype("int64"),
        "competency_ids": [comps[t] for t in training],
        "unit_id": pd.array([f"U{int(n[-3:]) % 4}" for n in nip], dtype="str"),
        "total_gap_before": gap_before,
        "jp_this_year": jp,
    })
    return frame[list(CANDIDATE_COLUMNS)]


def assert_feasible(candidates: pd.DataFrame, options: PlanOptions, result: planner.PlanResult) -> None:
    """Every constraint, checked independently of the planner's own code."""
    alloc = result.allocations
    assert list(alloc.columns) == list(planner.ALLOCATION_COLUMNS)
    assert int(alloc["cost_idr"].sum()) <= options.budget_idr
    assert result.totals["cost_idr"] == int(alloc["cost_idr"].sum())
    assert result.objective == pytest.approx(float(alloc["expected_gain"].sum()))
    assert not alloc.duplicated(["nip", "training_id"]).any()
    merged = alloc.merge(candidates, on=["nip", "training_id"], how="left", suffixes=("", "_c"),
                         validate="one_to_one")
    assert merged["total_gap_before"].notna().all(), "an allocated pair was not a candidate"
    assert np.allclose(merged["expected_gain"], merged["expected_gain_c"])
    assert not merged["nip"].isin(list(options.exclude_nips)).any()
    assert not merged["training_id"].isin(list(options.exclude_training_ids)).any()
    if options.unit_ids:
        assert merged["unit_id"].isin(list(options.unit_ids)).all()
    per_emp = merged.groupby("nip")
    assert (per_emp.size() <= options.max_trainings_per_employee).all()
    if options.max_jp_per_employee is not None:
        assert (per_emp["hours_jp"].sum() <= options.max_jp_per_employee).all()
    for training_id, seats in (options.seat_capacity or {}).items():
        assert (alloc["training_id"] == training_id).sum() <= seats
    pairs = merged[["nip", "competency_ids"]].explode("competency_ids").dropna()
    assert not pairs.duplicated().any(), "two selected trainings close the same competency of one employee"
    assert list(alloc.itertuples(index=False, name=None)) == sorted(alloc.itertuples(index=False, name=None))


# ---------------------------------------------------------------------------------------------
# Brute force on small instances
# ---------------------------------------------------------------------------------------------
def brute_force_key(candidates: pd.DataFrame, options: PlanOptions) -> tuple[int, int, float]:
    """The lexicographic optimum (included covered, employees reaching 20 JP, gain) over all subsets."""
    c = candidates.reset_index(drop=True)
    m = len(c)
    masks = np.array(list(itertools.product([0, 1], repeat=m)), dtype="int64").reshape(-1, m)
    ok = masks @ c["cost_idr"].to_numpy() <= options.budget_idr
    ok &= ~(masks @ c["nip"].isin(list(options.exclude_nips)).to_numpy().astype(int) > 0)
    ok &= ~(masks @ c["training_id"].isin(list(options.exclude_training_ids)).to_numpy().astype(int) > 0)
    nips = sorted(c["nip"].unique())
    onehot = np.array([(c["nip"] == n).to_numpy() for n in nips], dtype="int64").T
    counts = masks @ onehot
    ok &= (counts <= options.max_trainings_per_employee).all(axis=1)
    hours = masks @ (onehot * c["hours_jp"].to_numpy()[:, None])
    if options.max_jp_per_employee is not None:
        ok &= (hours <= options.max_jp_per_employee).all(axis=1)
    for training_id, seats in (options.seat_capacity or {}).items():
        ok &= masks @ (c["training_id"] == training_id).to_numpy().astype(int) <= seats
    groups = {(n, k) for n, comps in zip(c["nip"], c["competency_ids"], strict=True) for k in comps}
    for n, k in groups:
        member = np.array(
            [n == nn and k in comps for nn, comps in zip(c["nip"], c["competency_ids"], strict=True)])
        ok &= masks @ member.astype(int) <= 1
    jp_before = np.array([c.loc[c["nip"] == n, "jp_this_year"].iloc[0] for n in nips], dtype=float)
    reached = ((jp_before < JP_RIGHT_PER_YEAR) & (jp_before + hours >= JP_RIGHT_PER_YEAR)).sum(axis=1)
    included = np.array([n in set(options.include_nips) for n in nips])
    covered = (counts[:, included] > 0).sum(axis=1)
    gain = masks @ c["expected_gain"].to_numpy()
    best = (-1, -1, -np.inf)
    for i in np.flatnonzero(ok):
        key = (int(covered[i]), int(reached[i]) if options.jp_priority else 0, float(gain[i]))
        if key[:2] > best[:2] or (key[:2] == best[:2] and key[2] > best[2]):
            best = key
    return best


def result_key(
    candidates: pd.DataFrame, options: PlanOptions, result: planner.PlanResult
) -> tuple[int, int, float]:
    alloc = result.allocations.merge(candidates[["nip", "training_id", "jp_this_year"]],
                                     on=["nip", "training_id"])
    covered = alloc["nip"].isin(list(options.include_nips)).groupby(alloc["nip"]).any().sum()
    jp = alloc.groupby("nip").agg(before=("jp_this_year", "first"), added=("hours_jp", "sum"))
    below = jp["before"] < JP_RIGHT_PER_YEAR
    reached = int((below & (jp["before"] + jp["added"] >= JP_RIGHT_PER_YEAR)).sum())
    return int(covered), reached if options.jp_priority else 0, float(alloc["expected_gain"].sum())


@st.composite
def small_instances(draw: st.DrawFn, jp_priority: bool | None = None, include: bool = True,
                    mip_rel_gap: float = 0.0) -> tuple[pd.DataFrame, PlanOptions]:
    n_emp = draw(st.integers(2, 4))
    n_train = draw(st.integers(1, 5))
    pairs = draw(st.lists(st.tuples(st.integers(0, n_emp - 1), st.integers(0, n_train - 1)),
                          min_size=1, max_size=12, unique=True))
    m = len(pairs)
    competencies = ["K1", "K2", "K3"]
    comp_sets = draw(st.lists(st.lists(st.sampled_from(competencies), max_size=2, unique=True),
                              min_size=m, max_size=m))
    gains = draw(st.lists(st.sampled_from([0.0, 0.05, 0.1, 0.25, 0.4, 0.7, 1.0, 1.3]),
                          min_size=m, max_size=m))
    costs = draw(st.lists(st.sampled_from([0, 500_000, 1_000_000, 2_500_000, 4_000_000]),
                          min_size=m, max_size=m))
    hours = draw(st.lists(st.sampled_from([0, 4, 8, 16, 20]), min_size=m, max_size=m))
    jp_before = draw(st.lists(st.sampled_from([0, 8, 12, 16, 19, 20]), min_size=n_emp, max_size=n_emp))
    candidates = pd.DataFrame({
        "nip": [f"N{e}" for e, _ in pairs],
        "training_id": [f"T{t}" for _, t in pairs],
        "expected_gain": gains,
        "cost_idr": costs,
        "hours_jp": hours,
        "competency_ids": [tuple(s) for s in comp_sets],
        "unit_id": "U1",
        "total_gap_before": 2.0,
        "jp_this_year": [jp_before[e] for e, _ in pairs],
    })
    nips = sorted(set(candidates["nip"]))
    options = PlanOptions(
        # Mostly tight budgets: that is where the priorities conflict with the gain.
        budget_idr=draw(st.sampled_from([0, 1_000_000, 2_500_000, 4_000_000, 6_000_000, 20_000_000])),
        max_trainings_per_employee=draw(st.integers(1, 3)),
        max_jp_per_employee=draw(st.sampled_from([None, 16, 24])),
        jp_priority=draw(st.booleans()) if jp_priority is None else jp_priority,
        include_nips=draw(st.lists(st.sampled_from(nips), max_size=3, unique=True)) if include else (),
        exclude_nips=draw(st.lists(st.sampled_from(nips), max_size=1)),
        exclude_training_ids=draw(st.lists(st.sampled_from([f"T{t}" for t in range(n_train)]), max_size=1)),
        seat_capacity=draw(st.sampled_from([None, {"T0": 1}, {"T0": 0, "T1": 1}])),
        mip_rel_gap=mip_rel_gap,
    )
    return candidates, options


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(small_instances())
def test_milp_matches_brute_force_and_beats_greedy(instance: tuple[pd.DataFrame, PlanOptions]) -> None:
    check_against_brute_force(*instance)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(small_instances(jp_priority=True))
def test_jp_priority_matches_brute_force(instance: tuple[pd.DataFrame, PlanOptions]) -> None:
    check_against_brute_force(*instance)


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(small_instances(jp_priority=False, include=False, mip_rel_gap=0.05))
def test_reported_gap_bounds_the_true_optimum(instance: tuple[pd.DataFrame, PlanOptions]) -> None:
    """With a loose gap the LP rounding is often accepted: its claim must hold against brute force."""
    candidates, options = instance
    result = optimise_plan(candidates, options)
    assert_feasible(candidates, options, result)
    best = brute_force_key(candidates, options)[2]
    if result.status == "optimal":
        assert result.optimality_gap is not None and result.optimality_gap <= options.mip_rel_gap
    if result.optimality_gap is not None:
        assert best <= result.objective * (1 + result.optimality_gap) + 1e-9


def check_against_brute_force(candidates: pd.DataFrame, options: PlanOptions) -> None:
    result = optimise_plan(candidates, options)
    assert_feasible(candidates, options, result)
    assert result.status in ("optimal", "empty")
    got = result_key(candidates, options, result)
    best = brute_force_key(candidates, options)
    assert got[:2] == best[:2]
    assert got[2] == pytest.approx(best[2], abs=1e-9)
    greedy = greedy_plan(candidates, options)
    assert_feasible(candidates, options, greedy)
    assert (got[0], got[1], got[2] + 1e-9) >= result_key(candidates, options, greedy)
    # Each formulation alone (without the greedy safety net) reaches the optimum too.
    problem = planner._prepare(candidates, options)
    for formulation, rounding in itertools.product(("patterns", "items"), (True, False)) if problem.n else ():
        stages = planner._solve_stages(problem, options, deadline=float("inf"), formulation=formulation,
                                       lp_rounding=rounding)
        assert all(stage.status == 0 for stage in stages)
        assert stages[-1].selection is not None
        final = planner._prune_zero_gain(problem, stages[-1].selection, options.jp_priority)
        milp_key = planner._key(problem, final, options.jp_priority)
        assert milp_key[:2] == best[:2], (formulation, rounding)
        assert milp_key[2] == pytest.approx(best[2], abs=1e-9), (formulation, rounding)


# ---------------------------------------------------------------------------------------------
# Constraints on a realistic instance
# ---------------------------------------------------------------------------------------------
def test_every_limit_holds_on_a_realistic_instance() -> None:
    candidates = make_candidates(400, seed=1)
    options = PlanOptions(
        budget_idr=600_000_000, max_trainings_per_employee=2, max_jp_per_employee=40,
        exclude_nips=[candidates["nip"].iloc[0], candidates["nip"].iloc[50]],
        exclude_training_ids=["T003"], seat_capacity={"T001": 5, "T002": 0, "T010": 3},
        unit_ids=["U0", "U1", "U2"],
    )
    result = optimise_plan(candidates, options)
    assert result.status == "optimal"
    assert result.solver == "highs-milp"
    assert result.optimality_gap is not None and 0 <= result.optimality_gap <= options.mip_rel_gap
    assert_feasible(candidates, options, result)
    assert len(result.allocations) > 100
    assert (result.allocations["training_id"] == "T002").sum() == 0
    greedy = greedy_plan(candidates, options)
    assert_feasible(candidates, options, greedy)
    assert result.objective >= greedy.objective
    # Deterministic: the same input gives the same allocation.
    again = optimise_plan(candidates, options)
    pd.testing.assert_frame_equal(again.allocations, result.allocations)
    totals = result.totals
    assert totals["employees"] == result.allocations["nip"].nunique()
    assert totals["expected_gain"] == pytest.approx(result.objective)


def test_item_formulation_when_training_sets_would_be_too_many(monkeypatch) -> None:
    candidates = make_candidates(300, seed=11)
    options = PlanOptions(budget_idr=400_000_000, seat_capacity={"T001": 4}, max_jp_per_employee=48)
    patterns = optimise_plan(candidates, options)
    monkeypatch.setattr(planner, "MAX_PATTERNS", 10)
    items = optimise_plan(candidates, options)
    assert_feasible(candidates, options, items)
    assert items.status == patterns.status == "optimal"
    assert items.objective == pytest.approx(patterns.objective, rel=2e-4)


def test_input_is_not_modified() -> None:
    candidates = make_candidates(50, seed=2)
    before = candidates.copy()
    optimise_plan(candidates, PlanOptions(budget_idr=100_000_000))
    greedy_plan(candidates, PlanOptions(budget_idr=100_000_000))
    pd.testing.assert_frame_equal(candidates, before)


def test_one_training_per_employee_and_competency() -> None:
    candidates = make_candidates(1, 3, seed=0)
    candidates["training_id"] = ["TA", "TB", "TC"]
    candidates["competency_ids"] = [("K1",), ("K1", "K2"), ("K3",)]
    candidates["expected_gain"] = [0.8, 0.7, 0.1]
    candidates["cost_idr"] = [1_000_000, 1_000_000, 1_000_000]
    candidates["total_gap_before"] = 3.0
    result = optimise_plan(candidates, PlanOptions(budget_idr=10**9, max_trainings_per_employee=3))
    assert sorted(result.allocations["training_id"]) == ["TA", "TC"]
    assert result.objective == pytest.approx(0.9)


def test_seat_capacity_is_shared_between_employees() -> None:
    candidates = make_candidates(4, 1, seed=0)
    candidates["training_id"] = "TX"
    candidates["expected_gain"] = [0.2, 0.9, 0.5, 0.7]
    result = optimise_plan(candidates, PlanOptions(budget_idr=10**10, seat_capacity={"TX": 2}))
    assert sorted(result.allocations["expected_gain"]) == [0.7, 0.9]


def test_zero_budget_gives_an_empty_plan() -> None:
    candidates = make_candidates(30, seed=3)
    candidates["cost_idr"] = candidates["cost_idr"].clip(lower=100_000)
    result = optimise_plan(candidates, PlanOptions(budget_idr=0))
    assert result.status == "empty"
    assert result.allocations.empty
    assert list(result.allocations.columns) == list(planner.ALLOCATION_COLUMNS)
    assert result.objective == 0.0
    assert result.totals == {"cost_idr": 0, "expected_gain": 0.0, "employees": 0,
                             "employees_reaching_standard": 0, "employees_reaching_20_jp": 0}
    assert greedy_plan(candidates, PlanOptions(budget_idr=0)).allocations.empty


def test_free_trainings_fit_a_zero_budget() -> None:
    candidates = make_candidates(3, 1, seed=0)
    candidates["cost_idr"] = [0, 5_000_000, 0]
    candidates["expected_gain"] = [0.3, 0.9, 0.4]
    result = optimise_plan(candidates, PlanOptions(budget_idr=0))
    assert result.status == "optimal"
    assert result.objective == pytest.approx(0.7)
    assert result.totals["cost_idr"] == 0


def test_totals_count_employees_reaching_standard_and_20_jp() -> None:
    candidates = make_candidates(2, 2, seed=0)
    candidates["nip"] = ["A", "A", "B", "B"]
    candidates["training_id"] = ["T1", "T2", "T1", "T2"]
    candidates["competency_ids"] = [("K1",), ("K2",), ("K1",), ("K2",)]
    candidates["expected_gain"] = [0.5, 0.5, 0.5, 0.2]
    candidates["total_gap_before"] = [1.0, 1.0, 1.5, 1.5]
    candidates["hours_jp"] = [8, 8, 8, 8]
    candidates["jp_this_year"] = [4, 4, 12, 12]
    candidates["cost_idr"] = 1_000_000
    result = optimise_plan(candidates, PlanOptions(budget_idr=10**9, max_trainings_per_employee=2))
    # A: gap 1.0 − 1.0 = 0 and 4 + 16 = 20 JP; B: gap 1.5 − 0.7 > 0 and 12 + 16 ≥ 20 JP.
    assert result.totals == {"cost_idr": 4_000_000, "expected_gain": pytest.approx(1.7), "employees": 2,
                             "employees_reaching_standard": 1, "employees_reaching_20_jp": 2}


def test_missing_columns_and_bad_options_are_rejected() -> None:
    candidates = make_candidates(2, seed=0)
    with pytest.raises(ValueError, match="expected_gain"):
        optimise_plan(candidates.drop(columns="expected_gain"), PlanOptions(budget_idr=1))
    with pytest.raises(ValueError, match="budget_idr"):
        PlanOptions(budget_idr=-1)
    with pytest.raises(ValueError, match="include_nips"):
        PlanOptions(budget_idr=1, include_nips="199001012020011001")
    bad = candidates.assign(expected_gain=np.nan)
    with pytest.raises(ValueError, match="expected_gain"):
        optimise_plan(bad, PlanOptions(budget_idr=1))


@pytest.mark.parametrize("form", [list, np.array, lambda t: ";".join(t)])
def test_competency_ids_may_be_lists_arrays_or_strings(form) -> None:
    candidates = make_candidates(1, 2, seed=0)
    candidates["competency_ids"] = [form(("K1", "K2")), form(("K2",))]
    candidates["expected_gain"] = [0.5, 0.4]
    result = optimise_plan(candidates, PlanOptions(budget_idr=10**9))
    assert len(result.allocations) == 1  # both close K2


# ---------------------------------------------------------------------------------------------
# Priorities: include / exclude, 20 JP
# ---------------------------------------------------------------------------------------------
def test_include_and_exclude_are_honoured() -> None:
    candidates = make_candidates(60, seed=4)
    nips = sorted(candidates["nip"].unique())
    # The included employee's trainings are poor value: a plain plan would leave it out.
    weak = nips[7]
    candidates.loc[candidates["nip"] == weak, "expected_gain"] = 0.0
    candidates.loc[candidates["nip"] == weak, "cost_idr"] = 9_000_000
    budget = 60_000_000
    plain = optimise_plan(candidates, PlanOptions(budget_idr=budget))
    assert weak not in set(plain.allocations["nip"])
    options = PlanOptions(budget_idr=budget, include_nips=[weak, nips[3]], exclude_nips=[nips[3], nips[9]],
                          exclude_training_ids=["T005"])
    result = optimise_plan(candidates, options)
    assert_feasible(candidates, options, result)
    assert weak in set(result.allocations["nip"])
    assert result.unmet_include_nips == [nips[3]]  # excluded wins over included
    assert all(nips[3] not in note for note in result.notes)  # notes carry counts, not nips
    greedy = greedy_plan(candidates, options)
    assert weak in set(greedy.allocations["nip"])


def test_include_when_not_all_can_be_covered() -> None:
    candidates = make_candidates(3, 1, seed=0)
    candidates["cost_idr"] = [4_000_000, 4_000_000, 4_000_000]
    candidates["expected_gain"] = [0.1, 0.2, 0.9]
    nips = list(candidates["nip"])
    result = optimise_plan(candidates, PlanOptions(budget_idr=8_000_000, include_nips=nips[:2]))
    assert sorted(result.allocations["nip"]) == nips[:2]  # both included ones, not the best-gain one
    result = optimise_plan(candidates, PlanOptions(budget_idr=4_000_000, include_nips=nips[:2]))
    assert list(result.allocations["nip"]) == [nips[1]]
    assert result.unmet_include_nips == [nips[0]]


def test_jp_priority_reaches_at_least_as_many_employees() -> None:
    candidates = make_candidates(300, seed=5)
    for budget in (50_000_000, 300_000_000):
        plain = optimise_plan(candidates, PlanOptions(budget_idr=budget))
        options = PlanOptions(budget_idr=budget, jp_priority=True)
        prioritised = optimise_plan(candidates, options)
        assert_feasible(candidates, options, prioritised)
        assert prioritised.status == "optimal"
        assert prioritised.totals["employees_reaching_20_jp"] >= plain.totals["employees_reaching_20_jp"]
        assert prioritised.objective <= plain.objective + 1e-9
        greedy = greedy_plan(candidates, options)
        assert prioritised.totals["employees_reaching_20_jp"] > greedy.totals["employees_reaching_20_jp"]
        assert prioritised.solver == "highs-milp"
    assert prioritised.totals["employees_reaching_20_jp"] > plain.totals["employees_reaching_20_jp"]


def test_jp_priority_uses_zero_gain_trainings_only_when_they_bring_20_jp() -> None:
    candidates = make_candidates(2, 1, seed=0)
    candidates["nip"] = ["A", "B"]
    candidates["expected_gain"] = [0.0, 0.0]
    candidates["hours_jp"] = [8, 4]
    candidates["jp_this_year"] = [12, 12]  # A reaches 20 with its training, B does not
    candidates["cost_idr"] = [1_000_000, 1_000_000]
    result = optimise_plan(candidates, PlanOptions(budget_idr=10**9, jp_priority=True))
    assert list(result.allocations["nip"]) == ["A"]
    assert result.totals["employees_reaching_20_jp"] == 1
    assert optimise_plan(candidates, PlanOptions(budget_idr=10**9)).status == "empty"


# ---------------------------------------------------------------------------------------------
# Budget curve
# ---------------------------------------------------------------------------------------------
def test_budget_curve_is_non_decreasing_and_matches_single_solves() -> None:
    candidates = make_candidates(150, seed=6)
    budgets = [300_000_000, 0, 20_000_000, 80_000_000, 80_000_000, 2_000_000_000]
    curve = budget_curve(candidates, budgets, PlanOptions(budget_idr=0))
    assert [p["budget_idr"] for p in curve] == sorted(set(budgets))
    gains = [p["expected_gain"] for p in curve]
    assert gains == sorted(gains)
    assert all(p["cost_idr"] <= p["budget_idr"] for p in curve)
    standard = [p["employees_reaching_standard"] for p in curve]
    assert standard[-1] >= standard[0]
    single = optimise_plan(candidates, PlanOptions(budget_idr=80_000_000))
    assert curve[2]["expected_gain"] == pytest.approx(single.objective, rel=1e-4)


def test_budget_curve_keeps_the_lower_budget_allocation_when_a_solve_fails(monkeypatch) -> None:
    candidates = make_candidates(80, seed=7)
    real = planner._call_milp

    def flaky(c, constraints, *args, **kwargs):  # every solve at the higher budget finds nothing
        if constraints.ub[0] < 210_000_000:  # row 0 is the budget
            return real(c, constraints, *args, **kwargs)
        return OptimizeResult(status=1, x=None, message="Time limit reached.", mip_gap=None,
                              mip_dual_bound=None)

    monkeypatch.setattr(planner, "_call_milp", flaky)
    curve = budget_curve(candidates, [200_000_000, 210_000_000], PlanOptions(budget_idr=0))
    assert curve[0]["status"] == "optimal"
    assert curve[1]["status"] == "greedy_fallback"
    assert curve[1]["expected_gain"] >= curve[0]["expected_gain"]


# ---------------------------------------------------------------------------------------------
# Time limits and fallbacks
# ---------------------------------------------------------------------------------------------
def test_greedy_fallback_when_the_solver_finds_nothing(monkeypatch) -> None:
    candidates = make_candidates(100, seed=8)
    options = PlanOptions(budget_idr=150_000_000)
    monkeypatch.setattr(planner, "_call_milp", lambda *a, **k: OptimizeResult(
        status=1, x=None, message="Time limit reached.", mip_gap=None, mip_dual_bound=None))
    result = optimise_plan(candidates, options)
    assert (result.status, result.solver) == ("greedy_fallback", "greedy")
    assert result.optimality_gap is None
    pd.testing.assert_frame_equal(result.allocations, greedy_plan(candidates, options).allocations)


def test_time_limited_solution_never_worse_than_greedy(monkeypatch) -> None:
    candidates = make_candidates(100, seed=9)
    options = PlanOptions(budget_idr=150_000_000)
    bound = 1_000.0

    def poor(c, constraints, time_limit, mip_rel_gap, integral=True):  # feasible but bad: the empty plan
        return OptimizeResult(status=1, x=np.zeros(len(c)), message="Time limit reached.", mip_gap=np.inf,
                              mip_dual_bound=-bound)

    monkeypatch.setattr(planner, "_call_milp", poor)
    result = optimise_plan(candidates, options)
    greedy = greedy_plan(candidates, options)
    assert (result.status, result.solver) == ("time_limit", "greedy")
    assert result.objective == pytest.approx(greedy.objective)
    assert result.optimality_gap == pytest.approx((bound - greedy.objective) / greedy.objective)
    assert any("greedy" in note for note in result.notes)


def test_a_real_time_limit_returns_a_feasible_plan() -> None:
    candidates = make_candidates(3000, seed=10, n_trainings=60)
    options = PlanOptions(budget_idr=2_000_000_000, time_limit_s=0.05, jp_priority=True)
    result = optimise_plan(candidates, options)
    assert result.status in ("time_limit", "greedy_fallback", "optimal")
    assert_feasible(candidates, options, result)
    greedy = greedy_plan(candidates, options)
    assert (result.totals["employees_reaching_20_jp"], result.objective) >= (
        greedy.totals["employees_reaching_20_jp"], greedy.objective)
