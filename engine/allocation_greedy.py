"""The greedy plan of `engine.allocation`: included employees first, then (jp_priority) employees towards
20 JP, then everything else by expected gain per Rupiah. Also what completes a rounded LP solution."""

from __future__ import annotations

import numpy as np

from engine.allocation_problem import _GAIN_EPS, _Problem
from features.constants import JP_RIGHT_PER_YEAR


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
