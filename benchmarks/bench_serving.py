"""Serving latency and throughput: our API against `mlflow models serve` of the same gap model, side by side.

The world is built with the real pipeline in a work folder (a child process with its own environment:
KOMPETENSI_DATA_DIR, KOMPETENSI_DB_URL, KOMPETENSI_MODELS_DIR, KOMPETENSI_API_KEYS_FILE and
MLFLOW_TRACKING_URI all point into it): ingest the export → `training.pipeline.train` (registers version
V in MLflow) → the registered bundle of V written as champion with `training.bundle.write_bundle_dir`
(`--promote` runs `pipeline.evaluate` + `pipeline.promote` instead: the gate's back-test costs minutes)
→ one reader key → a seeded sample of active employees and, per employee, the gap model's feature rows.

Three targets then run at the same time on loopback, each with OMP_NUM_THREADS=1:
- ours: ONE uvicorn worker of `serving.main.serve`: GET /v1/employees/{nip}/recommendations?limit=5 (ranked
  trainings with closes, reasons and evidence) and GET /v1/employees/{nip}/gaps (with explanations);
- mlflow: `mlflow models serve --env-manager local -m models:/asn-kompetensi/V` (1 worker): POST
  /invocations with {"dataframe_split": …} of one employee's feature rows — a bare prediction, no gaps,
  no intervals, no explanations;
- in-process (the floor): a process that calls `Predictor.recommend`, `Predictor.gaps` and the bare
  `predict` of the same rows directly, one call after another.
The load generator is Python (httpx, one keep-alive client per thread, a fixed number of requests per
configuration, bounded in time), at concurrency 1 and 8. Rounds interleave the targets (rotating their
order), so every ratio is measured side by side; figures are medians over the rounds. The load generator
shares the 2 cores with the server it measures, as every target does.

    .venv/bin/python -m benchmarks.bench_serving --export DIR --workdir /tmp/bench-serving --json OUT

The world and the in-process floor are in `benchmarks.serving_world`, the servers and the load generator in
`benchmarks.serving_load`; this module runs the rounds and compares.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from benchmarks import Progress, median, ratio, rounded, run_child, say, write_json
from benchmarks.serving_load import (
    DEADLINE_S,
    Call,
    free_port,
    generate_load,
    mlflow_server_argv,
    one_thread_env,
    our_server_argv,
    session_rss_mb,
    started,
)
from benchmarks.serving_world import (
    GAPS,
    PREDICT,
    RECOMMENDATIONS,
    SAMPLE_EMPLOYEES,
    WARMUP_REQUESTS,
    InProcess,
    build_world,
    inprocess_worker,
    world_env,
)

REQUESTS = {1: 300, 8: 600}  # requests per configuration, by concurrency (or fewer: DEADLINE_S)
ROUNDS = 3
OURS = "ours"
MLFLOW = "mlflow"
INPROCESS = "inprocess"
# (server, endpoint) pairs measured over HTTP, and the in-process calls (concurrency 1 only).
HTTP_TARGETS = ((OURS, RECOMMENDATIONS), (OURS, GAPS), (MLFLOW, PREDICT))
INPROCESS_TARGETS = (RECOMMENDATIONS, GAPS, PREDICT)


# ---------------------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------------------
def _calls(endpoint: str, nips: Sequence[str], payloads: dict[str, str]) -> list[Call]:
    if endpoint == RECOMMENDATIONS:
        return [Call("GET", f"/v1/employees/{nip}/recommendations?limit=5") for nip in nips]
    if endpoint == GAPS:
        return [Call("GET", f"/v1/employees/{nip}/gaps") for nip in nips]
    return [Call("POST", "/invocations", payloads[nip].encode()) for nip in nips]


def _nip_order(nips: Sequence[str], count: int, round_index: int) -> list[str]:
    """`count` nips cycling through the sample from an offset that moves each round."""
    offset = (round_index * 37) % len(nips)
    return [nips[(offset + i) % len(nips)] for i in range(count)]


def run(export_dir: Path, workdir: Path, *, rounds: int = ROUNDS, requests: dict[int, int] | None = None,
        sample: int = SAMPLE_EMPLOYEES, promote: bool = False, progress: Progress = say,
        deadline_s: float = DEADLINE_S) -> dict[str, Any]:
    """Build the world from `export_dir` under `workdir`, run the rounds, return the figures."""
    requests = dict(requests or REQUESTS)
    root = workdir / "serving-world"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    env = world_env(root)
    progress("serving: building the world (ingest → pipeline.train → champion bundle)")
    child = run_child("benchmarks.bench_serving", ["world", "--root", str(root), "--export", str(export_dir),
                                                    "--sample", str(sample), *(["--promote"] if promote else [])],
                      root / "world.json", env=env, timeout_s=3600.0)
    world = child.report
    nips: list[str] = world["nips"]
    payloads: dict[str, str] = json.loads((root / "payloads.json").read_text())
    auth = {"Authorization": f"Bearer {world['key']}"}
    served = one_thread_env(env)
    results: dict[str, list[dict[str, Any]]] = {}
    servers: dict[str, Any] = {}
    with ExitStack() as stack:
        progress("serving: starting our API (1 uvicorn worker) and `mlflow models serve` (1 worker)")
        ours = stack.enter_context(started(OURS, our_server_argv(port := free_port()), served, "/readyz", port,
                                           root / "ours.log"))
        mlflow = stack.enter_context(started(MLFLOW, mlflow_server_argv(world["model_uri"], port := free_port()),
                                             served, "/ping", port, root / "mlflow.log"))
        inprocess = InProcess(root / "world.json", served, root / "inprocess.log")
        stack.callback(inprocess.close)
        servers = {OURS: {"start_seconds": round(ours.start_seconds, 1)},
                   MLFLOW: {"start_seconds": round(mlflow.start_seconds, 1)},
                   INPROCESS: {"load_seconds": inprocess.ready.get("load_seconds")}}
        bases = {OURS: ours.base, MLFLOW: mlflow.base}
        _verify_same_model(mlflow.base, payloads, nips[0], root)
        for server, endpoint in HTTP_TARGETS:  # warm-up: the first requests build the snapshot's index
            calls = _calls(endpoint, nips[:WARMUP_REQUESTS], payloads)
            generate_load(bases[server], calls, 1, headers=auth, deadline_s=deadline_s)
            generate_load(bases[server], calls, 8, headers=auth, deadline_s=deadline_s)
        for r in range(rounds):
            targets: list[tuple[str, str]] = [*HTTP_TARGETS, (INPROCESS, "")]
            targets = targets[r % len(targets):] + targets[:r % len(targets)]  # rotate the order each round
            for server, endpoint in targets:
                for concurrency in (1, 8):
                    order = _nip_order(nips, requests[concurrency], r)
                    if server == INPROCESS:
                        if concurrency != 1:
                            continue
                        for what in INPROCESS_TARGETS:
                            measured = inprocess.measure(what, order, deadline_s)
                            results.setdefault(f"{INPROCESS}/{what}/c1", []).append(measured)
                        continue
                    measured = generate_load(bases[server], _calls(str(endpoint), order, payloads), concurrency,
                                             headers=auth, deadline_s=deadline_s)
                    key = f"{server}/{endpoint}/c{concurrency}"
                    results.setdefault(key, []).append(measured)
                    progress(f"serving round {r + 1}/{rounds}: {key}: p50 {measured['p50_ms']} ms, "
                             f"p99 {measured['p99_ms']} ms, {measured['requests_per_s']} req/s"
                             + (f", {measured['errors']} errors: {measured['first_error']}"
                                if measured["errors"] else ""))
            progress(f"serving round {r + 1}/{rounds}: in-process p50 " + ", ".join(
                f"{w} {m['p50_ms']} ms" + (f" ({m['errors']} errors: {m['first_error']})" if m["errors"] else "")
                for w in INPROCESS_TARGETS for m in [results[f"{INPROCESS}/{w}/c1"][-1]]))
        servers[OURS]["rss_mb_after"] = session_rss_mb(ours.process.pid)
        servers[MLFLOW]["rss_mb_after"] = session_rss_mb(mlflow.process.pid)
        servers[INPROCESS]["rss_mb_after"] = session_rss_mb(inprocess.process.pid)
    table = {key: _medians(rounds_) for key, rounds_ in results.items()}
    comparisons = _comparisons(results)
    goal = _goal(comparisons)
    world_public = {k: v for k, v in world.items() if k not in ("key", "nips")}
    return {
        "what": "p50/p99 latency and requests/s over loopback, Python httpx load generator (keep-alive, one "
                "client per thread); medians over interleaved rounds; OMP_NUM_THREADS=1 in every target",
        "world": {**world_public, "sampled_employees": len(nips), "world_seconds": round(child.seconds, 1)},
        "rounds": rounds, "requests": {f"c{c}": n for c, n in requests.items()}, "deadline_s": deadline_s,
        "servers": servers, "medians": table, "comparisons": comparisons, "goal": goal, "rounds_detail": results,
    }


def _verify_same_model(mlflow_base: str, payloads: dict[str, str], nip: str, root: Path) -> None:
    """MLflow must answer the payload with one prediction per row, or the comparison is meaningless."""
    body = payloads[nip]
    response = httpx.post(mlflow_base + "/invocations", content=body.encode(),
                          headers={"Content-Type": "application/json"}, timeout=60)
    rows = len(json.loads(body)["dataframe_split"]["data"])
    predictions = response.json().get("predictions") if response.status_code == 200 else None
    if not isinstance(predictions, list) or len(predictions) != rows:
        raise RuntimeError(f"mlflow answered {response.status_code} {response.text[:300]} for {rows} rows "
                           f"(log: {root / 'mlflow.log'})")


def _medians(rounds_: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "requests_per_s")
    first_error = next((r["first_error"] for r in rounds_ if r.get("first_error")), None)
    return {**{k: rounded(median([r[k] for r in rounds_])) for k in keys},
            "ok": sum(r["ok"] for r in rounds_), "errors": sum(r["errors"] for r in rounds_),
            **({"first_error": first_error} if first_error else {})}


def _per_round_ratio(results: dict[str, list[dict[str, Any]]], a: str, b: str, field: str) -> float | None:
    """The median over rounds of a[field] / b[field], each ratio within one round (side by side)."""
    pairs = zip(results.get(a, []), results.get(b, []), strict=False)
    return rounded(median([ratio(x[field], y[field], 6) for x, y in pairs]))


def _comparisons(results: dict[str, list[dict[str, Any]]]) -> dict[str, float | None]:
    recs, gaps, bare = f"{OURS}/{RECOMMENDATIONS}", f"{OURS}/{GAPS}", f"{MLFLOW}/{PREDICT}"
    out: dict[str, float | None] = {}
    for name, ours in (("recommendations", recs), ("gaps", gaps)):
        out[f"{name}_vs_mlflow_p50_c1"] = _per_round_ratio(results, f"{ours}/c1", f"{bare}/c1", "p50_ms")
        out[f"{name}_vs_mlflow_p99_c1"] = _per_round_ratio(results, f"{ours}/c1", f"{bare}/c1", "p99_ms")
        out[f"{name}_vs_mlflow_p50_c8"] = _per_round_ratio(results, f"{ours}/c8", f"{bare}/c8", "p50_ms")
        out[f"{name}_vs_mlflow_rps_c8"] = _per_round_ratio(results, f"{ours}/c8", f"{bare}/c8", "requests_per_s")
        out[f"{name}_http_vs_inprocess_p50_c1"] = _per_round_ratio(
            results, f"{ours}/c1", f"{INPROCESS}/{name}/c1", "p50_ms")
    out["mlflow_http_vs_inprocess_predict_p50_c1"] = _per_round_ratio(
        results, f"{bare}/c1", f"{INPROCESS}/{PREDICT}/c1", "p50_ms")
    return out


def _goal(comparisons: dict[str, float | None]) -> dict[str, Any]:
    """Issue 5: our full recommendation (with explanations) at least as fast as MLflow's bare prediction."""
    p50 = comparisons.get("recommendations_vs_mlflow_p50_c1")
    p99 = comparisons.get("recommendations_vs_mlflow_p99_c1")
    rps = comparisons.get("recommendations_vs_mlflow_rps_c8")
    checks = {"p50_c1_not_slower": p50 is not None and p50 <= 1.0,
              "p99_c1_not_slower": p99 is not None and p99 <= 1.0,
              "throughput_c8_not_lower": rps is not None and rps >= 1.0}
    return {"statement": "GET …/recommendations?limit=5 (with explanations) vs POST /invocations (bare "
                         "prediction of the same employee's rows)", **checks, "met": all(checks.values())}


