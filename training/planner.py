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
(see "The MILP" below); each stage first tries its LP relaxation, rounded down and completed greedily,
and keeps that when it is provably within `mip_rel_gap` of the LP bound (the usual case at scale),
else runs branch and bound. The greedy plan (gain per Rupiah) is always computed too: the answer is
the better of the two (lexicographically), so a time-limited solve never returns less than greedy,
and when HiGHS finds no feasible point in time the greedy plan is the answer (status
"greedy_fallback"). The empty plan is always feasible, so the model itself is never
infeasible; status "infeasible" is reserved and a solver that claims infeasibility (numerical trouble)
falls back to greedy with a note.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, linprog, milp

from features.constants import CANDIDATE_COLUMNS, JP_RIGHT_PER_YEAR

PLAN_STATUSES = ("optimal", "time_limit", "greedy_fallback", "infeasible", "empty")
SOLVER_MILP = "highs-milp"
SOLVER_GREEDY = "greedy"
ALLOCATION_COLUMNS = ("nip", "training_id", "expected_gain", "cost_idr", "hours_jp")
STANDARD_TOLERANCE = 1e-9  # remaining total gap at or below this counts as "reaching the standard"
_GAIN_EPS = 1e-12  # a gain at or below this is "zero": it cannot improve the objective


@dataclass
class PlanOptions:
    """What the planner asks for (the `POST /v1/plans` body, minus the engine's own fields)."""

    budget_idr: int
    max_trainings_per_employee: int = 2
    max_jp_per_employee: int | None = None
    jp_priority: bool = False  # first bring as many employees as possible to 20 JP this year
    include_nips: Sequence[str] = ()  # each gets at least one training when feasible (module docstring)
    exclude_nips: Sequence[str] = ()
    exclude_training_ids: Sequence[str] = ()
    seat_capacity: Mapping[str, int] | None = None  # training_id → seats; absent = unlimited
    time_limit_s: float = 30.0  # for one optimise_plan call (all lexicographic stages together)
    mip_rel_gap: float = 1e-4
    unit_ids: Sequence[str] = ()  # keep only candidates of these units; empty = all units

    def __post_init__(self) -> None:
        if self.budget_idr < 0:
            raise ValueError(f"budget_idr must be ≥ 0, got {self.budget_idr}")
        if self.max_trainings_per_employee < 0:
            raise ValueError("max_trainings_per_employee must be ≥ 0")
        if self.max_jp_per_employee is not None and self.max_jp_per_employee < 0:
            raise ValueError("max_jp_per_employee must be ≥ 0")
        if not self.time_limit_s > 0:
            raise ValueError("time_limit_s must be > 0")
        if not 0 <= self.mip_rel_gap < 1:
            raise ValueError("mip_rel_gap must be in [0, 1)")
        # A bare string would be iterated character by character.
        for name in ("include_nips", "exclude_nips", "exclude_training_ids", "unit_ids"):
            if isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a sequence of strings, not a string")


@dataclass
class PlanResult:
    status: str  # one of PLAN_STATUSES
    objective: float  # total expected gain of the allocation
    optimality_gap: float | None  # relative gap (upper bound − objective) / objective; None if unknown
    solve_seconds: float
    allocations: pd.DataFrame  # ALLOCATION_COLUMNS, sorted by nip, training_id
    totals: dict[str, Any]  # cost_idr, expected_gain, employees, employees_reaching_standard, ..._20_jp
    solver: str  # "highs-milp" or "greedy" (which allocation was kept)
    unmet_include_nips: list[str] = field(default_factory=list)  # included but left without training
    notes: list[str] = field(default_factory=list)  # what happened, for the response and the log (no nips)


