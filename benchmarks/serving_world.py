"""The world the serving benchmark measures (`benchmarks.bench_serving`), and its in-process floor.

The world is built by a child process with its own environment (`world_env`): ingest → train → champion
bundle → one reader key → a seeded sample of active employees and, per employee, the gap model's feature
rows (the payloads `mlflow models serve` is sent). The in-process floor is another child that loads the
champion and the snapshot as the server does and times direct calls on command (`InProcess`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import PROJECT_ROOT, rounded, say, write_json
from benchmarks.serving_load import stop, summarise
from features.pit import PitIndex, build_features, prediction_queries
from features.settings import get_settings

SAMPLE_SEED = 20261128
SAMPLE_EMPLOYEES = 200
WARMUP_REQUESTS = 16
RECOMMENDATIONS = "recommendations"
GAPS = "gaps"
PREDICT = "predict"
REGISTERED_MODEL = "asn-kompetensi"  # training.registry.REGISTERED_MODEL (not imported: mlflow at import)


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
    index = PitIndex.build(export.without_protected())
    queries = prediction_queries(index, export.exported_on, nips=list(nips))
    features = build_features(index, queries)[list(predictor.gap_model.feature_names_in_)]
    ints = [c for c in features.columns if isinstance(features[c].dtype, pd.api.extensions.ExtensionDtype)
            and pd.api.types.is_integer_dtype(features[c].dtype)]
    features = features.astype(dict.fromkeys(ints, "float64")) if ints else features
    by_nip = queries["nip"].astype(str).to_numpy()
    return {nip: features[by_nip == nip].reset_index(drop=True) for nip in dict.fromkeys(nips)}


def build_world(root: Path, export_dir: Path, out: Path, *, promote: bool, sample: int) -> None:
    """(A child with `world_env(root)`.) ingest → train → champion bundle → key → sample and payloads."""
    # Imported here, in the world's child only: training imports mlflow, which the parent never needs.
    from engine.bundle import load_champion
    from features.ingest import ingest_export
    from features.store import load_snapshot
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
        from training.bundle import write_bundle_dir  # the world's child only, as above

        _, bundle = registry.load_bundle(version)
        write_bundle_dir(bundle, get_settings().models_dir, version=version, manifest_extra={
            "as_of": bundle.metadata.get("as_of"), "metrics": {}, "registered_model": REGISTERED_MODEL,
            "model_uri": f"models:/{REGISTERED_MODEL}/{version}", "run_id": trained.run_id,
            "note": "written by benchmarks.bench_serving without the promotion gate"})
    seconds["champion"] = time.perf_counter() - started
    _, secret = create_key("reader", label="bench")

    export = load_snapshot()
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
            stop(self.process)
        self._log.close()


def inprocess_worker(world_file: Path) -> None:
    """(A child.) Load the champion and the snapshot as the server does, then time calls on command."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything a library prints goes to the log, never into the protocol
    sys.stdout = sys.stderr
    world = json.loads(world_file.read_text())
    # Imported once stdout is the log: whatever a library prints at import stays out of the protocol.
    from engine.bundle import load_champion
    from serving import store_source

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
