"""Live drift (PSI) in GET /v1/models and /metrics: computed in the background once per (model, snapshot)."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.main import create_app
from tests.serving.conftest import ServingWorld, point_champion

WAIT_SECONDS = 60.0


def _drift(client: TestClient, world: ServingWorld) -> dict[str, Any]:
    """The served model's drift once it is no longer "pending" (bounded wait)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        response = client.get("/v1/models", headers=world.auth("reader"))
        assert response.status_code == 200
        drift = response.json()["models"][0]["drift"]
        assert drift is not None
        if drift["status"] != "pending" or time.monotonic() > deadline:
            return drift
        time.sleep(0.05)


def _gauge(metrics: str, name: str, labels: str = "") -> float | None:
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", metrics, flags=re.MULTILINE)
    return float(match.group(1)) if match else None


@pytest.fixture(scope="module")
def models_with_reference(world: ServingWorld, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the world's models dir whose champion, version 3, carries a drift reference profiled on the
    store snapshot the server serves (as `pipeline.train` attaches one)."""
    from engine.bundle import load_champion
    from engine.drift import attach_reference
    from features.store import get_engine, load_snapshot
    from training.bundle import write_bundle_dir

    models = world.copy_models(tmp_path_factory.mktemp("drift") / "models")
    loaded = load_champion(models)
    predictor: Any = loaded.bundle
    attach_reference(predictor, load_snapshot(get_engine(world.db_url)))
    predictor.metadata["model_version"] = "3"
    extra = {k: v for k, v in loaded.manifest.items() if k in ("as_of", "metrics")}
    write_bundle_dir(predictor, models, version="3", manifest_extra=extra)
    return models


def test_models_and_metrics_report_drift_of_the_training_snapshot(
        world: ServingWorld, models_with_reference: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"  # private: this test moves the champion pointer
    shutil.copytree(models_with_reference, models)
    with TestClient(create_app(world.settings(models_dir=models), poll_seconds=None)) as client:
        assert client.get("/healthz").json()["model_version"] == "3"
        drift = _drift(client, world)
        # The server's snapshot is the one the reference was profiled on: no drift at all.
        assert drift["status"] == "ok"
        assert drift["psi_max"] == pytest.approx(0.0, abs=1e-9)
        assert drift["prediction_psi"] == pytest.approx(0.0, abs=1e-9)
        assert drift["computed_at"] is not None
        assert 1 <= len(drift["features"]) <= 10
        assert all(f["psi"] == pytest.approx(0.0, abs=1e-9) for f in drift["features"])
        names = [f["feature"] for f in drift["features"]]
        assert not {"sex", "birth_date", "nip"} & set(names)

        metrics = client.get("/metrics").text
        assert _gauge(metrics, "kompetensi_drift_status") == 0.0
        assert _gauge(metrics, "kompetensi_drift_psi", '{feature="prediction"}') == pytest.approx(0.0, abs=1e-9)
        assert _gauge(metrics, "kompetensi_drift_psi", f'{{feature="{names[0]}"}}') == pytest.approx(0.0, abs=1e-9)

        # A new pair (version 2, no reference) replaces the drift and the gauges: nothing stale remains.
        point_champion(models, "2")
        assert client.post("/v1/admin/reload", headers=world.auth("admin")).json()["model_version"] == "2"
        assert _drift(client, world)["status"] == "unknown"
        metrics = client.get("/metrics").text
        assert _gauge(metrics, "kompetensi_drift_status") == -1.0
        assert "kompetensi_drift_psi{" not in metrics


def test_a_bundle_without_reference_reports_unknown(world: ServingWorld, client: TestClient) -> None:
    drift = _drift(client, world)
    assert drift["status"] == "unknown"
    assert (drift["psi_max"], drift["prediction_psi"], drift["features"]) == (None, None, [])
    metrics = client.get("/metrics").text
    assert _gauge(metrics, "kompetensi_drift_status") == -1.0
    assert "kompetensi_drift_psi{" not in metrics


def test_drift_summary_never_raises(world: ServingWorld, caplog: pytest.LogCaptureFixture) -> None:
    from engine.bundle import load_champion
    from engine.predictor import Predictor
    from features.store import get_engine, load_snapshot

    loaded = load_champion(world.models_dir).bundle
    assert isinstance(loaded, Predictor)
    broken = Predictor(loaded.gap_model, loaded.effect_model,
                       {**loaded.metadata, "drift_reference": {"profiles": {"grade": {"kind": "nonsense"}}}})
    with caplog.at_level("WARNING"):
        summary = broken.drift_summary(load_snapshot(get_engine(world.db_url)))
    assert summary == {"status": "unknown", "psi_max": None, "prediction_psi": None, "features": {}}
    assert "drift not computed" in caplog.text