# ---------------------------------------------------------------------------------------------
# The prepared problem: candidates as arrays, the index of a candidate is its variable
# ---------------------------------------------------------------------------------------------
@dataclass
class _Problem:
    pairs: pd.DataFrame  # kept candidates, sorted by nip then training_id, index 0..n-1
    gain: np.ndarray  # float64 (n,)
    cost: np.ndarray  # int64 (n,)
    hours: np.ndarray  # float64 (n,)
    emp: np.ndarray  # int64 (n,): employee code, index into nips
    train: np.ndarray  # int64 (n,): training code, index into training_ids
    nips: np.ndarray  # (E,) sorted
    gap_before: np.ndarray  # float64 (E,)
    jp_before: np.ndarray  # float64 (E,)
    training_ids: np.ndarray  # (T,)
    seats: np.ndarray  # float64 (T,), inf = unlimited
    comp_groups: list[np.ndarray]  # per candidate: ids of its (employee, competency) groups
    comp_row: np.ndarray  # (employee, competency) constraint rows: row of each entry …
    comp_col: np.ndarray  # … and its candidate (only groups with ≥ 2 candidates)
    n_comp_rows: int
    include: np.ndarray  # employee codes that must get a training when feasible
    jp_targets: np.ndarray  # employee codes below 20 JP that could reach it
    budget: int
    max_trainings: int
    max_jp: float | None
    unmet_include: list[str]
    notes: list[str]

    @property
    def n(self) -> int:
        return len(self.gain)


def _competency_tuple(value: object) -> tuple[str, ...]:
    """Normalise one `competency_ids` cell: tuple/list/array, a `;`-separated string, or missing."""
    if value is None:
        return ()
    if isinstance(value, str):
        items: Sequence[object] = value.split(";")
    elif isinstance(value, (tuple, list, np.ndarray, pd.api.extensions.ExtensionArray)):
        items = list(value)
    elif pd.isna(value):  # type: ignore[arg-type]
        return ()
    else:
        raise ValueError(f"competency_ids must be a tuple of strings, got {type(value).__name__}")
    return tuple(dict.fromkeys(str(c).strip() for c in items if c is not None and str(c).strip()))


def _numeric(df: pd.DataFrame, column: str, *, minimum: float | None = None) -> np.ndarray:
    values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"candidates.{column} must be a finite number on every row")
    if minimum is not None and np.any(values < minimum):
        raise ValueError(f"candidates.{column} must be ≥ {minimum}")
    return values


