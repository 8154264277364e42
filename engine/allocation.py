"""The budget-constrained annual training plan (UU 5/2014 Ps. 70(4); INTERFACES.md `POST /v1/plans`).

Given candidate (employee, training) pairs with their expected gain (from the recommendation engine,
columns `CANDIDATE_COLUMNS`), choose the allocation that maximises the total expected gain:

    maximise   Σ gain·x
    subject to Σ cost·x ≤ budget
               per employee: Σ x ≤ max trainings, Σ JP·x ≤ max JP
               per training: Σ x ≤ seats
               per (employee, competency): at most one selected training closing it
               x binary

The last constraint is there because expected gains of two trainings on the same competency do not add
up (both close the same gap); gains on different competencies do.

Priorities are lexicographic, each level solved as its own MILP whose optimum is then fixed as a floor:
1. `include_nips`: as many of them as possible get at least one training ("when feasible": an included
   employee is left out only when no allocation can cover every included one; see `unmet_include_nips`);
2. `jp_priority`: as many employees as possible reach the 20 JP right this year
   (jp_this_year + selected JP ≥ 20), counting only employees below 20 JP before the plan;
3. the total expected gain.

Solved with SciPy's `milp` (HiGHS) on sparse constraint matrices, over training *sets* per employee
(see `engine.allocation_milp`); each stage first tries its LP relaxation, rounded down and completed greedily,
and keeps that when it is provably within `mip_rel_gap` of the LP bound (the usual case at scale),
else runs branch and bound. The greedy plan (gain per Rupiah) is always computed too: the answer is
the better of the two (lexicographically), so a time-limited solve never returns less than greedy,
and when HiGHS finds no feasible point in time the greedy plan is the answer (status
"greedy_fallback"). The empty plan is always feasible, so the model itself is never
infeasible; status "infeasible" is reserved and a solver that claims infeasibility (numerical trouble)
falls back to greedy with a note.

The code: `engine.allocation_problem` (options, result, the prepared candidates and how an allocation
scores), `engine.allocation_greedy` (the heuristic), `engine.allocation_milp` (the formulations); this
module runs the lexicographic stages, keeps the best allocation and draws the budget curve.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, linprog, milp

from engine.allocation_greedy import _greedy_select
from engine.allocation_milp import MAX_PATTERNS, _ItemModel, _pattern_model, _PatternModel, _Stage
from engine.allocation_problem import (
    _GAIN_EPS,
    ALLOCATION_COLUMNS,
    PLAN_STATUSES,
    SOLVER_GREEDY,
    SOLVER_MILP,
    STANDARD_TOLERANCE,
    PlanOptions,
    PlanResult,
    _better,
    _key,
    _prepare,
    _Problem,
    _prune_zero_gain,
    _reaches_jp,
    _repair_budget,
)

__all__ = [
    "ALLOCATION_COLUMNS",
    "MAX_PATTERNS",
    "PLAN_STATUSES",
    "SOLVER_GREEDY",
    "SOLVER_MILP",
    "STANDARD_TOLERANCE",
    "PlanOptions",
    "PlanResult",
    "budget_curve",
    "greedy_plan",
    "optimise_plan",
]


def _call_milp(
    c: np.ndarray, constraints: LinearConstraint, time_limit: float, mip_rel_gap: float, integral: bool = True
) -> OptimizeResult:
    """One HiGHS solve over binary variables, or of its LP relaxation (a seam for tests: it stays in this
    module, with MAX_PATTERNS read here, so that patching `engine.allocation` reaches every solve).

    The relaxation goes to HiGHS's interior point method (with crossover, so the answer is a vertex):
    on 150k set variables it was ~5× faster than simplex here (3.4 vs 16-20 CPU s).
    """
    if integral:
        return milp(c, integrality=np.ones(len(c)), bounds=Bounds(0, 1), constraints=constraints,
                    options={"time_limit": time_limit, "mip_rel_gap": mip_rel_gap, "disp": False})
    matrix = sparse.csr_array(constraints.A)
    lb, ub = np.asarray(constraints.lb, dtype="float64"), np.asarray(constraints.ub, dtype="float64")
    upper, lower = np.isfinite(ub), np.isfinite(lb)
    a_ub = sparse.vstack([matrix[upper], -matrix[lower]]).tocsr()
    b_ub = np.r_[ub[upper], -lb[lower]]
    return linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=(0, 1), method="highs-ipm",
                   options={"time_limit": time_limit, "disp": False})


def _stage_value(stage: str, key: tuple[int, int, float]) -> float:
    return float(key[0] if stage == "include" else key[1] if stage == "jp" else key[2])


def _relative_gap(bound: float, value: float) -> float:
    if value > _GAIN_EPS:
        return max(0.0, (bound - value) / value)
    return 0.0 if bound <= _GAIN_EPS else np.inf


_Model = _ItemModel | _PatternModel


def _lp_rounding(p: _Problem, model: _Model, stage: _Stage, constraints: LinearConstraint,
                 floors: Mapping[str, int], options: PlanOptions, time_limit: float) -> bool:
    """Try the LP relaxation, rounded down and filled greedily; True when that meets the MIP gap."""
    c = model.objective(stage.name)
    res = _call_milp(c, constraints, time_limit, options.mip_rel_gap, integral=False)
    if res.status != 0 or res.x is None:
        return False
    seed = np.flatnonzero(model.selection(res.x, 1 - 1e-6))
    sel = _prune_zero_gain(p, _greedy_select(p, options.jp_priority, seed=seed), options.jp_priority)
    key = _key(p, sel, options.jp_priority)
    if key[0] < floors.get("include", 0) or key[1] < floors.get("jp", 0):
        return False
    bound = -float(res.fun)
    if stage.name != "gain":  # a count: its optimum is an integer
        bound = float(np.floor(bound + 1e-6))
    gap = _relative_gap(bound, _stage_value(stage.name, key))
    if gap > options.mip_rel_gap:
        return False
    stage.status, stage.message, stage.selection = 0, "LP relaxation rounded within the gap", sel
    stage.mip_gap, stage.upper_bound, stage.lp_rounding = gap, bound, True
    return True


def _solve_stages(p: _Problem, options: PlanOptions, deadline: float, formulation: str | None = None,
                  lp_rounding: bool = True) -> list[_Stage]:
    """The lexicographic solves; `formulation` ("patterns" or "items") and `lp_rounding` are for tests."""
    stages = [_Stage(name) for name in ("include", "jp", "gain")
              if name == "gain" or (name == "include" and len(p.include))
              or (name == "jp" and options.jp_priority and len(p.jp_targets))]
    model: _Model | None = None
    if formulation != "items":
        model = _pattern_model(p, options.jp_priority, MAX_PATTERNS if formulation is None else 2**62)
    if model is None:
        model = _ItemModel(p)
    floors: dict[str, int] = {}
    for stage in stages:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            stage.message = "not run: time limit reached in an earlier stage"
            break
        constraints = model.constraints(floors)
        if lp_rounding and _lp_rounding(p, model, stage, constraints, floors, options, remaining):
            _set_floor(p, stage, floors, options.jp_priority)
            continue
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            stage.message = "not run: time limit reached"
            break
        res = _call_milp(model.objective(stage.name), constraints, remaining, options.mip_rel_gap)
        stage.status = int(res.status)
        stage.message = str(res.message)
        bound = getattr(res, "mip_dual_bound", None)
        if bound is not None and np.isfinite(bound):
            stage.upper_bound = -float(bound)
        gap = getattr(res, "mip_gap", None)
        stage.mip_gap = float(gap) if gap is not None and np.isfinite(gap) else None
        if res.x is None:
            break
        stage.selection = _repair_budget(p, model.selection(res.x, 0.5))
        _set_floor(p, stage, floors, options.jp_priority)
    return stages


def _set_floor(p: _Problem, stage: _Stage, floors: dict[str, int], jp_priority: bool) -> None:
    """Fix a priority stage's value for the next stages: what its solution really achieves (attainable)."""
    if stage.name != "gain" and stage.selection is not None:
        floors[stage.name] = int(_stage_value(stage.name, _key(p, stage.selection, jp_priority)))


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------
def _result(p: _Problem, sel: np.ndarray, *, status: str, gap: float | None, solver: str, started: float,
            notes: list[str]) -> PlanResult:
    picked = p.pairs.loc[sel, list(ALLOCATION_COLUMNS)].reset_index(drop=True)
    allocations = pd.DataFrame({
        "nip": picked["nip"].astype("str"),
        "training_id": picked["training_id"].astype("str"),
        "expected_gain": picked["expected_gain"].astype("float64"),
        "cost_idr": picked["cost_idr"].astype("Int64"),
        "hours_jp": picked["hours_jp"].astype("float64"),
    })
    if len(allocations) == 0 or np.all(np.mod(allocations["hours_jp"], 1) == 0):
        allocations["hours_jp"] = allocations["hours_jp"].astype("Int64")
    gain_per_emp = np.bincount(p.emp[sel], weights=p.gain[sel], minlength=len(p.nips))
    allocated = np.bincount(p.emp[sel], minlength=len(p.nips)) > 0
    reaching_standard = allocated & (p.gap_before > STANDARD_TOLERANCE) & (
        p.gap_before - gain_per_emp <= STANDARD_TOLERANCE)
    objective = float(p.gain[sel].sum())
    totals = {
        "cost_idr": int(p.cost[sel].sum()),
        "expected_gain": objective,
        "employees": int(allocated.sum()),
        "employees_reaching_standard": int(reaching_standard.sum()),
        "employees_reaching_20_jp": int(_reaches_jp(p, sel).sum()),
    }
    included = np.zeros(len(p.nips), dtype=bool)
    included[p.include] = True
    uncovered = p.nips[included & ~allocated].tolist()
    unmet = sorted(p.unmet_include + [str(n) for n in uncovered])
    if uncovered:
        notes = [*notes, f"{len(uncovered)} included employee(s) could not be covered within the limits"]
    return PlanResult(status=status, objective=objective, optimality_gap=gap,
                      solve_seconds=time.perf_counter() - started, allocations=allocations, totals=totals,
                      solver=solver, unmet_include_nips=unmet, notes=notes)


