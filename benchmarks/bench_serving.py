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
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import (
    PROJECT_ROOT,
    Progress,
    median,
    percentile,
    ratio,
    rounded,
    run_child,
    say,
    write_json,
)

SAMPLE_SEED = 20261128
SAMPLE_EMPLOYEES = 200
REQUESTS = {1: 300, 8: 600}  # requests per configuration, by concurrency …
DEADLINE_S = 12.0  # … or fewer: a configuration stops after this long (our slow endpoints reach this first)
ROUNDS = 3
START_TIMEOUT_S = 300.0
WARMUP_REQUESTS = 16
RECOMMENDATIONS = "recommendations"
GAPS = "gaps"
PREDICT = "predict"
OURS = "ours"
MLFLOW = "mlflow"
INPROCESS = "inprocess"
# (server, endpoint) pairs measured over HTTP, and the in-process calls (concurrency 1 only).
HTTP_TARGETS = ((OURS, RECOMMENDATIONS), (OURS, GAPS), (MLFLOW, PREDICT))
INPROCESS_TARGETS = (RECOMMENDATIONS, GAPS, PREDICT)
REGISTERED_MODEL = "asn-kompetensi"  # training.registry.REGISTERED_MODEL (not imported: mlflow at import)


# ---------------------------------------------------------------------------------------------------
# The world
# ---------------------------------------------------------------------------------------------------
def world_env(root: Path) -> dict[str, str]:
    """The environment of every process of the world: everything lives under `root`."""
    data = root / "data"
    return {
        **os.environ,
        "KOMPETENSI_DATA_DIR": str(data),
        "KOMPETENSI_DB_URL": f"sqlite:///{data / 'store.db'}",
        "KOMPETENSI_MODELS_DIR": str(root / "models"),
        "KOMPETENSI_API_KEYS_FILE": str(root / "keys.json"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{data / 'mlflow.db'}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MPLCONFIGDIR": str(data / ".matplotlib"),
        "KOMPETENSI_POLL_SECONDS": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def feature_frames(predictor: Any, export: Any, nips: Sequence[str]) -> dict[str, Any]:
    """Per nip, the gap model's input rows for the competencies the employee's position requires.

    Built as `training.pipeline.train` builds the registered model's input example; nullable integer
    columns become float64, as the registered signature declares them (`registry._nullable_ints_as_float`).
    """
    import pandas as pd

    from features.pit import PitIndex, build_features, prediction_queries

    index = PitIndex.build(export.without_protected())
    queries = prediction_queries(index, export.exported_on, nips=list(nips))
    features = build_features(index, queries)[list(predictor.gap_model.feature_names_in_)]
    ints = [c for c in features.columns if isinstance(features[c].dtype, pd.api.extensions.ExtensionDtype)
            and pd.api.types.is_integer_dtype(features[c].dtype)]
    features = features.astype(dict.fromkeys(ints, "float64")) if ints else features
    by_nip = queries["nip"].astype(str).to_numpy()
    return {nip: features[by_nip == nip].reset_index(drop=True) for nip in dict.fromkeys(nips)}


def _build_world(root: Path, export_dir: Path, out: Path, *, promote: bool, sample: int) -> None:
    """(A child with `world_env(root)`.) ingest → train → champion bundle → key → sample and payloads."""
    import numpy as np

    from features.ingest import ingest_export
    from serving.bundle import load_champion
    from serving.keys import create_key
    from training import pipeline, registry

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    ingested = ingest_export(export_dir, progress=say)
    seconds["ingest"] = time.perf_counter() - started
    say(f"serving world: {ingested}")
    started = time.perf_counter()
    trained = pipeline.train(progress=lambda m: say(f"train: {m}"))
    seconds["train"] = time.perf_counter() - started
    version = trained.version
    started = time.perf_counter()
    how = "registry.load_bundle + training.bundle.write_bundle_dir (no gate)"
    if promote:
        pipeline.evaluate(version=version, truth_dir=export_dir / "truth", progress=lambda m: say(f"evaluate: {m}"))
        seconds["evaluate"] = time.perf_counter() - started
        started = time.perf_counter()
        try:
            pipeline.promote(version=version)
            how = "pipeline.evaluate + pipeline.promote"
        except registry.PromotionRefused as exc:  # measure the model anyway, and say the gate refused it
            how += f"; the gate refused it: {exc}"
            say(f"promotion refused ({exc}): writing the bundle without the gate")
    if not how.startswith("pipeline."):
        from features.settings import get_settings
        from training.bundle import write_bundle_dir

        _, bundle = registry.load_bundle(version)
        write_bundle_dir(bundle, get_settings().models_dir, version=version, manifest_extra={
            "as_of": bundle.metadata.get("as_of"), "metrics": {}, "registered_model": REGISTERED_MODEL,
            "model_uri": f"models:/{REGISTERED_MODEL}/{version}", "run_id": trained.run_id,
            "note": "written by benchmarks.bench_serving without the promotion gate"})
    seconds["champion"] = time.perf_counter() - started
    _, secret = create_key("reader", label="bench")

    export = pipeline.load_current_export()
    predictor = load_champion().bundle  # what the server will serve
    employees = export["employees"]
    active = sorted(str(n) for n in employees.loc[employees["status"] == "aktif", "nip"])
    rng = np.random.default_rng(SAMPLE_SEED)
    nips = [str(n) for n in rng.choice(active, size=min(sample, len(active)), replace=False)]
    frames = feature_frames(predictor, export, nips)
    payloads = {nip: '{"dataframe_split": ' + frame.to_json(orient="split", index=False) + "}"
                for nip, frame in frames.items()}
    (root / "payloads.json").write_text(json.dumps(payloads))
    write_json(out, {
        "version": version, "model_uri": f"models:/{REGISTERED_MODEL}/{version}", "champion_by": how,
        "employees": int(len(employees)), "active_employees": len(active), "nips": nips,
        "feature_rows_per_employee": rounded(float(np.mean([len(f) for f in frames.values()])), 2),
        "features": int(frames[nips[0]].shape[1]), "key": secret,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    })


# ---------------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def session_rss_mb(session_id: int) -> float | None:
    """Total RSS of the processes in a session (a server and the workers it spawned), Linux only."""
    total_kb, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) != session_id:  # fields after the command: state ppid pgrp session …
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    found = True
        except (OSError, IndexError, ValueError):
            continue
    return round(total_kb / 1024.0, 1) if found else None


@dataclass
class Server:
    name: str
    base: str
    process: subprocess.Popen[bytes]
    start_seconds: float


@contextmanager
def started(name: str, argv: Sequence[str], env: dict[str, str], ready_path: str, port: int, log: Path,
            timeout_s: float = START_TIMEOUT_S) -> Iterator[Server]:
    """Start a server in its own session, wait for `ready_path` to answer 200, stop the session after."""
    import httpx

    base = f"http://127.0.0.1:{port}"
    began = time.perf_counter()
    with log.open("wb") as sink:
        process = subprocess.Popen(list(argv), env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(base + ready_path, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} did not become ready on port {port}:\n{tail}")
            time.sleep(0.25)
        yield Server(name, base, process, time.perf_counter() - began)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's session (its own process group: uvicorn and mlflow spawn workers), then KILL."""
    for sig, wait_s in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def our_server_argv(port: int) -> list[str]:
    code = "import sys; from serving.main import serve; serve('127.0.0.1', int(sys.argv[1]), log_level='warning')"
    return [sys.executable, "-c", code, str(port)]


def mlflow_server_argv(model_uri: str, port: int) -> list[str]:
    return [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "--env-manager", "local",
            "-m", model_uri, "-h", "127.0.0.1", "-p", str(port), "-w", "1"]


def one_thread_env(env: dict[str, str]) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**env, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PATH": bin_dir + os.pathsep + env.get("PATH", "")}


# ---------------------------------------------------------------------------------------------------
# Load generator
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: bytes | None = None


def summarise(latencies_s: Sequence[float], wall_s: float, errors: int, sent: int) -> dict[str, Any]:
    """p50/p90/p99/mean/max latency in ms and completed requests per second of one configuration."""
    ms = [x * 1000.0 for x in latencies_s]
    return {
        "sent": sent, "ok": len(ms), "errors": errors, "wall_seconds": round(wall_s, 3),
        "requests_per_s": rounded(len(ms) / wall_s if wall_s > 0 else None, 2),
        "p50_ms": rounded(percentile(ms, 50)), "p90_ms": rounded(percentile(ms, 90)),
        "p99_ms": rounded(percentile(ms, 99)), "mean_ms": rounded(sum(ms) / len(ms) if ms else None),
        "max_ms": rounded(max(ms) if ms else None),
    }


def generate_load(base: str, calls: Sequence[Call], concurrency: int, *, headers: dict[str, str] | None = None,
                  deadline_s: float = DEADLINE_S) -> dict[str, Any]:
    """Send `calls` (each once, in order of availability) from `concurrency` threads with keep-alive clients.

    Stops early after `deadline_s`. A response counts as ok when it is 200 (bodies are not parsed: the
    client's cost stays the same for every target); latencies of ok responses only.
    """
    import httpx

    lock = threading.Lock()
    next_index = [0]
    latencies: list[float] = []
    errors: list[str] = []
    sent = [0]
    barrier = threading.Barrier(concurrency + 1)
    stop_at = [0.0]

    def worker() -> None:
        with httpx.Client(base_url=base, headers=headers or {}, timeout=60.0) as client:
            try:
                client.get("/", timeout=10.0)  # open the keep-alive connection before the clock starts
            except httpx.HTTPError:
                pass
            barrier.wait(timeout=60.0)
            while True:
                with lock:
                    i = next_index[0]
                    if i >= len(calls) or time.perf_counter() > stop_at[0]:
                        return
                    next_index[0] += 1
                    sent[0] += 1
                call = calls[i]
                began = time.perf_counter()
                try:
                    response = client.request(call.method, call.path, content=call.body,
                                              headers={"Content-Type": "application/json"} if call.body else None)
                    ok = response.status_code == 200
                    problem = None if ok else f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                elapsed = time.perf_counter() - began
                with lock:
                    if problem is None:
                        latencies.append(elapsed)
                    else:
                        errors.append(problem)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + deadline_s + 60.0  # provisional: set for real once all are connected
    barrier.wait(timeout=60.0)
    began = time.perf_counter()
    stop_at[0] = began + deadline_s
    for thread in threads:
        thread.join(timeout=deadline_s + 120.0)
    wall = time.perf_counter() - began
    result = summarise(latencies, wall, len(errors), sent[0])
    if errors:
        result["first_error"] = errors[0]
    return result


# ---------------------------------------------------------------------------------------------------
# The in-process floor: a child answering commands on stdin
# ---------------------------------------------------------------------------------------------------
class InProcess:
    """The in-process worker: `measure(target, nips)` times one direct call per nip, sequentially."""

    def __init__(self, world: Path, env: dict[str, str], log: Path) -> None:
        self._log = log.open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_serving", "inprocess",
                                         "--world", str(world)], env=env, cwd=PROJECT_ROOT, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self._log, start_new_session=True)
        self.ready = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the in-process worker stopped; see {self._log.name}")
        return dict(json.loads(line))

    def measure(self, target: str, nips: Sequence[str], deadline_s: float) -> dict[str, Any]:
        assert self.process.stdin is not None
        command = {"target": target, "nips": list(nips), "deadline_s": deadline_s}
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        self.process.stdin.flush()
        answer = self._read()
        errors = answer["errors"]
        result = summarise(answer["latencies_s"], answer["wall_s"], len(errors),
                           len(answer["latencies_s"]) + len(errors))
        if errors:
            result["first_error"] = errors[0]
        return result

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            _stop(self.process)
        self._log.close()