def _prepare(candidates: pd.DataFrame, options: PlanOptions) -> _Problem:
    """Validate, filter and index the candidates; nothing of the input is modified."""
    missing = [c for c in CANDIDATE_COLUMNS if c not in candidates.columns]
    if missing:
        raise ValueError(f"candidates lack the columns {missing}")
    notes: list[str] = []
    for column in ("nip", "training_id"):
        if candidates[column].isna().any():
            raise ValueError(f"candidates.{column} must not be empty")
    df = pd.DataFrame({
        "nip": candidates["nip"].astype("str").to_numpy(dtype=object),
        "training_id": candidates["training_id"].astype("str").to_numpy(dtype=object),
        "unit_id": candidates["unit_id"].astype("str").to_numpy(dtype=object),
        "expected_gain": _numeric(candidates, "expected_gain"),
        "cost_idr": _numeric(candidates, "cost_idr", minimum=0).round().astype("int64"),
        "hours_jp": _numeric(candidates, "hours_jp", minimum=0),
        "total_gap_before": _numeric(candidates, "total_gap_before", minimum=0),
        "jp_this_year": _numeric(candidates, "jp_this_year", minimum=0),
        "competency_ids": [_competency_tuple(v) for v in candidates["competency_ids"]],
    })

    include = set(map(str, options.include_nips))
    keep = np.ones(len(df), dtype=bool)
    if options.unit_ids:
        keep &= df["unit_id"].isin(set(map(str, options.unit_ids))).to_numpy()
    if options.exclude_nips:
        keep &= ~df["nip"].isin(set(map(str, options.exclude_nips))).to_numpy()
    if options.exclude_training_ids:
        keep &= ~df["training_id"].isin(set(map(str, options.exclude_training_ids))).to_numpy()
    if options.seat_capacity:
        seats_of = df["training_id"].map({str(k): v for k, v in options.seat_capacity.items()})
        keep &= ~(seats_of.notna() & (seats_of.fillna(1) <= 0)).to_numpy()
    # A candidate that alone breaks a limit can never be chosen: drop it before the model.
    keep &= df["cost_idr"].to_numpy() <= options.budget_idr
    if options.max_jp_per_employee is not None:
        keep &= df["hours_jp"].to_numpy() <= options.max_jp_per_employee
    if options.max_trainings_per_employee == 0:
        keep[:] = False
    # Only positive gains can improve the objective. Zero-gain ones stay where they serve a higher
    # priority: JP towards 20 (jp_priority) or covering an included employee.
    gain = df["expected_gain"].to_numpy()
    useful_zero = np.zeros(len(df), dtype=bool)
    if options.jp_priority:
        useful_zero |= (df["hours_jp"].to_numpy() > 0) & (df["jp_this_year"].to_numpy() < JP_RIGHT_PER_YEAR)
    if include:
        useful_zero |= df["nip"].isin(include).to_numpy()
    keep &= (gain > _GAIN_EPS) | ((gain >= 0) & useful_zero)

    df = df[keep]
    # Duplicated pairs (an upstream slip) are one decision: keep the highest gain.
    df = df.sort_values(["nip", "training_id", "expected_gain"], ascending=[True, True, False], kind="stable")
    n_before = len(df)
    df = df.drop_duplicates(["nip", "training_id"], keep="first").reset_index(drop=True)
    if len(df) < n_before:
        notes.append(f"{n_before - len(df)} duplicated (nip, training_id) candidates dropped")

    emp, nips = pd.factorize(df["nip"], sort=True)
    train, training_ids = pd.factorize(df["training_id"], sort=True)
    emp = emp.astype("int64")
    train = train.astype("int64")
    n_emp = len(nips)
    # Rows are sorted by nip, so each employee's first row is where its code first appears.
    first = np.flatnonzero(np.r_[True, emp[1:] != emp[:-1]]) if n_emp else np.zeros(0, dtype="int64")
    gap_before = df["total_gap_before"].to_numpy()[first]
    jp_before = df["jp_this_year"].to_numpy()[first]

    seats = np.full(len(training_ids), np.inf)
    if options.seat_capacity:
        cap = {str(k): float(v) for k, v in options.seat_capacity.items()}
        seats = np.array([cap.get(str(t), np.inf) for t in training_ids], dtype="float64")

    comp_groups, comp_row, comp_col, n_comp_rows = _competency_groups(df["competency_ids"].tolist(), emp)

    nip_values = np.asarray(nips, dtype=object)
    code_of = {nip: i for i, nip in enumerate(nip_values)}
    include_codes = np.array(sorted(code_of[n] for n in include if n in code_of), dtype="int64")
    unmet = sorted(n for n in include if n not in code_of)
    if unmet:
        notes.append(f"{len(unmet)} included employee(s) have no eligible candidate within the limits")

    hours = df["hours_jp"].to_numpy()
    jp_targets = np.zeros(0, dtype="int64")
    if options.jp_priority and n_emp:
        jp_targets = _reachable_jp_targets(emp, hours, jp_before, options)

    return _Problem(
        pairs=df, gain=df["expected_gain"].to_numpy(), cost=df["cost_idr"].to_numpy(), hours=hours,
        emp=emp, train=train, nips=nip_values, gap_before=gap_before, jp_before=jp_before,
        training_ids=np.asarray(training_ids, dtype=object), seats=seats, comp_groups=comp_groups,
        comp_row=comp_row, comp_col=comp_col, n_comp_rows=n_comp_rows, include=include_codes,
        jp_targets=jp_targets, budget=int(options.budget_idr),
        max_trainings=int(options.max_trainings_per_employee),
        max_jp=None if options.max_jp_per_employee is None else float(options.max_jp_per_employee),
        unmet_include=unmet, notes=notes,
    )


def _competency_groups(
    competencies: list[tuple[str, ...]], emp: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, int]:
    """(employee, competency) groups: per candidate its group ids, and the rows for groups of ≥ 2."""
    n = len(competencies)
    lengths = np.fromiter((len(c) for c in competencies), dtype="int64", count=n)
    flat = [c for comps in competencies for c in comps]
    if not flat:
        empty = np.zeros(0, dtype="int64")
        return [empty] * n, empty, empty, 0
    cand = np.repeat(np.arange(n, dtype="int64"), lengths)
    comp_code, comp_names = pd.factorize(pd.Series(flat, dtype=object))
    group, _ = pd.factorize(emp[cand] * len(comp_names) + comp_code)
    group = group.astype("int64")
    groups_of = np.split(group, np.cumsum(lengths)[:-1])
    size = np.bincount(group)
    multi = size[group] >= 2
    row_id, _ = pd.factorize(group[multi])
    return groups_of, row_id.astype("int64"), cand[multi], int(row_id.max() + 1) if multi.any() else 0


