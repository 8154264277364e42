"""`make bench`: run the benchmarks and write benchmarks/results/latest.json and latest.md.

Sections (in this order; `--only` picks some): `train` (fit time and peak RSS at 1k, 6k, 30k employees),
`score` (batch scoring rows/s at 6k and 30k), `serving` (our API vs `mlflow models serve` vs in-process
at 6k, concurrency 1 and 8), `planner` (`benchmarks.bench_planner` at 1k, 6k, 30k) and `decisions`
(`benchmarks.bench_decisions`: recommendations, forecast and plans against each world's truth and its
observable ceiling, 2,000 employees per world; `make bench-decisions` runs it alone into
benchmarks/results/decisions/). Exports, fitted predictors and the serving world live in a work folder (a
temporary one unless `--workdir` is given, which is then kept and reused). `--quick` is a small smoke run
(300 employees) that writes to var/bench/quick/ unless `--results-dir` says otherwise, so it never
overwrites the committed figures.
With `--only`, the other sections of an existing latest.json are kept (each records when it was measured).

    .venv/bin/python -m benchmarks.run                      # the full suite, ~20-25 min on 2 cores
    .venv/bin/python -m benchmarks.run --quick --only planner --results-dir /tmp/bench
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import PROJECT_ROOT, machine_facts, say, source_fingerprint, write_json

SECTIONS = ("train", "score", "serving", "planner", "decisions")
RESULTS_DIR = PROJECT_ROOT / "benchmarks" / "results"
QUICK_RESULTS_DIR = PROJECT_ROOT / "var" / "bench" / "quick"


@dataclass(frozen=True)
class Plan:
    """Sizes and repeat counts of one run (full or quick)."""

    train_sizes: tuple[int, ...]
    train_repeats: dict[int, int]
    score_sizes: tuple[int, ...]
    score_repeats: dict[int, int]
    serving_employees: int
    serving_rounds: int
    serving_requests: dict[int, int]
    serving_deadline_s: float
    serving_sample: int
    planner_sizes: tuple[int, ...]
    planner_time_limit_s: float
    timeouts_s: dict[str, float] = field(default_factory=dict)
    decisions_employees: int = 2000
    decisions_years: int = 5
    decisions_worlds: tuple[str, ...] | None = None  # None: bench_decisions' tuning and held-out worlds


# 30k is fitted and scored once: one fit takes minutes, and `make bench` must stay under ~25 minutes.
FULL = Plan(train_sizes=(1000, 6000, 30000), train_repeats={1000: 3, 6000: 3, 30000: 1},
            score_sizes=(6000, 30000), score_repeats={6000: 3, 30000: 1},
            serving_employees=6000, serving_rounds=3, serving_requests={1: 300, 8: 600},
            serving_deadline_s=12.0, serving_sample=200,
            planner_sizes=(1000, 6000, 30000), planner_time_limit_s=30.0)
QUICK = Plan(train_sizes=(300,), train_repeats={300: 1}, score_sizes=(300,), score_repeats={300: 1},
             serving_employees=300, serving_rounds=1, serving_requests={1: 20, 8: 40},
             serving_deadline_s=5.0, serving_sample=30,
             planner_sizes=(200,), planner_time_limit_s=10.0,
             decisions_employees=300, decisions_years=3, decisions_worlds=("default",))


def _train(plan: Plan, workdir: Path, promote: bool) -> dict[str, Any]:
    from benchmarks import bench_train

    return bench_train.run(plan.train_sizes, workdir, repeats=plan.train_repeats)


def _score(plan: Plan, workdir: Path, promote: bool) -> dict[str, Any]:
    from benchmarks import bench_score, bench_train

    for n in plan.score_sizes:  # a predictor per size: from the train section, or fitted once here
        bench_train.ensure_predictor(workdir, n)
    return bench_score.run(plan.score_sizes, workdir, repeats=plan.score_repeats)


def _serving(plan: Plan, workdir: Path, promote: bool) -> dict[str, Any]:
    from benchmarks import bench_serving, bench_train

    folder, _ = bench_train.ensure_export(workdir, plan.serving_employees)
    return bench_serving.run(folder, workdir, rounds=plan.serving_rounds, requests=plan.serving_requests,
                             sample=plan.serving_sample, promote=promote, deadline_s=plan.serving_deadline_s)


def _planner(plan: Plan, workdir: Path, promote: bool) -> dict[str, Any]:
    from benchmarks import bench_planner

    report = bench_planner.run(plan.planner_sizes, workdir / "planner.json", time_limit_s=plan.planner_time_limit_s)
    what = (f"benchmarks.bench_planner.run: synthetic candidate tables ({bench_planner.CANDIDATES_PER_EMPLOYEE} "
            f"trainings per employee), three budgets and a jp_priority run, {plan.planner_time_limit_s:.0f} s "
            "time limit per solve")
    return {"what": what, **report}


def _decisions(plan: Plan, workdir: Path, promote: bool) -> dict[str, Any]:
    # Imported here, like the other sections' modules: a run pays only for the sections it runs.
    from benchmarks import bench_decisions

    worlds = plan.decisions_worlds or bench_decisions.TUNING_WORLDS + bench_decisions.HELD_OUT_WORLDS
    held_out = [w for w in bench_decisions.HELD_OUT_WORLDS if w in worlds]
    report = bench_decisions.run(worlds, held_out, workdir / "decisions", employees=plan.decisions_employees,
                                 years=plan.decisions_years)
    if report["failures"]:  # the other worlds' figures stay; the section is marked failed
        report["error"] = "; ".join(report["failures"])
    return report


RUNNERS: dict[str, Callable[[Plan, Path, bool], dict[str, Any]]] = {
    "train": _train, "score": _score, "serving": _serving, "planner": _planner, "decisions": _decisions,
}


def run(sections: Sequence[str], *, quick: bool, results_dir: Path, workdir: Path, promote: bool = False,
        command: str = "") -> dict[str, Any]:
    """Run `sections`, merge them into results_dir/latest.json (other sections kept), write latest.md."""
    plan = QUICK if quick else FULL
    results_file = results_dir / "latest.json"
    previous: dict[str, Any] = {}
    if results_file.is_file():
        try:
            previous = json.loads(results_file.read_text())
        except ValueError:
            previous = {}
    if bool(previous.get("quick")) != quick:
        previous = {}  # never mix a smoke run's figures with a full run's
    machine = machine_facts()
    say(f"{'quick' if quick else 'full'} run of {', '.join(sections)} on {machine['nproc']} cores "
        f"(load average {machine['load_average']}); work folder {workdir}")
    report: dict[str, Any] = {
        "quick": quick, "generated_at": machine["date"], "command": command, "machine": machine,
        "sections": dict(previous.get("sections", {})),
    }
    failures: list[str] = []
    for name in sections:
        say(f"── {name} ──")
        started = time.perf_counter()
        measured_at = datetime.now(UTC).isoformat(timespec="seconds")
        source = source_fingerprint()
        try:
            body = RUNNERS[name](plan, workdir, promote)
        except Exception as exc:  # noqa: BLE001 - one failing section must not lose the others' figures
            failures.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            say(f"{name} failed: {failures[-1]}")
            body = {"error": failures[-1]}
        seconds = time.perf_counter() - started
        after = machine_facts()
        report["sections"][name] = {"measured_at": measured_at, "seconds": round(seconds, 1), "command": command,
                                    "git_commit": after["git_commit"], "source_sha256": source,
                                    "source_changed_during": after["source_sha256"] != source,
                                    "load_average_after": after["load_average"], **body}
        say(f"{name} done in {seconds / 60:.1f} min")
        # After every section: a late failure keeps the earlier figures.
        write_json(results_file, report)
        (results_dir / "latest.md").write_text(render_markdown(report), encoding="utf-8")
    report["failures"] = failures
    return report


# ---------------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------------
def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _section_head(name: str, title: str, body: dict[str, Any]) -> list[str]:
    changed = " — **the sources changed while it ran**" if body.get("source_changed_during") else ""
    lines = [f"## {title}", "", f"Measured {body.get('measured_at', '?')} in {_fmt(body.get('seconds'))} s "
             f"(load average after: {body.get('load_average_after')}) on commit {body.get('git_commit')}, "
             f"sources {body.get('source_sha256')}{changed}.", ""]
    if body.get("error"):
        lines += [f"**Failed:** {body['error']}", ""]
    if body.get("what"):
        lines += [f"What: {body['what']}.", ""]
    return lines


def _train_md(body: dict[str, Any]) -> list[str]:
    rows = [[_fmt(r["employees_requested"]), _fmt(r["active_employees"]), _fmt(r["training_pairs"]),
             f"{_fmt(r['fit_seconds_median'])} ({r['repeats']}×: "
             + ", ".join(_fmt(f["fit_seconds"]) for f in r["fits"]) + ")",
             _fmt(r["cpu_seconds_median"]), _fmt(r["rss_before_fit_mb_median"], 0), _fmt(r["peak_rss_mb_median"], 0)]
            for r in body.get("sizes", [])]
    return _table(["employees requested", "active", "training pairs", "fit s, median (each)", "CPU s (process)",
                   "RSS before fit MB", "peak RSS MB"], rows)


def _score_md(body: dict[str, Any]) -> list[str]:
    rows = [[_fmt(r["employees"]), _fmt(r["gap_rows"]), _fmt(r["recommendation_rows"]),
             f"{_fmt(r['seconds_median'])} ({r['repeats']}×)", _fmt(r["gap_rows_per_s_median"], 0),
             _fmt(r["recommendation_rows_per_s_median"], 0), _fmt(r["employees_per_s_median"], 0),
             _fmt(r["peak_rss_mb_median"], 0)] for r in body.get("sizes", [])]
    return _table(["active employees", "gap rows", "recommendation rows", "seconds, median", "gap rows/s",
                   "recommendation rows/s", "employees/s", "peak RSS MB"], rows)


SERVING_LABELS = {
    "ours/recommendations": "ours: GET …/recommendations?limit=5 (with explanations)",
    "ours/gaps": "ours: GET …/gaps (with explanations)",
    "mlflow/predict": "mlflow models serve: POST /invocations (bare prediction)",
    "inprocess/recommendations": "in-process Predictor.recommend",
    "inprocess/gaps": "in-process Predictor.gaps",
    "inprocess/predict": "in-process bare predict (same rows)",
}


COMPARISON_LABELS = {
    f"{name}_vs_mlflow_{stat}_{c}": f"ours {name} / mlflow bare prediction: {label}"
    for name in ("recommendations", "gaps")
    for stat, c, label in (("p50", "c1", "p50 at c=1"), ("p99", "c1", "p99 at c=1"), ("p50", "c8", "p50 at c=8"),
                           ("rps", "c8", "requests/s at c=8"))
} | {
    "recommendations_http_vs_inprocess_p50_c1": "ours recommendations over HTTP / in-process: p50 at c=1",
    "gaps_http_vs_inprocess_p50_c1": "ours gaps over HTTP / in-process: p50 at c=1",
    "mlflow_http_vs_inprocess_predict_p50_c1": "mlflow over HTTP / in-process bare predict: p50 at c=1",
}


def _serving_md(body: dict[str, Any]) -> list[str]:
    if "medians" not in body:
        return []
    world = body.get("world", {})
    requests = ", ".join(f"{n} requests at c={c.removeprefix('c')}" for c, n in body.get("requests", {}).items())
    lines = [f"World: {_fmt(world.get('active_employees'))} active employees, model version "
             f"{world.get('version')} ({world.get('champion_by')}); {world.get('feature_rows_per_employee')} "
             f"feature rows × {world.get('features')} features per bare prediction; {body.get('rounds')} "
             f"interleaved rounds, each configuration {requests} or {body.get('deadline_s')} s, whichever "
             "comes first.", ""]
    rows = []
    for key, label in SERVING_LABELS.items():
        for c in (1, 8):
            m = body["medians"].get(f"{key}/c{c}")
            if m:
                rows.append([label, c, _fmt(m["p50_ms"], 2), _fmt(m["p99_ms"], 2), _fmt(m["requests_per_s"]),
                             _fmt(m["errors"])])
    lines += _table(["target", "concurrency", "p50 ms", "p99 ms", "requests/s", "errors"], rows)
    failed = [(k, m) for k, m in body["medians"].items() if m.get("errors")]
    if failed:
        lines += [f"- errors in {k}: {m['errors']}, the first: `{m.get('first_error', '?')}`" for k, m in failed]
        lines += [""]
    lines += _table(["comparison: ratio of the two, within each round; median over rounds", "ratio"],
                    [[COMPARISON_LABELS.get(k, k), _fmt(v, 3)] for k, v in body.get("comparisons", {}).items()])
    goal = body.get("goal", {})
    lines += [f"**Goal** ({goal.get('statement')}): p50 at c=1 not slower: {_fmt(goal.get('p50_c1_not_slower'))}; "
              f"p99 at c=1 not slower: {_fmt(goal.get('p99_c1_not_slower'))}; throughput at c=8 not lower: "
              f"{_fmt(goal.get('throughput_c8_not_lower'))} → **{'met' if goal.get('met') else 'not met'}**.", ""]
    servers = body.get("servers", {})
    lines += [f"Start-up: ours {_fmt(servers.get('ours', {}).get('start_seconds'))} s, mlflow "
              f"{_fmt(servers.get('mlflow', {}).get('start_seconds'))} s. RSS after the run: ours "
              f"{_fmt(servers.get('ours', {}).get('rss_mb_after'), 0)} MB, mlflow "
              f"{_fmt(servers.get('mlflow', {}).get('rss_mb_after'), 0)} MB (all its processes).", ""]
    return lines


def _planner_md(body: dict[str, Any]) -> list[str]:
    rows = [[_fmt(r["employees"]), _fmt(r["candidates"]), f"{r['budget_idr'] / 1e9:,.2f}",
             "yes" if r.get("jp_priority") else "", r["status"], _fmt(r["solve_seconds"], 2),
             "—" if r["optimality_gap"] is None else f"{r['optimality_gap']:.1e}", _fmt(r["objective"], 1),
             _fmt(r["greedy_objective"], 1), _fmt(r["gain_over_greedy_pct"], 1)] for r in body.get("runs", [])]
    return _table(["employees", "candidates", "budget Rp bn", "jp priority", "status", "solve s", "gap",
                   "expected gain", "greedy", "+% over greedy"], rows)


def _decisions_md(body: dict[str, Any]) -> list[str]:
    if "worlds" not in body:
        return []
    # Imported here, like the runners' modules: only a results file holding this section pays for it.
    from benchmarks.bench_decisions import markdown_body

    return markdown_body(body, level=3)


RENDERERS = {"train": ("Training: `fit_predictor`", _train_md), "score": ("Batch scoring: `Predictor.score`", _score_md),
             "serving": ("Serving: ours vs `mlflow models serve` vs in-process", _serving_md),
             "planner": ("Planner: `optimise_plan` vs greedy", _planner_md),
             "decisions": ("Decisions: recommendations, forecast and plans against the truth", _decisions_md)}


def render_markdown(report: dict[str, Any]) -> str:
    """latest.md: the figures of latest.json as tables, with the machine they were measured on."""
    m = report["machine"]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    lines = ["# Benchmark results" + (" (quick smoke run)" if report.get("quick") else ""), "",
             f"Generated {report['generated_at']} by `{report.get('command') or 'python -m benchmarks.run'}` at "
             f"commit {m.get('git_commit')}{' (uncommitted changes)' if m.get('git_dirty') else ''}.", "",
             f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']}, {m['platform']}; "
             f"load average at start {m['load_average']}. Medians over repeats; the machine is shared and noisy.", "",
             f"Packages: {packages}.", ""]
    for name in SECTIONS:
        body = report["sections"].get(name)
        if body is None:
            continue
        title, render = RENDERERS[name]
        lines += _section_head(name, title, body)
        lines += render(body)
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the benchmarks and write latest.json and latest.md.")
    parser.add_argument("--quick", action="store_true", help="a small smoke run (300 employees, few requests)")
    parser.add_argument("--only", action="append", choices=SECTIONS, default=None,
                        help="run only this section (repeatable); the others in latest.json are kept")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help=f"where latest.json/latest.md go (default {RESULTS_DIR.relative_to(PROJECT_ROOT)}, "
                             f"or {QUICK_RESULTS_DIR.relative_to(PROJECT_ROOT)} with --quick)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep exports, predictors and the serving world here (reused next time)")
    parser.add_argument("--promote", action="store_true",
                        help="serving world: evaluate + promote through the gate instead of writing the bundle")
    args = parser.parse_args(argv)
    sections = [s for s in SECTIONS if s in set(args.only or SECTIONS)]
    results_dir = args.results_dir or (QUICK_RESULTS_DIR if args.quick else RESULTS_DIR)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kompetensi-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.run" + ("" if argv is None and len(sys.argv) <= 1 else
                                             " " + shlex.join(sys.argv[1:] if argv is None else list(argv)))
    started = time.perf_counter()
    try:
        report = run(sections, quick=args.quick, results_dir=results_dir, workdir=workdir, promote=args.promote,
                     command=command)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    say(f"wrote {results_dir / 'latest.json'} and latest.md in {(time.perf_counter() - started) / 60:.1f} min")
    if report["failures"]:
        print(f"benchmark failed: {'; '.join(report['failures'])}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
