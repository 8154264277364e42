"""The promotion gate: a list of named checks (accuracy here, fairness in `training.fairness`), each
returning a failure reason or None; `kompetensi promote` refuses a version while any check fails."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from features.values import finite

Metrics = dict[str, float]


Gate = Callable[[dict, dict | None], list[str]]


@dataclass(frozen=True)
class GateCheck:
    """One promotion check: `check(candidate, champion)` returns a failure reason or None.

    `requires` names the candidate metrics it needs; missing ones are reported once, together.
    """

    name: str
    requires: tuple[str, ...]
    check: Callable[[Metrics, Metrics | None], str | None]


def run_checks(
    checks: Iterable[GateCheck], candidate: Mapping[str, Any], champion: Mapping[str, Any] | None
) -> list[str]:
    """Failure reasons of `checks` ([] = pass), each prefixed with its check's name."""
    checks = list(checks)
    cand = _finite(candidate)
    champ = _finite(champion) if champion is not None else None
    missing = sorted({key for c in checks for key in c.requires if key not in cand})
    reasons = []
    if missing:
        reasons.append(f"missing metrics: {', '.join(missing)}; run `kompetensi evaluate` first")
    for c in checks:
        if any(key in missing for key in c.requires):
            continue
        reason = c.check(cand, champ)
        if reason:
            reasons.append(f"{c.name}: {reason}")
    return reasons


def _beats(baseline: str) -> Callable[[Metrics, Metrics | None], str | None]:
    def check(candidate: Metrics, _champion: Metrics | None) -> str | None:
        mae, base = candidate["backtest_mae"], candidate[baseline]
        return None if mae < base else f"backtest_mae {mae:.4f} is not below {baseline} {base:.4f}"

    return check


def _not_worse_than_champion(tolerance: float) -> Callable[[Metrics, Metrics | None], str | None]:
    def check(candidate: Metrics, champion: Metrics | None) -> str | None:
        if champion is None or "backtest_mae" not in champion:
            return None  # nothing to compare with (first promotion, or a champion never evaluated)
        mae, best = candidate["backtest_mae"], champion["backtest_mae"]
        limit = best * (1 + tolerance)
        if mae <= limit:
            return None
        return f"backtest_mae {mae:.4f} is worse than the champion's {best:.4f} by more than {tolerance:.0%}"

    return check


def accuracy_checks(tolerance: float = 0.02) -> list[GateCheck]:
    """Beat both baselines on the back-test; stay within `tolerance` (relative) of the champion."""
    return [
        GateCheck("beats_carry_forward", ("backtest_mae", "baseline_carry_forward_mae"),
                  _beats("baseline_carry_forward_mae")),
        GateCheck("beats_linear", ("backtest_mae", "baseline_linear_mae"), _beats("baseline_linear_mae")),
        GateCheck("not_worse_than_champion", ("backtest_mae",), _not_worse_than_champion(tolerance)),
    ]


DR_DIFFERENCE = "policy_dr_vs_rule"


def _beats_rule_policy(candidate: Metrics, _champion: Metrics | None) -> str | None:
    if DR_DIFFERENCE not in candidate:
        return None  # not measured (an evaluation before this check, or a history too short for it)
    diff = candidate[DR_DIFFERENCE]
    if diff > 0:
        return None
    lo, hi = candidate.get(f"{DR_DIFFERENCE}_lo", float("nan")), candidate.get(f"{DR_DIFFERENCE}_hi", float("nan"))
    return (f"the doubly robust value of the model's rank-1 picks does not beat the rule baseline's "
            f"(model − rule {diff:+.4f} levels, 95% interval [{lo:+.4f}, {hi:+.4f}])")


def decision_checks() -> list[GateCheck]:
    """Truth-free decision quality (`training.policy_eval`): refuse a model whose rank-1 picks are not
    better than the rule baseline's by the cross-fitted doubly robust estimate (point estimate of model −
    rule ≤ 0). The point estimate, not the interval's lower bound: on an export of a few hundred employees
    the interval is wider than the real model's margin over the rule, so requiring a positive lower bound
    would refuse good models for want of data; a model no better than the rule in expectation is refused.
    Passes when the metric was not measured (the other checks still apply)."""
    return [GateCheck("beats_rule_policy_dr", (), _beats_rule_policy)]


def default_gate(candidate: dict, champion: dict | None, tolerance: float = 0.02) -> list[str]:
    """The promotion gate of `kompetensi promote`: failure reasons, [] = pass."""
    return run_checks(accuracy_checks(tolerance), candidate, champion)


def make_gate(*checks: GateCheck) -> Gate:
    """A gate running exactly `checks` (e.g. `make_gate(*accuracy_checks(), *fairness_checks())`)."""
    return lambda candidate, champion: run_checks(checks, candidate, champion)


def _finite(metrics: Mapping[str, Any]) -> Metrics:
    return {key: number for key, value in metrics.items() if (number := finite(value)) is not None}
