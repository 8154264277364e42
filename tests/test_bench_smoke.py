"""Smoke tests of `make bench` (benchmarks/): a quick planner-only run end to end, the merging of results
files, and the load generator and statistics the serving figures rest on; and the decision benchmark on one
small world (the only test here that trains a model: ~150 employees, 2 years, well under a minute)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from benchmarks import median, percentile, ratio
from benchmarks.bench_serving import Call, _comparisons, _goal, generate_load

ROOT = Path(__file__).resolve().parents[1]


def test_quick_planner_run_writes_json_and_markdown(tmp_path: Path) -> None:
    results = tmp_path / "results"
    done = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--only", "planner",
                           "--results-dir", str(results)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((results / "latest.json").read_text())
    assert report["quick"] is True
    assert report["machine"]["nproc"] >= 1 and report["machine"]["packages"]["pandas"]
    assert set(report["sections"]) == {"planner"}
    runs = report["sections"]["planner"]["runs"]
    assert [r["employees"] for r in runs] == [200] * 4  # three budgets and the jp-priority run
    assert all(r["objective"] >= r["greedy_objective"] - 1e-6 for r in runs)
    markdown = (results / "latest.md").read_text()
    assert "## Planner" in markdown and "| 200 | 1,000 |" in markdown
    assert "## Training" not in markdown  # only what was run (or kept) is shown


def test_only_keeps_other_sections_of_the_same_kind_of_run(tmp_path: Path) -> None:
    from benchmarks.run import run

    kept = {"measured_at": "2026-11-28T00:00:00+00:00", "seconds": 1.0, "sizes": [{
        "employees_requested": 300, "active_employees": 300, "training_pairs": 20000, "repeats": 1,
        "fit_seconds_median": 4.5, "cpu_seconds_median": 7.0, "rss_before_fit_mb_median": 270.0,
        "peak_rss_mb_median": 350.0, "fits": [{"fit_seconds": 4.5}]}]}
    (tmp_path / "latest.json").write_text(json.dumps({"quick": True, "sections": {"train": kept}}))
    report = run(["planner"], quick=True, results_dir=tmp_path, workdir=tmp_path / "work")
    assert report["failures"] == []
    on_disk = json.loads((tmp_path / "latest.json").read_text())
    assert on_disk["sections"]["train"] == kept
    assert on_disk["sections"]["planner"]["runs"]
    markdown = (tmp_path / "latest.md").read_text()
    assert "| 300 | 300 | 20,000 | 4.5 (1×: 4.5) |" in markdown

    # A full run's file is never merged with a quick run's figures.
    (tmp_path / "latest.json").write_text(json.dumps({"quick": False, "sections": {"train": kept}}))
    run(["planner"], quick=True, results_dir=tmp_path, workdir=tmp_path / "work")
    assert set(json.loads((tmp_path / "latest.json").read_text())["sections"]) == {"planner"}


DECISION_METRICS = (
    "policy_value_top1", "policy_value_top3", "spearman", "ndcg_at_5", "recall", "recall_hit",
    "forecast_mae_ratio", "plan_value_100m", "plan_value_500m", "plan_value_2000m",
)


def test_decision_benchmark_on_one_small_world(tmp_path: Path) -> None:
    out = tmp_path / "decisions"
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_decisions", "--out", str(out), "--worlds",
                           "default", "--employees", "150", "--years", "2", "--workdir", str(tmp_path / "work")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "default: fitted in" in done.stderr  # progress goes to stderr
    report = json.loads((out / "decisions.json").read_text())
    assert report["tuning_worlds"] == ["default"] and report["held_out_worlds"] == []
    world = report["worlds"]["default"]
    assert world["group"] == "tuning" and world["active_employees"] > 100
    assert set(world["metrics"]) == set(DECISION_METRICS)
    for key, figure in world["metrics"].items():
        for column in ("ours", "ceiling"):
            value = figure[column]
            assert value is not None and math.isfinite(value), (key, column)
            assert -1.0 <= value <= 1.5, (key, column, value)  # normalised values: 0 = chance, 1 = oracle
        assert figure["ours_over_ceiling"] is not None and figure["ours_over_ceiling"] > 0, key
    assert 0.0 < world["metrics"]["forecast_mae_ratio"]["ours"] and world["metrics"]["forecast_mae_ratio"]["rule"] == 1.0
    for key in ("recall", "recall_hit"):
        assert 0.0 <= world["metrics"][key]["ours"] <= 1.0
    assert world["seconds"]["fit"] > 0 and world["seconds"]["score"] > 0
    assert len(world["details"]["plans"]) == 3 and world["budgets_idr"] == [7_500_000, 37_500_000, 150_000_000]
    for plan in world["details"]["plans"]:
        assert plan["oracle_true_value"] >= plan["random_true_value"]
    tuning = report["summary"]["tuning"]["metrics"]["policy_value_top1"]["ours"]
    assert tuning["mean"] == tuning["worst"] == world["metrics"]["policy_value_top1"]["ours"]
    assert all(g["met"] is None for g in report["goals"]["held_out"])  # no held-out world: not assessed
    markdown = (out / "decisions.md").read_text()
    assert "## World `default` (tuning)" in markdown and "| rank-1 policy value |" in markdown


def test_statistics() -> None:
    values = [float(v) for v in range(1, 101)]
    for q in (0, 50, 90, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile([], 50) is None
    assert median([3.0, None, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0]) == 2.5
    assert median([None]) is None
    assert ratio(1.0, 4.0) == 0.25 and ratio(1.0, 0.0) is None and ratio(None, 1.0) is None


class _SlowHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the load generator expects

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.startswith("/missing"):
            self._answer(404, b"no")
            return
        time.sleep(0.005)
        self._answer(200, b"{}")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@contextmanager
def _server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_load_generator_counts_latency_and_errors() -> None:
    calls = [Call("GET", f"/ok/{i}") for i in range(40)] + [Call("GET", "/missing")] * 2
    with _server() as base:
        result = generate_load(base, calls, 4, deadline_s=30.0)
        bounded = generate_load(base, [Call("GET", "/ok")] * 10_000, 2, deadline_s=0.3)
    assert result["sent"] == 42 and result["ok"] == 40 and result["errors"] == 2
    assert result["first_error"].startswith("404")
    assert 5.0 <= result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    # 4 threads, each request ≥ 5 ms: at most ~800 requests/s can complete.
    assert 0 < result["requests_per_s"] <= 4 / 0.005
    assert bounded["sent"] < 10_000 and bounded["wall_seconds"] < 5.0  # the deadline stops a long run


def test_comparisons_are_per_round_ratios_and_the_goal_follows_them() -> None:
    def rounds(*p50s: float, rps: float = 10.0) -> list[dict[str, float]]:
        return [{"p50_ms": p, "p99_ms": 2 * p, "requests_per_s": rps} for p in p50s]

    results = {
        "ours/recommendations/c1": rounds(10.0, 30.0, 12.0), "mlflow/predict/c1": rounds(20.0, 20.0, 24.0),
        "ours/recommendations/c8": rounds(50.0, rps=40.0), "mlflow/predict/c8": rounds(60.0, rps=20.0),
    }
    comparisons = _comparisons(results)
    assert comparisons["recommendations_vs_mlflow_p50_c1"] == 0.5  # median of 0.5, 1.5, 0.5
    assert comparisons["recommendations_vs_mlflow_rps_c8"] == 2.0
    assert comparisons["gaps_vs_mlflow_p50_c1"] is None  # not measured
    assert _goal(comparisons)["met"] is True
    results["ours/recommendations/c8"] = rounds(50.0, rps=10.0)
    assert _goal(_comparisons(results))["met"] is False
