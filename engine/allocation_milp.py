"""The MILP of `engine.allocation`: two formulations of the same model, as sparse constraint matrices.

Patterns (the default): one binary per feasible *set* of trainings of one employee (within the
per-employee limits and one training per competency), at most one set per employee. Its LP relaxation
is the convex hull of each employee's choices, so only the coupling rows (budget, seats, floors)
leave anything fractional: rounding the LP is then within a few 1e-6 of the optimum on realistic
instances, and HiGHS's branch and bound is rarely needed. Items (the fallback when the sets would be
too many, e.g. 20 candidates and 5 trainings each): one binary per candidate with the limits as rows.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import LinearConstraint

from engine.allocation_problem import _GAIN_EPS, _Problem
from features.constants import JP_RIGHT_PER_YEAR

MAX_PATTERNS = 2_000_000  # more feasible sets than this: the items formulation (engine.allocation reads it)


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
    """One variable per feasible training set of one employee (see the module docstring)."""

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