def _reachable_jp_targets(emp: np.ndarray, hours: np.ndarray, jp_before: np.ndarray,
                          options: PlanOptions) -> np.ndarray:
    """Employees below 20 JP whose best-case JP (top-k hours, capped) reaches 20: the y variables."""
    order = np.lexsort((-hours, emp))
    rank = np.empty(len(emp), dtype="int64")
    sorted_emp = emp[order]
    starts = np.r_[0, np.flatnonzero(sorted_emp[1:] != sorted_emp[:-1]) + 1]
    rank[order] = np.arange(len(emp)) - np.repeat(starts, np.diff(np.r_[starts, len(emp)]))
    top = np.where(rank < options.max_trainings_per_employee, hours, 0.0)
    best = np.bincount(emp, weights=top, minlength=len(jp_before))
    if options.max_jp_per_employee is not None:
        best = np.minimum(best, options.max_jp_per_employee)
    reachable = (jp_before < JP_RIGHT_PER_YEAR) & (jp_before + best >= JP_RIGHT_PER_YEAR)
    return np.flatnonzero(reachable).astype("int64")


# ---------------------------------------------------------------------------------------------
# Evaluating an allocation (a boolean mask over the candidates)
# ---------------------------------------------------------------------------------------------
def _employee_hours(p: _Problem, sel: np.ndarray) -> np.ndarray:
    return np.bincount(p.emp[sel], weights=p.hours[sel], minlength=len(p.nips))


def _reaches_jp(p: _Problem, sel: np.ndarray) -> np.ndarray:
    """Per employee: below 20 JP before the plan, at or above it with the plan."""
    return (p.jp_before < JP_RIGHT_PER_YEAR) & (p.jp_before + _employee_hours(p, sel) >= JP_RIGHT_PER_YEAR)


def _key(p: _Problem, sel: np.ndarray, jp_priority: bool) -> tuple[int, int, float]:
    """The lexicographic objective: (included employees covered, employees reaching 20 JP, gain)."""
    covered = 0
    if len(p.include):
        counts = np.bincount(p.emp[sel], minlength=len(p.nips))
        covered = int(np.count_nonzero(counts[p.include]))
    reached = int(np.count_nonzero(_reaches_jp(p, sel))) if jp_priority else 0
    return covered, reached, float(p.gain[sel].sum())


def _better(a: tuple[int, int, float], b: tuple[int, int, float]) -> bool:
    """Strictly better; exact comparison so that a floor is never replaced by something lower."""
    return a > b


def _repair_budget(p: _Problem, sel: np.ndarray) -> np.ndarray:
    """Drop the lowest gain-per-Rupiah picks while the cost is over budget (MILP tolerance after rounding)."""
    sel = sel.copy()
    over = int(p.cost[sel].sum()) - p.budget
    if over <= 0:
        return sel
    picked = np.flatnonzero(sel)
    ratio = p.gain[picked] / np.maximum(p.cost[picked], 1)
    for i in picked[np.lexsort((picked, ratio))]:
        if over <= 0:
            break
        if p.cost[i] > 0:
            sel[i] = False
            over -= int(p.cost[i])
    return sel


def _prune_zero_gain(p: _Problem, sel: np.ndarray, jp_priority: bool) -> np.ndarray:
    """Drop selected zero-gain trainings that serve no priority (they only spend budget)."""
    zero = np.flatnonzero(sel & (p.gain <= _GAIN_EPS))
    if not len(zero):
        return sel
    sel = sel.copy()
    included = np.zeros(len(p.nips), dtype=bool)
    included[p.include] = True
    counts = np.bincount(p.emp[sel], minlength=len(p.nips))
    hours = _employee_hours(p, sel)
    # Most expensive first: it frees the most budget when it is not needed.
    for i in zero[np.lexsort((zero, -p.cost[zero]))]:
        e = p.emp[i]
        if included[e] and counts[e] == 1:
            continue
        if jp_priority:
            before_reach = p.jp_before[e] < JP_RIGHT_PER_YEAR <= p.jp_before[e] + hours[e]
            after_reach = p.jp_before[e] < JP_RIGHT_PER_YEAR <= p.jp_before[e] + hours[e] - p.hours[i]
            if before_reach and not after_reach:
                continue
        sel[i] = False
        counts[e] -= 1
        hours[e] -= p.hours[i]
    return sel