def _inprocess_worker(world_file: Path) -> None:
    """(A child.) Load the champion and the snapshot as the server does, then time calls on command."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything a library prints goes to the log, never into the protocol
    sys.stdout = sys.stderr
    world = json.loads(world_file.read_text())
    from features.settings import get_settings
    from serving import store_source
    from serving.bundle import load_champion

    settings = get_settings()
    began = time.perf_counter()
    predictor: Any = load_champion(settings.models_dir).bundle
    for owner in (predictor, getattr(predictor, "gap_model", None)):  # as serving.runtime does
        set_threads = getattr(owner, "set_threads", None)
        if callable(set_threads):
            set_threads(1)
            break
    export = store_source.load_current_snapshot(settings)
    frames = feature_frames(predictor, export, world["nips"])
    point = predictor.gap_model.point_
    calls: dict[str, Callable[[str], Any]] = {
        RECOMMENDATIONS: lambda nip: predictor.recommend(export, nip, limit=5),
        GAPS: lambda nip: predictor.gaps(export, nip),
        PREDICT: lambda nip: point.predict(frames[nip]),
    }
    for nip in world["nips"][:WARMUP_REQUESTS]:  # the first call builds the snapshot's index
        for call in calls.values():
            try:
                call(nip)
            except Exception:  # noqa: BLE001 - measured (and reported) in the rounds
                continue
    protocol.write(json.dumps({"ready": True, "load_seconds": round(time.perf_counter() - began, 2)}) + "\n")
    for line in sys.stdin:
        command = json.loads(line)
        call = calls[command["target"]]
        latencies: list[float] = []
        errors: list[str] = []
        wall = time.perf_counter()
        stop_at = wall + float(command["deadline_s"])
        for nip in command["nips"]:
            began = time.perf_counter()
            if began > stop_at:
                break
            try:
                call(nip)
            except Exception as exc:  # noqa: BLE001 - counted like an HTTP 500, the run goes on
                errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
                continue
            latencies.append(time.perf_counter() - began)
        protocol.write(json.dumps({"latencies_s": latencies, "errors": errors,
                                   "wall_s": time.perf_counter() - wall}) + "\n")


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
        import shutil

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
    import httpx

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
        _build_world(args.root, args.export, args.json, promote=args.promote, sample=args.sample)
    elif args.command == "inprocess":
        _inprocess_worker(args.world)
    elif args.command == "run":
        write_json(args.json, run(args.export, args.workdir, rounds=args.rounds, promote=args.promote))
    else:
        parser.print_help()


if __name__ == "__main__":
    main()