def greedy_plan(candidates: pd.DataFrame, options: PlanOptions) -> PlanResult:
    """The heuristic plan: included employees, then (jp_priority) 20 JP, then gain per Rupiah.

    Status is "greedy_fallback" (no optimality claim, gap None), or "empty" when nothing can be allocated.
    """
    started = time.perf_counter()
    p = _prepare(candidates, options)
    if p.n == 0:
        return _result(p, np.zeros(0, dtype=bool), status="empty", gap=0.0, solver=SOLVER_GREEDY,
                       started=started, notes=p.notes)
    sel = _prune_zero_gain(p, _greedy_select(p, options.jp_priority), options.jp_priority)
    return _result(p, sel, status="greedy_fallback", gap=None, solver=SOLVER_GREEDY, started=started,
                   notes=p.notes)


def optimise_plan(candidates: pd.DataFrame, options: PlanOptions) -> PlanResult:
    """The allocation maximising total expected gain within the budget and limits (module docstring)."""
    return _optimise(candidates, options, floors=())


def _optimise(candidates: pd.DataFrame, options: PlanOptions, floors: Sequence[PlanResult]) -> PlanResult:
    """optimise_plan, also considering the allocations of `floors` (earlier results) as solutions."""
    started = time.perf_counter()
    deadline = started + options.time_limit_s
    p = _prepare(candidates, options)
    notes = list(p.notes)
    if p.n == 0:
        return _result(p, np.zeros(0, dtype=bool), status="empty", gap=0.0, solver=SOLVER_MILP,
                       started=started, notes=notes)

    greedy = _prune_zero_gain(p, _greedy_select(p, options.jp_priority), options.jp_priority)
    stages = _solve_stages(p, options, deadline)

    # Candidates in order of preference on ties: the final MILP, earlier stages, floors, greedy.
    options_list: list[tuple[np.ndarray, str, str]] = []
    for stage in reversed(stages):
        if stage.selection is not None:
            sel = _prune_zero_gain(p, stage.selection, options.jp_priority)
            options_list.append((sel, SOLVER_MILP, f"milp:{stage.name}"))
    for floor in floors:
        options_list.append((_selection_of(p, floor.allocations), floor.solver, "floor"))
    options_list.append((greedy, SOLVER_GREEDY, "greedy"))
    best_sel, best_solver, best_source = options_list[0]
    best_key = _key(p, best_sel, options.jp_priority)
    for sel, solver, source in options_list[1:]:
        key = _key(p, sel, options.jp_priority)
        if _better(key, best_key):
            best_sel, best_solver, best_source, best_key = sel, solver, source, key

    found = any(s.selection is not None for s in stages)
    all_optimal = all(s.status == 0 for s in stages)
    rounded = [s.name for s in stages if s.lp_rounding]
    if rounded:
        notes.append(f"solved by rounding the LP relaxation within the gap: {', '.join(rounded)}")
    for stage in stages:
        if stage.status != 0 and stage.message:
            notes.append(f"HiGHS stage '{stage.name}': {stage.message}")
    if not found:
        status = "greedy_fallback"
        notes.append("no feasible MILP solution in time: greedy allocation returned")
    else:
        status = "optimal" if all_optimal else "time_limit"
        if best_source != "milp:gain" and best_source.startswith("milp"):
            notes.append(f"kept the solution of the '{best_source[5:]}' stage: the last stage was no better")
        elif best_source == "greedy":
            milp_gain = _key(p, options_list[0][0], options.jp_priority)[2]
            notes.append(f"greedy allocation kept: it beats the MILP ({best_key[2]:.6g} vs {milp_gain:.6g})")
        elif best_source == "floor":
            notes.append("kept the allocation of a lower budget: it beats this solve")

    gain_stage = stages[-1]
    gap: float | None = None
    if best_source == "milp:gain" and gain_stage.mip_gap is not None:
        gap = gain_stage.mip_gap
    elif gain_stage.status is not None and gain_stage.upper_bound is not None:
        gap = _gap_against_bound(p, best_sel, best_key, stages, options.jp_priority)
    return _result(p, best_sel, status=status, gap=gap, solver=best_solver, started=started, notes=notes)