# ---------------------------------------------------------------------------------------------
# Greedy: gain per Rupiah, after the higher priorities
# ---------------------------------------------------------------------------------------------
class _GreedyState:
    def __init__(self, p: _Problem) -> None:
        self.p = p
        self.sel = np.zeros(p.n, dtype=bool)
        self.budget_left = p.budget
        self.count = np.zeros(len(p.nips), dtype="int64")
        self.jp = np.zeros(len(p.nips))
        self.seats_left = p.seats.copy()
        self.used_groups: set[int] = set()

    def can_add(self, i: int) -> bool:
        p = self.p
        e = p.emp[i]
        return bool(
            not self.sel[i]
            and p.cost[i] <= self.budget_left
            and self.count[e] < p.max_trainings
            and (p.max_jp is None or self.jp[e] + p.hours[i] <= p.max_jp)
            and self.seats_left[p.train[i]] >= 1
            and not any(int(g) in self.used_groups for g in p.comp_groups[i])
        )

    def add(self, i: int) -> None:
        p = self.p
        e = p.emp[i]
        self.sel[i] = True
        self.budget_left -= int(p.cost[i])
        self.count[e] += 1
        self.jp[e] += p.hours[i]
        self.seats_left[p.train[i]] -= 1
        self.used_groups.update(int(g) for g in p.comp_groups[i])

    def remove(self, i: int) -> None:
        p = self.p
        e = p.emp[i]
        self.sel[i] = False
        self.budget_left += int(p.cost[i])
        self.count[e] -= 1
        self.jp[e] -= p.hours[i]
        self.seats_left[p.train[i]] += 1
        self.used_groups.difference_update(int(g) for g in p.comp_groups[i])


def _ratio_order(p: _Problem, idx: np.ndarray, value: np.ndarray) -> np.ndarray:
    """idx sorted by value per Rupiah (free first), then value, then nip, then training_id (= index)."""
    cost = p.cost[idx].astype("float64")
    ratio = np.where(cost > 0, value[idx] / np.maximum(cost, 1.0), np.inf)
    return idx[np.lexsort((idx, -value[idx], -ratio))]


def _greedy_select(p: _Problem, jp_priority: bool, seed: np.ndarray | None = None) -> np.ndarray:
    """Greedy by priority; `seed` (candidate indices) is taken first, as far as it stays feasible."""
    state = _GreedyState(p)
    for i in () if seed is None else seed:
        if state.can_add(int(i)):
            state.add(int(i))
    starts = np.r_[0, np.flatnonzero(p.emp[1:] != p.emp[:-1]) + 1] if p.n else np.zeros(0, dtype="int64")
    ends = np.r_[starts[1:], p.n] if p.n else np.zeros(0, dtype="int64")

    # 1. Included employees, cheapest first so that as many as possible are covered.
    if len(p.include):
        cheapest = np.array([p.cost[starts[e]:ends[e]].min() for e in p.include])
        for e in p.include[np.lexsort((p.include, cheapest))]:
            if state.count[e]:
                continue
            own = np.arange(starts[e], ends[e])
            for i in own[np.lexsort((own, -p.gain[own], p.cost[own]))]:
                if state.can_add(int(i)):
                    state.add(int(i))
                    break

    # 2. Employees towards 20 JP, the cheapest to bring there first; all-or-nothing per employee.
    if jp_priority and len(p.jp_targets):
        plans: list[tuple[int, int]] = []  # (estimated cost to reach 20 JP, employee)
        for e in p.jp_targets:
            own = _ratio_order(p, np.arange(starts[e], ends[e]), p.hours)[:p.max_trainings]
            reached_at = np.flatnonzero(np.cumsum(p.hours[own]) >= JP_RIGHT_PER_YEAR - p.jp_before[e])
            if len(reached_at):
                plans.append((int(p.cost[own[:reached_at[0] + 1]].sum()), int(e)))
        for _, e in sorted(plans):
            need = JP_RIGHT_PER_YEAR - p.jp_before[e]
            if state.jp[e] >= need:
                continue
            own = np.arange(starts[e], ends[e])
            added: list[int] = []
            for i in _ratio_order(p, own, p.hours):
                if state.jp[e] >= need:
                    break
                if state.can_add(int(i)):
                    state.add(int(i))
                    added.append(int(i))
            if state.jp[e] < need:  # could not get there: give the budget back
                for i in added:
                    state.remove(i)

    # 3. Everything else by expected gain per Rupiah.
    positive = np.flatnonzero(p.gain > _GAIN_EPS)
    for i in _ratio_order(p, positive, p.gain):
        if state.can_add(int(i)):
            state.add(int(i))
    return state.sel


