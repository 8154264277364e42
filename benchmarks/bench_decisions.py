"""Decision benchmark (`make bench-decisions`; section `decisions` of `make bench`): how good are the
recommendations, the forecast and the budget plans against each world's ground truth, and against what
the world allows.

For each world (a generator configuration, `features.generator.generate_export(world=...)`, with a fixed
export seed per world): generate an export (default 2,000 employees, 5 years), read it, fit the predictor
in-process (`training.fit.fit_predictor`, no MLflow, no store), score every active employee
(`Predictor.score`, top 5) and measure, against `truth/`:

- rank-1 and top-3 policy value, NDCG@5 and the Spearman correlation of estimated vs true gain over the
  recommended pairs (`training.rec_eval.evaluate_recommendations`, with its rule and popularity baselines);
- recall of beneficial trainings: among active employees with an eligible training of true gain > 0.05,
  the share who got at least one recommendation (and how many got none; also the share whose list holds
  one of those trainings);
- forecast MAE ratio: MAE of the predicted level (no plan, 12 months) against the true expected level,
  over the MAE of carry-forward of the current level (`training.evaluate.truth_comparison`);
- plan value at three budgets (Rp 100 M, 500 M and 2,000 M per 2,000 requested employees):
  (plan − random) / (oracle − random) of true values (`benchmarks.decision_metrics.plan_values`);
- wall time of the fit and of scoring.

Beside each figure, the world's observable ceiling: the same metric for a model fit to that world's true
gains (or true levels) from the observable features, out of fold by employee
(`benchmarks.decision_metrics`). Read every figure against it: a world where little is observable caps
everyone.

Leave-worlds-out: methods are chosen on the tuning worlds only (`TUNING_WORLDS`); the acceptance goals
are judged on the held-out worlds (`HELD_OUT_WORLDS`), never on all of them. Both groups are summarised
separately (mean and worst). Writes `decisions.json` and `decisions.md` into `--out`; progress on stderr.

    .venv/bin/python -m benchmarks.bench_decisions --out benchmarks/results/decisions
    .venv/bin/python -m benchmarks.bench_decisions --out /tmp/dec --worlds default --employees 400 --years 3
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import PROJECT_ROOT, machine_facts, say, write_json
from benchmarks.decision_metrics import (
    BENEFICIAL_GAIN,
    CEILING_FOLDS,
    RANDOM_ORDERS,
    active_truth,
    ceiling_gains,
    forecast_ceiling,
    pair_table,
    plan_values,
    ranking_metrics,
    recall_of_beneficial,
)
from engine.effects import DEFAULT_FEATURE_SET
from engine.effects_base import FEATURE_SETS
from features.constants import ACTIVE_STATUS
from features.eligibility import eligible_pairs
from features.generator import generate_export
from features.io import read_export
from training.evaluate import truth_comparison
from training.fit import fit_predictor
from training.rec_eval import evaluate_recommendations, read_truth_effects, rule_picks

# Leave-worlds-out (features.generator.worlds.NAMED_WORLDS and random draws). Methods are chosen on the tuning
# worlds only. The held-out ones hold the kinds of mechanism DECISIONS.md names and no tuning world has: which
# format works best (format_reversed), how long gains last (decay), how much the job's domain matters
# (transfer); selection on unobservables (hidden_selection; tuning sees the opposite, no_selection); plain
# noise (noisy; tuning sees biased raters); everything at once (kitchen_sink) and two random draws. Tuning
# keeps one world of each other family (course quality, spacing, ceilings, responders, selection, raters,
# messy records) so that methods can be built for them. Never move a world across after seeing its figures.
TUNING_WORLDS: tuple[str, ...] = ("default", "spacing", "ceiling", "quality_spread", "responders", "no_selection",
                                  "lenient_raters", "messy")
HELD_OUT_WORLDS: tuple[str, ...] = ("transfer", "decay", "format_reversed", "hidden_selection", "noisy",
                                    "kitchen_sink", "random:1", "random:2")
DEFAULT_WORLD = "default"
EMPLOYEES = 2000
YEARS = 5
BUDGETS_IDR = (100_000_000, 500_000_000, 2_000_000_000)  # per BUDGET_EMPLOYEES requested employees
BUDGET_EMPLOYEES = 2000
DEFAULT_EXPORT_SEED = 7  # the CLI's `kompetensi generate` seed, for the default world
FIT_SEED = 20261128  # Settings.seed, what `kompetensi train` uses
RESULTS_DIR = PROJECT_ROOT / "benchmarks" / "results" / "decisions"

# (key, label, higher is better)
RANKING_METRICS = (
    ("policy_value_top1", "rank-1 policy value", True),
    ("policy_value_top3", "top-3 policy value", True),
    ("spearman", "Spearman, recommended pairs", True),
    ("ndcg_at_5", "NDCG@5", True),
    ("recall", f"recall: employees with a training of true gain > {BENEFICIAL_GAIN} who got a recommendation",
     True),
    ("recall_hit", "… whose list holds such a training", True),
)
FORECAST_METRIC = ("forecast_mae_ratio", "forecast MAE / carry-forward MAE (lower is better)", False)


def plan_metric(base: int, budget: int | None = None) -> tuple[str, str, bool]:
    """The plan value's key (named by the budget per BUDGET_EMPLOYEES employees, so that runs of any size
    share keys) and its label (the budget actually planned)."""
    budget = base if budget is None else budget
    label = f"plan value vs oracle, Rp {budget / 1e6:,.0f} M"
    if budget != base:
        label += f" (Rp {base / 1e6:,.0f} M per {BUDGET_EMPLOYEES:,})"
    return f"plan_value_{base // 1_000_000}m", label, True


def budgets_for(employees: int) -> tuple[int, ...]:
    """The three budgets scaled by employees / BUDGET_EMPLOYEES (whole Rupiah)."""
    return tuple(int(round(b * employees / BUDGET_EMPLOYEES)) for b in BUDGETS_IDR)


def metric_specs(budgets: Sequence[int]) -> tuple[tuple[str, str, bool], ...]:
    return (*RANKING_METRICS, FORECAST_METRIC,
            *(plan_metric(base, b) for base, b in zip(BUDGETS_IDR, budgets, strict=True)))


def world_seed(world: str) -> int:
    """The fixed export seed of a world: the CLI's default for the default world, else from its name."""
    return DEFAULT_EXPORT_SEED if world == DEFAULT_WORLD else zlib.crc32(world.encode()) % 1_000_000


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _ratio(ours: float | None, ceiling: float | None) -> float | None:
    if ours is None or ceiling is None or abs(ceiling) < 1e-12:
        return None
    return ours / ceiling