def _gap_against_bound(p: _Problem, sel: np.ndarray, key: tuple[int, int, float], stages: list[_Stage],
                       jp_priority: bool) -> float | None:
    """(upper bound − gain) / gain, when the gain stage's bound applies to this allocation."""
    floors = {s.name: _key(p, s.selection, jp_priority) for s in stages[:-1] if s.selection is not None}
    if "include" in floors and key[0] < floors["include"][0]:
        return None
    if "jp" in floors and key[1] < floors["jp"][1]:
        return None
    bound = stages[-1].upper_bound
    assert bound is not None
    gap = _relative_gap(bound, key[2])
    return gap if np.isfinite(gap) else None


def _selection_of(p: _Problem, allocations: pd.DataFrame) -> np.ndarray:
    """The mask of `allocations`' pairs among p's candidates (pairs absent from p are ignored)."""
    index = pd.MultiIndex.from_arrays([p.pairs["nip"], p.pairs["training_id"]])
    wanted = pd.MultiIndex.from_arrays(
        [allocations["nip"].astype(object), allocations["training_id"].astype(object)])
    return np.asarray(index.isin(wanted))


def budget_curve(
    candidates: pd.DataFrame, budgets: Sequence[int], options: PlanOptions
) -> list[dict[str, Any]]:
    """The plan's totals at each budget, in increasing budget order (duplicates once).

    Non-decreasing by construction: each allocation is a candidate solution at the next budget (it stays
    feasible there), so a time-limited solve never dips below it. In jp_priority mode the
    lexicographic objective is what never decreases; the gain alone can, when a larger budget brings
    more employees to 20 JP at the expense of gain. `options.time_limit_s` applies to each budget.
    """
    curve: list[dict[str, Any]] = []
    previous: PlanResult | None = None
    for budget in sorted({int(b) for b in budgets}):
        result = _optimise(candidates, replace(options, budget_idr=budget),
                           floors=() if previous is None else (previous,))
        previous = result
        curve.append({
            "budget_idr": budget,
            "expected_gain": result.objective,
            "cost_idr": result.totals["cost_idr"],
            "employees": result.totals["employees"],
            "employees_reaching_standard": result.totals["employees_reaching_standard"],
            "employees_reaching_20_jp": result.totals["employees_reaching_20_jp"],
            "status": result.status,
            "optimality_gap": result.optimality_gap,
            "solver": result.solver,
            "solve_seconds": result.solve_seconds,
        })
    return curve