# ---------------------------------------------------------------------------------------------
# The MILP: two formulations of the same model
# ---------------------------------------------------------------------------------------------
# Patterns (the default): one binary per feasible *set* of trainings of one employee (within the
# per-employee limits and one training per competency), at most one set per employee. Its LP relaxation
# is the convex hull of each employee's choices, so only the coupling rows (budget, seats, floors)
# leave anything fractional: rounding the LP is then within a few 1e-6 of the optimum on realistic
# instances, and HiGHS's branch and bound is rarely needed. Items (the fallback when the sets would be
# too many, e.g. 20 candidates and 5 trainings each): one binary per candidate with the limits as rows.
MAX_PATTERNS = 2_000_000


@dataclass
class _Stage:
    name: str  # "include", "jp" or "gain"
    status: int | None = None  # scipy milp status; None = not run (out of time)
    message: str = ""
    selection: np.ndarray | None = None
    mip_gap: float | None = None
    upper_bound: float | None = None  # on the stage's own objective (maximisation)
    lp_rounding: bool = False  # solved by rounding the LP relaxation (the gap proved against the LP bound)


class _Rows:
    """Constraint rows accumulated as sparse triplets, then one CSR matrix with bounds."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.lbs: list[np.ndarray] = []
        self.ubs: list[np.ndarray] = []
        self.n_rows = 0

    def block(self, row: np.ndarray, col: np.ndarray, val: np.ndarray, lb: np.ndarray,
              ub: np.ndarray) -> None:
        self.rows.append(row + self.n_rows)
        self.cols.append(col)
        self.vals.append(val.astype("float64"))
        self.lbs.append(lb.astype("float64"))
        self.ubs.append(ub.astype("float64"))
        self.n_rows += len(lb)

    def single(self, col: np.ndarray, val: np.ndarray, lb: float, ub: float) -> None:
        self.block(np.zeros(len(col), dtype="int64"), col, val, np.array([lb]), np.array([ub]))

    def per_group(self, group: np.ndarray, col: np.ndarray, weight: np.ndarray, limit: np.ndarray) -> None:
        """Σ weight·var ≤ limit per group, only for the groups where the limit can bind."""
        load = np.bincount(group, weights=weight, minlength=len(limit))
        binding = load > limit
        if not binding.any():
            return
        row_of = np.cumsum(binding) - 1
        members = binding[group]
        self.block(row_of[group[members]], col[members], weight[members],
                   np.full(int(binding.sum()), -np.inf), limit[binding])

    def constraint(self, n_vars: int) -> LinearConstraint:
        matrix = sparse.coo_array(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=(self.n_rows, n_vars),
        ).tocsr()
        return LinearConstraint(matrix, np.concatenate(self.lbs), np.concatenate(self.ubs))


class _ItemModel:
    """Variables [x (candidates) | z (included employees covered) | y (employees reaching 20 JP)]."""

    name = "items"

    def __init__(self, p: _Problem) -> None:
        self.p = p
        self.n_vars = p.n + len(p.include) + len(p.jp_targets)

    def objective(self, stage: str) -> np.ndarray:
        p, n, n_inc = self.p, self.p.n, len(self.p.include)
        c = np.zeros(self.n_vars)
        if stage == "include":
            c[n:n + n_inc] = -1.0
        elif stage == "jp":
            c[n + n_inc:] = -1.0
        else:
            c[:n] = -p.gain
        return c

    def constraints(self, floors: Mapping[str, int]) -> LinearConstraint:
        p, n, n_inc, n_jp = self.p, self.p.n, len(self.p.include), len(self.p.jp_targets)
        rows = _Rows()
        all_x = np.arange(n, dtype="int64")
        rows.single(all_x, p.cost.astype("float64"), -np.inf, p.budget)
        n_emp = len(p.nips)
        rows.per_group(p.emp, all_x, np.ones(n), np.full(n_emp, float(p.max_trainings)))
        if p.max_jp is not None:
            rows.per_group(p.emp, all_x, p.hours, np.full(n_emp, p.max_jp))
        if np.isfinite(p.seats).any():
            rows.per_group(p.train, all_x, np.ones(n), p.seats)
        if p.n_comp_rows:
            rows.block(p.comp_row, p.comp_col, np.ones(len(p.comp_col)), np.full(p.n_comp_rows, -np.inf),
                       np.ones(p.n_comp_rows))
        if n_inc:  # z_k ≤ Σ x over included employee k's candidates
            inc_of = np.full(n_emp, -1, dtype="int64")
            inc_of[p.include] = np.arange(n_inc)
            members = inc_of[p.emp] >= 0
            rows.block(np.r_[inc_of[p.emp[members]], np.arange(n_inc)],
                       np.r_[all_x[members], n + np.arange(n_inc)],
                       np.r_[-np.ones(int(members.sum())), np.ones(n_inc)],
                       np.full(n_inc, -np.inf), np.zeros(n_inc))
            if "include" in floors:
                rows.single(n + np.arange(n_inc), np.ones(n_inc), floors["include"], np.inf)
        if n_jp:  # need_k·y_k ≤ Σ JP·x over employee k's candidates
            jp_of = np.full(n_emp, -1, dtype="int64")
            jp_of[p.jp_targets] = np.arange(n_jp)
            members = jp_of[p.emp] >= 0
            need = JP_RIGHT_PER_YEAR - p.jp_before[p.jp_targets]
            rows.block(np.r_[jp_of[p.emp[members]], np.arange(n_jp)],
                       np.r_[all_x[members], n + n_inc + np.arange(n_jp)],
                       np.r_[-p.hours[members], need],
                       np.full(n_jp, -np.inf), np.zeros(n_jp))
            if "jp" in floors:
                rows.single(n + n_inc + np.arange(n_jp), np.ones(n_jp), floors["jp"], np.inf)
        return rows.constraint(self.n_vars)

    def selection(self, values: np.ndarray, threshold: float) -> np.ndarray:
        return np.asarray(values[:self.p.n]) >= threshold


class _PatternModel:
    """One variable per feasible training set of one employee (see the comment above MAX_PATTERNS)."""

    name = "patterns"

    def __init__(self, p: _Problem, members: np.ndarray, emp: np.ndarray, reach: np.ndarray) -> None:
        self.p = p
        self.members = members  # (P, width) candidate indices, padded with -1
        self.emp = emp
        real = members >= 0
        self.gain = np.where(real, p.gain[members], 0.0).sum(axis=1)
        self.cost = np.where(real, p.cost[members], 0).sum(axis=1)
        self.reach = reach.astype("float64")
        included = np.zeros(len(p.nips), dtype=bool)
        included[p.include] = True
        self.cover = included[emp].astype("float64")
        self.n_vars = len(emp)

    def objective(self, stage: str) -> np.ndarray:
        return -(self.cover if stage == "include" else self.reach if stage == "jp" else self.gain)

    def constraints(self, floors: Mapping[str, int]) -> LinearConstraint:
        p = self.p
        rows = _Rows()
        all_w = np.arange(self.n_vars, dtype="int64")
        rows.single(all_w, self.cost.astype("float64"), -np.inf, p.budget)
        rows.per_group(self.emp, all_w, np.ones(self.n_vars), np.ones(len(p.nips)))  # one set per employee
        if np.isfinite(p.seats).any():
            pattern, slot = np.nonzero(self.members >= 0)
            training = p.train[self.members[pattern, slot]]
            rows.per_group(training, pattern, np.ones(len(pattern)), p.seats)
        if "include" in floors:
            rows.single(all_w, self.cover, floors["include"], np.inf)
        if "jp" in floors:
            rows.single(all_w, self.reach, floors["jp"], np.inf)
        return rows.constraint(self.n_vars)

    def selection(self, values: np.ndarray, threshold: float) -> np.ndarray:
        chosen = self.members[np.asarray(values) >= threshold]
        sel = np.zeros(self.p.n, dtype=bool)
        sel[chosen[chosen >= 0]] = True
        return sel


def _conflict_keys(p: _Problem) -> np.ndarray:
    """Sorted keys i·n + j (i < j) of candidate pairs of one employee that close the same competency."""
    if not p.n_comp_rows:
        return np.zeros(0, dtype="int64")
    order = np.lexsort((p.comp_col, p.comp_row))
    row, col = p.comp_row[order], p.comp_col[order]
    keys = []
    for d in range(1, int(np.bincount(row).max())):
        same = row[d:] == row[:-d]
        a, b = col[:-d][same], col[d:][same]
        keys.append(np.minimum(a, b) * p.n + np.maximum(a, b))
    return np.unique(np.concatenate(keys))


def _pattern_model(p: _Problem, jp_priority: bool, limit: int = MAX_PATTERNS) -> _PatternModel | None:
    """Enumerate every employee's feasible training sets and drop dominated ones; None if too many."""
    starts = np.r_[0, np.flatnonzero(p.emp[1:] != p.emp[:-1]) + 1]
    sizes = np.diff(np.r_[starts, p.n])
    m = p.max_trainings
    size_values, size_counts = np.unique(sizes, return_counts=True)
    total = sum(int(c) * sum(math.comb(int(k), r) for r in range(1, min(m, int(k)) + 1))
                for k, c in zip(size_values, size_counts, strict=True))
    if total > limit:
        return None
    conflicts = _conflict_keys(p)
    width = int(min(m, sizes.max()))
    blocks: list[np.ndarray] = []
    for k in size_values.tolist():
        base = starts[sizes == k]
        for r in range(1, min(m, k) + 1):
            combos = np.array(list(itertools.combinations(range(k), r)), dtype="int64")
            members = (base[:, None, None] + combos[None, :, :]).reshape(-1, r)
            ok = np.ones(len(members), dtype=bool)
            if p.max_jp is not None:
                ok &= p.hours[members].sum(axis=1) <= p.max_jp
            for a, b in itertools.combinations(range(r), 2):
                ok &= ~np.isin(members[:, a] * p.n + members[:, b], conflicts)
            members = members[ok]
            blocks.append(np.pad(members, ((0, 0), (0, width - r)), constant_values=-1))
    members = np.concatenate(blocks) if blocks else np.zeros((0, max(width, 1)), dtype="int64")
    # Deterministic order: by employee, then by the candidates (themselves sorted by nip, training_id).
    members = members[np.lexsort(tuple(np.where(members >= 0, members, -1).T[::-1]))]
    emp = p.emp[members[:, 0]]
    real = members >= 0
    hours = np.where(real, p.hours[members], 0.0).sum(axis=1)
    below = p.jp_before[emp] < JP_RIGHT_PER_YEAR
    reach = below & (p.jp_before[emp] + hours >= JP_RIGHT_PER_YEAR) & jp_priority
    model = _PatternModel(p, members, emp, reach)
    keep = _undominated(p, model)
    return _PatternModel(p, members[keep], emp[keep], reach[keep])