# ---------------------------------------------------------------------------------------------------
# CLI (the world and in-process children, or a standalone run)
# ---------------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serving benchmark: ours vs mlflow models serve vs in-process.")
    sub = parser.add_subparsers(dest="command")
    world = sub.add_parser("world", help="(child) build the world under --root")
    world.add_argument("--root", type=Path, required=True)
    world.add_argument("--export", type=Path, required=True)
    world.add_argument("--sample", type=int, default=SAMPLE_EMPLOYEES)
    world.add_argument("--promote", action="store_true")
    world.add_argument("--json", type=Path, required=True)
    worker = sub.add_parser("inprocess", help="(child) the in-process worker")
    worker.add_argument("--world", type=Path, required=True)
    bench = sub.add_parser("run", help="build a world from --export and measure")
    bench.add_argument("--export", type=Path, required=True)
    bench.add_argument("--workdir", type=Path, required=True)
    bench.add_argument("--rounds", type=int, default=ROUNDS)
    bench.add_argument("--promote", action="store_true", help="evaluate + promote through the gate")
    bench.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "world":
        build_world(args.root, args.export, args.json, promote=args.promote, sample=args.sample)
    elif args.command == "inprocess":
        inprocess_worker(args.world)
    elif args.command == "run":
        write_json(args.json, run(args.export, args.workdir, rounds=args.rounds, promote=args.promote))
    else:
        parser.print_help()


if __name__ == "__main__":
    main()
