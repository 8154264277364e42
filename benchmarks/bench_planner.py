"""Benchmark of the training plan optimiser (training/planner.py) on synthetic candidate tables.

For each size (employees, 5 candidates each) and three budgets: solve time, status, optimality gap and
the objective against the greedy plan. `run()` returns the figures as a dict and writes them as JSON.

    .venv/bin/python -m benchmarks.bench_planner --out var/bench/planner.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.allocation import PlanOptions, greedy_plan, optimise_plan
from features.constants import CANDIDATE_COLUMNS

DEFAULT_SIZES = (1000, 6000, 30000)
# Budgets as Rupiah per employee: a lean, a typical and a generous year (Rp 0.5 M, 2 M, 8 M a head).
BUDGET_PER_EMPLOYEE = (500_000, 2_000_000, 8_000_000)
CANDIDATES_PER_EMPLOYEE = 5
SEED = 20261128

# (format, cost range in Rupiah, JP range, share of the catalogue): e-learning is cheap and short,
# leadership training (PKP/PKA/PKN II) costs up to ~Rp 23-25 M a participant.
_CATALOGUE_KINDS = (
    ("e_learning", (0, 500_000), (2, 20), 0.30),
    ("seminar", (250_000, 2_000_000), (4, 16), 0.15),
    ("workshop", (1_000_000, 4_000_000), (8, 24), 0.15),
    ("klasikal", (2_000_000, 8_000_000), (24, 40), 0.20),
    ("blended", (3_000_000, 12_000_000), (30, 80), 0.12),
    ("kepemimpinan", (10_000_000, 25_000_000), (100, 400), 0.08),
)


def synthetic_candidates(n_employees: int, *, seed: int = SEED, n_trainings: int = 120,
                         n_competencies: int = 25) -> pd.DataFrame:
    """A candidate table shaped like the recommendation engine's output (CANDIDATE_COLUMNS).

    Each employee has gaps on ~6 required competencies; each candidate training targets 1-3
    competencies and its gain is the part of those gaps it is expected to close.
    """
    rng = np.random.default_rng(seed)
    kinds = rng.choice(len(_CATALOGUE_KINDS), n_trainings, p=[k[3] for k in _CATALOGUE_KINDS])
    cost = np.empty(n_trainings, dtype="int64")
    hours = np.empty(n_trainings, dtype="int64")
    for t, k in enumerate(kinds):
        (lo, hi), (jlo, jhi) = _CATALOGUE_KINDS[k][1], _CATALOGUE_KINDS[k][2]
        cost[t] = int(rng.integers(lo // 50_000, hi // 50_000 + 1)) * 50_000  # round to Rp 50k
        hours[t] = int(rng.integers(jlo, jhi + 1))
    targets = [rng.choice(n_competencies, rng.integers(1, 4), replace=False) for _ in range(n_trainings)]
    # Bigger (longer) trainings move a level further, with diminishing returns.
    effect = 0.15 + 0.12 * np.log1p(hours / 8.0)

    gaps = np.zeros((n_employees, n_competencies))
    for e in range(n_employees):
        required = rng.choice(n_competencies, 6, replace=False)
        gaps[e, required] = np.clip(rng.normal(0.6, 0.5, 6), 0, 3).round(2)
    rows: dict[str, list[Any]] = {c: [] for c in CANDIDATE_COLUMNS}
    for e in range(n_employees):
        nip = f"19{80 + e % 20:02d}{e:014d}"
        # The engine proposes trainings that touch the employee's gaps: weight by overlap.
        overlap = np.array([gaps[e, targets[t]].sum() for t in range(n_trainings)]) + 0.05
        chosen = rng.choice(n_trainings, CANDIDATES_PER_EMPLOYEE, replace=False, p=overlap / overlap.sum())
        jp = float(rng.choice([0, 0, 4, 8, 12, 16, 20, 30]))
        for t in chosen:
            comps = [c for c in targets[t] if gaps[e, c] > 0]
            gain = sum(min(gaps[e, c], effect[t] * rng.uniform(0.5, 1.2)) for c in comps)
            rows["nip"].append(nip)
            rows["training_id"].append(f"PL{t:04d}")
            rows["expected_gain"].append(round(float(gain), 4))
            rows["cost_idr"].append(int(cost[t]))
            rows["hours_jp"].append(int(hours[t]))
            rows["competency_ids"].append(tuple(f"KOMP{c:02d}" for c in comps))
            rows["unit_id"].append(f"OPD{e % 37:02d}")
            rows["total_gap_before"].append(round(float(gaps[e].sum()), 4))
            rows["jp_this_year"].append(jp)
    return pd.DataFrame(rows)


def _bench_one(candidates: pd.DataFrame, n_employees: int, budget: int, **option_kw: Any) -> dict[str, Any]:
    options = PlanOptions(budget_idr=budget, **option_kw)
    cpu = time.process_time()  # the machines are shared: CPU time is the steadier figure
    result = optimise_plan(candidates, options)
    cpu_seconds = time.process_time() - cpu
    started = time.perf_counter()
    greedy = greedy_plan(candidates, options)
    greedy_seconds = time.perf_counter() - started
    improvement = (result.objective / greedy.objective - 1) * 100 if greedy.objective > 0 else None
    return {
        "employees": n_employees,
        "candidates": len(candidates),
        "budget_idr": budget,
        **{k: v for k, v in option_kw.items() if k == "jp_priority"},
        "status": result.status,
        "solver": result.solver,
        "solve_seconds": round(result.solve_seconds, 3),
        "solve_cpu_seconds": round(cpu_seconds, 3),
        "optimality_gap": result.optimality_gap,
        "objective": round(result.objective, 4),
        "greedy_objective": round(greedy.objective, 4),
        "greedy_seconds": round(greedy_seconds, 3),
        "gain_over_greedy_pct": None if improvement is None else round(improvement, 3),
        "cost_idr": result.totals["cost_idr"],
        "employees_allocated": result.totals["employees"],
        "employees_reaching_standard": result.totals["employees_reaching_standard"],
        "employees_reaching_20_jp": result.totals["employees_reaching_20_jp"],
        "greedy_employees_reaching_20_jp": greedy.totals["employees_reaching_20_jp"],
        "notes": result.notes,
    }


def run(sizes: Sequence[int] = DEFAULT_SIZES, out: Path | None = None, *, jp_priority: bool = True,
        time_limit_s: float = 30.0) -> dict[str, Any]:
    """Benchmark every size at three budgets (plus a jp_priority run at the middle one); JSON to `out`."""
    runs: list[dict[str, Any]] = []
    for n in sizes:
        started = time.perf_counter()
        candidates = synthetic_candidates(n)
        build_seconds = time.perf_counter() - started
        for per_head in BUDGET_PER_EMPLOYEE:
            row = _bench_one(candidates, n, per_head * n, time_limit_s=time_limit_s)
            row["build_seconds"] = round(build_seconds, 3)
            runs.append(row)
        if jp_priority:
            runs.append(_bench_one(candidates, n, BUDGET_PER_EMPLOYEE[1] * n, time_limit_s=time_limit_s,
                                   jp_priority=True))
    report = {
        "benchmark": "planner",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "time_limit_s": time_limit_s,
        "mip_rel_gap": PlanOptions(budget_idr=0).mip_rel_gap,
        "runs": runs,
    }
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="employees per run")
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per solve")
    parser.add_argument("--no-jp-priority", action="store_true", help="skip the jp_priority runs")
    args = parser.parse_args(argv)
    report = run(args.sizes, args.out, jp_priority=not args.no_jp_priority, time_limit_s=args.time_limit)
    for r in report["runs"]:
        gap = "—" if r["optimality_gap"] is None else f"{r['optimality_gap']:.1e}"
        print(f"{r['employees']:>6} emp  budget Rp {r['budget_idr'] / 1e9:7.2f} bn"
              f"{'  jp' if r.get('jp_priority') else '    '}  {r['status']:<15} {r['solver']:<10} "
              f"{r['solve_seconds']:7.2f} s ({r['solve_cpu_seconds']:6.2f} cpu)  gap {gap:>8}  "
              f"gain {r['objective']:10.2f}  "
              f"greedy {r['greedy_objective']:10.2f} ({r['gain_over_greedy_pct']}%)")


if __name__ == "__main__":
    main()
