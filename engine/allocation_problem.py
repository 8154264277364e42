"""The plan optimiser's problem: what is asked (`PlanOptions`), what is answered (`PlanResult`), the
candidates prepared as arrays (`_Problem`, the index of a candidate is its variable) and how an
allocation (a boolean mask over the candidates) is scored.

Internals of `engine.allocation` (import the public names from there); shared by its greedy heuristic
(`engine.allocation_greedy`) and its MILP formulations (`engine.allocation_milp`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

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
