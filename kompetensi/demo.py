"""`make run`: from a fresh clone to a serving API with demo data, doing only what is not done yet.

1. no current snapshot in the store → generate the synthetic Kota Pontianak export into
   DATA_DIR/demo-export (unless it is there) and ingest it;
2. no champion bundle under models/ → train, evaluate (against the demo export's truth) and promote;
3. a demo planner key (kept in DATA_DIR/demo-key.txt, readable by the owner only) is created once;
4. the server starts on http://127.0.0.1:8000 and the key is printed with an example call.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from engine.bundle import BundleError, load_champion, read_champion_pointer
from features.generator import generate_export
from features.ingest import ingest_export
from features.settings import get_settings
from features.store import current_snapshot_info
from serving.keys import create_key, verify
from serving.main import serve
from training import pipeline

DEMO_EMPLOYEES = int(os.environ.get("KOMPETENSI_DEMO_EMPLOYEES", "6000"))
DEMO_SEED = 7


def _say(message: str) -> None:
    print(f"[make run] {message}", file=sys.stderr, flush=True)


def _progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def ensure_data(data_dir: Path) -> Path:
    """The demo export is generated and ingested unless the store already has a snapshot."""

    export_dir = data_dir / "demo-export"
    if current_snapshot_info() is not None:
        _say("the store already holds a snapshot: skipping generate + ingest")
        return export_dir
    if not (export_dir / "export.json").is_file():
        _say(f"generating the synthetic Kota Pontianak export ({DEMO_EMPLOYEES:,} employees) into {export_dir}")
        generate_export(export_dir, employees=DEMO_EMPLOYEES, seed=DEMO_SEED, progress=_progress)
    _say(f"ingesting {export_dir}")
    result = ingest_export(export_dir, progress=_progress)
    _say(str(result))
    return export_dir


def ensure_champion(models_dir: Path, export_dir: Path) -> None:
    """Train, evaluate and promote unless a usable champion bundle is already in models/ (one written by
    older code, whose classes have moved or changed, is replaced)."""
    if read_champion_pointer(models_dir) is not None:
        try:
            load_champion(models_dir)
        except BundleError as exc:
            _say(f"the champion bundle in {models_dir} cannot be used ({str(exc)[:160]}): training a new one")
        else:
            _say(f"a champion bundle is already in {models_dir}: skipping train + promote")
            return
    _say("training (this takes a few minutes on 2 cores)")
    trained = pipeline.train(progress=_progress)
    _say(f"registered version {trained.version}; evaluating")
    truth = export_dir / "truth"
    result = pipeline.evaluate(version=trained.version, truth_dir=truth if truth.is_dir() else None,
                               progress=_progress)
    _say(f"report: {result.report}")
    promoted = pipeline.promote(version=trained.version)
    _say(f"champion is version {promoted.version}")


def ensure_demo_key(data_dir: Path) -> str:
    """The demo planner key: created once, kept in DATA_DIR/demo-key.txt (mode 600)."""

    path = data_dir / "demo-key.txt"
    if path.is_file():
        secret = path.read_text(encoding="utf-8").strip()
        if verify(secret) is not None:
            return secret
    _key_id, secret = create_key("planner", label="make run demo")
    path.write_text(secret + "\n", encoding="utf-8")
    path.chmod(0o600)
    return secret


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MPLCONFIGDIR", str(settings.data_dir / ".matplotlib"))
    try:
        export_dir = ensure_data(settings.data_dir)
        ensure_champion(settings.models_dir, export_dir)
        key = ensure_demo_key(settings.data_dir)
    except Exception as exc:  # noqa: BLE001 - `make run` ends with one line, not a trace
        if os.environ.get("KOMPETENSI_DEBUG"):
            raise
        _say(f"error: {type(exc).__name__}: {exc}".splitlines()[0])
        sys.exit(1)
    host, port = "127.0.0.1", 8000
    _say(f"demo planner key (also in {settings.data_dir / 'demo-key.txt'}):")
    print(key, flush=True)
    _say(f"serving on http://{host}:{port}  (UI: http://{host}:{port}/ui/, docs: http://{host}:{port}/docs)")
    _say("try:")
    print(f'  curl -s -H "Authorization: Bearer {key}" http://{host}:{port}/v1/models', flush=True)

    serve(host=host, port=port)


if __name__ == "__main__":
    main()