def _undominated(p: _Problem, model: _PatternModel) -> np.ndarray:
    """Patterns worth a variable: a set is dropped when another of the same employee, equal on the
    priorities (reaching 20 JP), costs no more and gains no less, or when it is worth no more than
    training nothing. Sets using seat-limited trainings only get the second test (seats make costs
    more than Rupiah)."""
    included = np.zeros(len(p.nips), dtype=bool)
    included[p.include] = True
    useful = (model.gain > _GAIN_EPS) | (model.reach > 0) | included[model.emp]
    limited = np.isfinite(p.seats[p.train])
    has_seats = np.bincount(p.emp, weights=limited.astype("float64"), minlength=len(p.nips)) > 0
    idx = np.flatnonzero(useful & ~has_seats[model.emp])
    cls = model.emp[idx] * 2 + model.reach[idx].astype("int64")
    order = idx[np.lexsort((idx, -model.gain[idx], model.cost[idx], cls))]
    cls_sorted = model.emp[order] * 2 + model.reach[order].astype("int64")
    best_before = (pd.Series(model.gain[order]).groupby(cls_sorted).cummax()
                   .groupby(cls_sorted).shift(1).fillna(-np.inf).to_numpy())
    keep = useful.copy()
    keep[order] = model.gain[order] > best_before
    return keep


def _call_milp(
    c: np.ndarray, constraints: LinearConstraint, time_limit: float, mip_rel_gap: float, integral: bool = True
) -> OptimizeResult:
    """One HiGHS solve over binary variables, or of its LP relaxation (a seam for tests).

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