def _figure(ours: Any, ceiling: Any, rule: Any = None) -> dict[str, float | None]:
    o, c = _finite(ours), _finite(ceiling)
    return {"ours": o, "ceiling": c, "ours_over_ceiling": _ratio(o, c), "rule": _finite(rule)}


# ---------------------------------------------------------------------------------------------------
# One world
# ---------------------------------------------------------------------------------------------------
def ensure_world_export(workdir: Path, world: str, employees: int, years: int, progress: Callable[[str], None]
                        ) -> tuple[Path, float | None]:
    """The world's export in the work folder (generated unless there); (folder, seconds to generate)."""
    folder = workdir / f"{world.replace(':', '-')}-{employees}-{years}y"
    if (folder / "export.json").is_file() and (folder / "truth" / "effects.csv").is_file():
        return folder, None
    seed = world_seed(world)
    progress(f"{world}: generating {employees:,} employees, {years} years, seed {seed}")
    started = time.perf_counter()
    # The default world is generated exactly as `kompetensi generate` does (no `world` argument).
    options: dict[str, Any] = {} if world == DEFAULT_WORLD else {"world": world}
    generate_export(folder, employees=employees, years=years, seed=seed, **options)
    return folder, time.perf_counter() - started


def evaluate_world(world: str, group: str, workdir: Path, *, employees: int, years: int, fit_seed: int = FIT_SEED,
                   feature_set: str | None = None, progress: Callable[[str], None] = say) -> dict[str, Any]:
    """Every figure of one world (module docstring) with its ceiling, rule baseline and timings."""
    started = time.perf_counter()
    seconds: dict[str, float | None] = {}

    def timed(name: str, step: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        out = step()
        seconds[name] = round(time.perf_counter() - t, 2)
        return out

    def say_w(message: str) -> None:
        progress(f"{world}: {message}")

    folder, generated = ensure_world_export(workdir, world, employees, years, progress)
    seconds["generate"] = None if generated is None else round(generated, 2)
    truth_dir = folder / "truth"
    export = timed("read", lambda: read_export(folder).without_protected())
    truth = active_truth(read_truth_effects(truth_dir), export)
    say_w("fitting the predictor")
    effect_params = {"feature_set": feature_set} if feature_set else None
    predictor = timed("fit", lambda: fit_predictor(export, seed=fit_seed, effect_params=effect_params))
    say_w(f"fitted in {seconds['fit']:.1f} s; scoring every active employee")
    _, recs = timed("score", lambda: predictor.score(export, top_k=5))
    say_w(f"scored in {seconds['score']:.1f} s; evaluating against the truth")
    evaluation = timed("evaluate", lambda: evaluate_recommendations(predictor, export, truth_dir))
    recall = recall_of_beneficial(recs, truth)
    forecast = timed("forecast", lambda: truth_comparison(export, truth_dir, predictor.gap_model))
    say_w(f"observable ceiling: {CEILING_FOLDS}-fold LightGBM on the true gains")
    table = timed("pair_features", lambda: pair_table(predictor, export))
    ceiling = timed("ceiling", lambda: ceiling_gains(table, truth, fit_seed))
    ceiling_picks = predictor.rank_pairs(ceiling, limit=5)
    ceiling_ranking = ranking_metrics(ceiling_picks, truth)
    ceiling_forecast = timed("forecast_ceiling", lambda: forecast_ceiling(export, truth_dir, fit_seed))
    budgets = budgets_for(employees)
    say_w("plans at " + ", ".join(f"Rp {b / 1e6:,.0f} M" for b in budgets) + " (ours, oracle, ceiling, random)")
    plans = timed("plans", lambda: plan_values(predictor, export, table, truth, ceiling, budgets, fit_seed))
    rule_recall = recall_of_beneficial(_rule_picks(export), truth)

    ours = {"policy_value_top1": evaluation["policy_value_top1"],
            "policy_value_top3": evaluation["policy_value_top3"],
            "spearman": evaluation["spearman_recommended"], "ndcg_at_5": evaluation["ndcg_at_5"], **recall}
    rule = {"policy_value_top1": evaluation["rule_policy_value_top1"],
            "policy_value_top3": evaluation["rule_policy_value_top3"], "ndcg_at_5": evaluation["rule_ndcg_at_5"],
            "recall": rule_recall["recall"], "recall_hit": rule_recall["recall_hit"]}
    metrics = {key: _figure(ours[key], ceiling_ranking[key], rule.get(key)) for key, _, _ in RANKING_METRICS}
    carry = forecast["truth_carry_forward_mae"]
    metrics[FORECAST_METRIC[0]] = _figure(forecast["truth_mae"] / carry if carry > 0 else None,
                                          ceiling_forecast["ceiling_mae"] / carry if carry > 0 else None, 1.0)
    for base, p in zip(BUDGETS_IDR, plans, strict=True):
        metrics[plan_metric(base)[0]] = _figure(p["plan_value"], p["ceiling_plan_value"])
    seconds["total"] = round(time.perf_counter() - started, 2)
    active = int((export["employees"]["status"] == ACTIVE_STATUS).sum())
    say_w(f"done in {seconds['total']:.0f} s: rank-1 policy value {_show(metrics['policy_value_top1']['ours'])} "
          f"(ceiling {_show(metrics['policy_value_top1']['ceiling'])}), forecast ratio "
          f"{_show(metrics['forecast_mae_ratio']['ours'])}")
    return {
        "group": group, "description": _description(truth_dir), "seed": world_seed(world),
        "employees_requested": employees, "years": years,
        "active_employees": active, "eligible_pairs": int(len(truth)), "budgets_idr": list(budgets),
        "metrics": metrics,
        "details": {
            "popularity_policy_value_top1": _finite(evaluation["popularity_policy_value_top1"]),
            "popularity_policy_value_top3": _finite(evaluation["popularity_policy_value_top3"]),
            "spearman_eligible": _finite(evaluation["spearman_eligible"]),
            "coverage": _finite(evaluation["coverage"]),
            "eligibility_agreement": _finite(evaluation["eligibility_agreement"]),
            "recommended_ineligible": int(evaluation["recommended_ineligible"]),
            "employees_evaluated": int(evaluation["employees_evaluated"]),
            "employees_needing": int(recall["needing"]), "employees_missed": int(recall["missed"]),
            "ceiling_employees_missed": int(ceiling_ranking["missed"]),
            "forecast_mae": _finite(forecast["truth_mae"]), "carry_forward_mae": _finite(carry),
            "ceiling_forecast_mae": _finite(ceiling_forecast["ceiling_mae"]),
            "forecast_rows": int(forecast["truth_n"]), "random_orders": RANDOM_ORDERS,
            "plans": [{k: (_finite(v) if isinstance(v, float) else v) for k, v in p.items()} for p in plans],
        },
        "seconds": seconds,
    }


def _description(truth_dir: Path) -> str | None:
    """The world's description from `truth/world.json` (written by generators that know worlds)."""
    path = truth_dir / "world.json"
    if not path.is_file():
        return None
    description = json.loads(path.read_text(encoding="utf-8")).get("description")
    return None if description is None else str(description)


def _rule_picks(export: Any) -> pd.DataFrame:
    """The rule baseline's top 5 per employee (for its recall; rec_eval scores its policy value itself)."""
    as_of = export.exported_on
    return rule_picks(export, eligible_pairs(export, None, as_of), as_of, 5)


def _show(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


# ---------------------------------------------------------------------------------------------------
# Summaries and goals
# ---------------------------------------------------------------------------------------------------
def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def summarise(worlds: dict[str, dict[str, Any]], names: Sequence[str], budgets: Sequence[int]
              ) -> dict[str, Any]:
    """Mean and worst over `names` of ours, the ceiling, ours/ceiling and the rule, per metric."""
    done = [n for n in names if "metrics" in worlds.get(n, {})]
    out: dict[str, Any] = {"worlds": list(names), "evaluated": done, "metrics": {}}
    for key, _, higher in metric_specs(budgets):
        entry: dict[str, Any] = {}
        for column in ("ours", "ceiling", "ours_over_ceiling", "rule"):
            values = [worlds[n]["metrics"][key][column] for n in done
                      if worlds[n]["metrics"].get(key, {}).get(column) is not None]
            worst = (min if higher else max)(values) if values else None
            entry[column] = {"mean": _mean(values), "worst": worst, "n": len(values)}
        out["metrics"][key] = entry
    return out


GOALS = (
    ("policy_value_top1", "rank-1 policy value ≥ 90% of the observable ceiling on every world", 0.9),
    ("policy_value_top3", "top-3 policy value ≥ 90% of the observable ceiling on every world", 0.9),
    ("spearman", "mean Spearman (recommended pairs) ≥ 0.65", 0.65),
    ("forecast_mae_ratio", "mean forecast MAE ratio ≤ 0.60", 0.60),
    ("plan_value", "plan value ≥ 0.6 of the oracle at the three budgets on every world", 0.6),
)


def goals(worlds: dict[str, dict[str, Any]], names: Sequence[str]) -> list[dict[str, Any]]:
    """The acceptance goals on the worlds `names`: the figure each is judged on and whether it is met (None
    when nothing was evaluated). A world that failed fails every goal it takes part in."""
    failed = [n for n in names if "metrics" not in worlds.get(n, {})]
    done = [n for n in names if n not in failed]
    out = []
    for key, statement, target in GOALS:
        value: float | None
        if key in ("policy_value_top1", "policy_value_top3"):
            ratios = [worlds[n]["metrics"][key]["ours_over_ceiling"] for n in done]
            value = None if not ratios or any(r is None for r in ratios) else min(ratios)
            met = None if not names else (value is not None and not failed and value >= target)
        elif key == "spearman":
            value = _mean([worlds[n]["metrics"][key]["ours"] for n in done
                           if worlds[n]["metrics"][key]["ours"] is not None])
            met = None if not names else (value is not None and value >= target)
        elif key == "forecast_mae_ratio":
            value = _mean([worlds[n]["metrics"][key]["ours"] for n in done
                           if worlds[n]["metrics"][key]["ours"] is not None])
            met = None if not names else (value is not None and value <= target)
        else:
            values = [worlds[n]["metrics"][plan_metric(b)[0]]["ours"] for n in done for b in BUDGETS_IDR]
            value = None if not values or any(v is None for v in values) else min(values)
            met = None if not names else (value is not None and not failed and value >= target)
        out.append({"goal": key, "statement": statement, "target": target, "value": value, "met": met,
                    "worlds": list(names)})
    return out


# ---------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------
def run(worlds: Sequence[str], held_out: Sequence[str], workdir: Path, *, employees: int = EMPLOYEES,
        years: int = YEARS, fit_seed: int = FIT_SEED, feature_set: str | None = None,
        progress: Callable[[str], None] = say) -> dict[str, Any]:
    """Evaluate every world (a failing world is recorded and the others still run) and summarise the
    tuning and held-out groups separately."""
    worlds = list(dict.fromkeys(worlds))
    unknown = [w for w in held_out if w not in worlds]
    if unknown:
        raise ValueError(f"held-out world(s) not among the worlds to run: {', '.join(unknown)}")
    held = [w for w in worlds if w in set(held_out)]
    tuning = [w for w in worlds if w not in set(held)]
    budgets = budgets_for(employees)
    results: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    for i, world in enumerate(worlds):
        group = "held_out" if world in held else "tuning"
        progress(f"world {i + 1} of {len(worlds)}: {world} ({group.replace('_', '-')})")
        try:
            results[world] = evaluate_world(world, group, workdir, employees=employees, years=years,
                                            fit_seed=fit_seed, feature_set=feature_set, progress=progress)
        except Exception as exc:  # noqa: BLE001 - one failing world must not lose the others' figures
            message = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            failures.append(f"{world}: {message}")
            progress(f"{world} failed: {message}")
            results[world] = {"group": group, "error": message}
    every = tuning + held
    return {
        "what": ("per world: fit_predictor in-process, Predictor.score top 5, training.rec_eval metrics against "
                 "truth/effects.csv, forecast against truth/levels.csv, make_plan at three budgets against the "
                 f"oracle and random ({RANDOM_ORDERS} random orders); observable ceiling: LightGBM fit to the "
                 f"truth, {CEILING_FOLDS}-fold GroupKFold by employee"),
        "settings": {"employees": employees, "years": years, "budgets_idr": list(budgets), "fit_seed": fit_seed,
                     "feature_set": feature_set or DEFAULT_FEATURE_SET,
                     "beneficial_gain": BENEFICIAL_GAIN, "ceiling_folds": CEILING_FOLDS,
                     "random_orders": RANDOM_ORDERS},
        "tuning_worlds": tuning, "held_out_worlds": held,
        "worlds": results,
        "summary": {"tuning": summarise(results, tuning, budgets), "held_out": summarise(results, held, budgets)},
        "goals": {"held_out": goals(results, held), "tuning": goals(results, tuning),
                  "plan_value_every_world": goals(results, every)[-1]},
        "failures": failures,
    }


# ---------------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------------
def _cell(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _met(met: bool | None) -> str:
    return "not assessed (no world)" if met is None else ("**met**" if met else "**not met**")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows] + [""]


def markdown_body(report: dict[str, Any], level: int = 2) -> list[str]:
    """The report's tables (per world, per group, goals) under headings of `level`."""
    h = "#" * level
    settings = report["settings"]
    budgets = settings["budgets_idr"]
    specs = metric_specs(budgets)
    lines = [f"Settings: {settings['employees']:,} employees requested, {settings['years']} years per world; "
             f"budgets {', '.join(f'Rp {b / 1e6:,.0f} M' for b in budgets)}; fit seed {settings['fit_seed']}. "
             f"Tuning worlds (methods may be chosen on them): {', '.join(report['tuning_worlds']) or 'none'}; "
             f"held-out worlds (the acceptance is judged here): {', '.join(report['held_out_worlds']) or 'none'}.",
             "", "Ceiling: the same metric for a LightGBM fit to the world's true gains (true levels for the "
             "forecast) from the observable features, out of fold by employee; rule: the HR rule of thumb "
             "(largest current gap, cheapest in-band training), carry-forward (1.0) for the forecast.", ""]
    for name, world in report["worlds"].items():
        lines += [f"{h} World `{name}` ({world['group'].replace('_', '-')})", ""]
        if world.get("description"):
            lines += [f"{world['description'][0].upper()}{world['description'][1:]}.", ""]
        if "error" in world:
            lines += [f"**Failed:** {world['error']}", ""]
            continue
        s, d = world["seconds"], world["details"]
        lines += [f"Seed {world['seed']}, {world['active_employees']:,} active employees, "
                  f"{world['eligible_pairs']:,} eligible pairs. Wall time: fit {_cell(s['fit'], 1)} s, "
                  f"scoring {_cell(s['score'], 1)} s, whole world {_cell(s['total'], 0)} s "
                  f"(generate {_cell(s.get('generate'), 1)} s, ceiling {_cell(s['ceiling'], 1)} s, "
                  f"plans {_cell(s['plans'], 1)} s).", ""]
        rows = []
        for key, label, _ in specs:
            m = world["metrics"].get(key, {})
            rows.append([label, _cell(m.get("ours")), _cell(m.get("ceiling")), _cell(m.get("ours_over_ceiling")),
                         _cell(m.get("rule"))])
        lines += _table(["metric", "ours", "ceiling", "ours/ceiling", "rule"], rows)
        plan_bits = "; ".join(
            f"Rp {p['budget_idr'] / 1e6:,.0f} M: true {_cell(p['ours_true_value'], 1)} (promised "
            f"{_cell(p['ours_expected_gain'], 1)}), oracle {_cell(p['oracle_true_value'], 1)}, random "
            f"{_cell(p['random_true_value'], 1)}, {p['ours_status']}" for p in d["plans"])
        lines += [f"Popularity baseline: rank-1 {_cell(d['popularity_policy_value_top1'])}, top-3 "
                  f"{_cell(d['popularity_policy_value_top3'])}. Spearman over every eligible pair "
                  f"{_cell(d['spearman_eligible'])}; coverage {_cell(d['coverage'])}; eligibility agreement "
                  f"{_cell(d['eligibility_agreement'])}; missed {d['employees_missed']} of "
                  f"{d['employees_needing']} employees with a beneficial training (ceiling: "
                  f"{d['ceiling_employees_missed']}); forecast MAE {_cell(d['forecast_mae'])} vs carry-forward "
                  f"{_cell(d['carry_forward_mae'])} (ceiling {_cell(d['ceiling_forecast_mae'])}). Plans, total true "
                  f"gain: {plan_bits}.", ""]
    goal_sets = report["goals"]
    for group, title in (("tuning", "tuning worlds"), ("held_out", "held-out worlds")):
        summary = report["summary"][group]
        lines += [f"{h} Summary: {title} ({len(summary['evaluated'])} of {len(summary['worlds'])} evaluated)", ""]
        if not summary["worlds"]:
            lines += ["No world in this group.", ""]
            continue
        rows = []
        for key, label, _ in specs:
            m = summary["metrics"][key]
            rows.append([label, _cell(m["ours"]["mean"]), _cell(m["ceiling"]["mean"]),
                         _cell(m["ours_over_ceiling"]["mean"]), _cell(m["ours"]["worst"]),
                         _cell(m["ours_over_ceiling"]["worst"]), _cell(m["rule"]["mean"])])
        lines += _table(["metric", "mean ours", "mean ceiling", "mean ours/ceiling", "worst ours",
                         "worst ours/ceiling", "mean rule"], rows)
        goal_rows = [[g["statement"], _cell(g["value"]), _met(g["met"])] for g in goal_sets[group]]
        note = " (the acceptance)" if group == "held_out" else " (for information: methods were chosen here)"
        lines += [f"Goals on the {title}{note}:", ""]
        lines += _table(["goal", "figure", ""], goal_rows)
    every = goal_sets["plan_value_every_world"]
    lines += [f"Plan value on every world (tuning and held-out): worst {_cell(every['value'])} → "
              f"{_met(every['met'])}.", ""]
    if report.get("failures"):
        lines += ["Failures: " + "; ".join(report["failures"]), ""]
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = ["# Decision benchmark", "",
             f"Generated {m['date']} by `{report.get('command') or 'python -m benchmarks.bench_decisions'}` at "
             f"commit {m.get('git_commit')}{' (uncommitted changes)' if m.get('git_dirty') else ''}, sources "
             f"{m.get('source_sha256')}; {m['nproc']} cores ({m['cpu']}), load average at start "
             f"{m['load_average']}; {report['seconds']:,.0f} s in all.", ""]
    return "\n".join(lines + markdown_body(report)).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------------
def _names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Decision benchmark: recommendations, forecast and plans "
                                                 "against each world's truth and observable ceiling.")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where decisions.json and decisions.md go")
    parser.add_argument("--worlds", type=_names, default=None,
                        help=f"comma-separated worlds to run (default: {', '.join(TUNING_WORLDS + HELD_OUT_WORLDS)})")
    parser.add_argument("--held-out", type=_names, default=None,
                        help="which of them are held out (default: HELD_OUT_WORLDS that are run); the rest tune")
    parser.add_argument("--employees", type=int, default=EMPLOYEES)
    parser.add_argument("--years", type=int, default=YEARS)
    parser.add_argument("--fit-seed", type=int, default=FIT_SEED)
    parser.add_argument("--feature-set", choices=FEATURE_SETS, default=None,
                        help=f"the effect model's feature set (default {DEFAULT_FEATURE_SET}; engine.effects_base)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the generated exports here (reused next time); default a temporary folder")
    args = parser.parse_args(argv)
    worlds = args.worlds or list(TUNING_WORLDS + HELD_OUT_WORLDS)
    held_out = args.held_out if args.held_out is not None else [w for w in HELD_OUT_WORLDS if w in worlds]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kompetensi-decisions-"))
    workdir.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.bench_decisions " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    machine = machine_facts()
    say(f"decision benchmark: {len(worlds)} world(s), {args.employees:,} employees, {args.years} years; "
        f"{machine['nproc']} cores, load average {machine['load_average']}")
    started = time.perf_counter()
    try:
        report = run(worlds, held_out, workdir, employees=args.employees, years=args.years, fit_seed=args.fit_seed,
                     feature_set=args.feature_set)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    report = {"command": command.strip(), "machine": machine, "seconds": round(time.perf_counter() - started, 1),
              **report}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "decisions.json", report)
    (args.out / "decisions.md").write_text(render_markdown(report), encoding="utf-8")
    say(f"wrote {args.out / 'decisions.json'} and decisions.md in {report['seconds'] / 60:.1f} min")
    if report["failures"]:
        print(f"decision benchmark failed: {'; '.join(report['failures'])}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
