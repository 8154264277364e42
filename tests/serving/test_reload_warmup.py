"""Safe hot reload: a candidate bundle that loads (checksums fine) but cannot answer is never swapped in.

The broken bundle is the world's real predictor with its gap model replaced, written through the real
`write_bundle_dir`, so the manifest and checksums are valid and only the warm-up prediction can catch it.
"""

from __future__ import annotations

import time
from pathlib import Path

import joblib
from fastapi.testclient import TestClient

from serving.main import create_app
from tests.serving.conftest import ServingWorld, point_champion, wait_for

BROKEN = "3"


def _write_broken_version(world: ServingWorld, models: Path) -> None:
    """versions/3: a valid bundle whose predictor raises on every prediction; the champion stays at 2."""
    from training.bundle import write_bundle_dir

    predictor = joblib.load(world.models_dir / "versions" / "2" / "bundle.joblib")
    predictor.gap_model = "a gap model that was never fitted"  # loads fine, fails when asked anything
    predictor.metadata["model_version"] = BROKEN
    write_bundle_dir(predictor, models, version=BROKEN, manifest_extra={"as_of": "2026-01-01"}, keep=10)
    point_champion(models, "2")



def test_admin_reload_refuses_a_bundle_that_fails_its_warm_up(world: ServingWorld, tmp_path: Path) -> None:
    models = world.copy_models(tmp_path / "models")
    _write_broken_version(world, models)
    reader, admin = world.auth("reader"), world.auth("admin")
    with TestClient(create_app(world.settings(models_dir=models), poll_seconds=None)) as client:
        assert client.get("/v1/models", headers=reader).json()["last_refusal"] is None
        point_champion(models, BROKEN)
        refused = client.post("/v1/admin/reload", headers=admin)
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        assert "warm-up" in refused.json()["detail"]
        assert refused.json()["model_version"] == "2"

        gaps = client.get(f"/v1/employees/{world.nip}/gaps", headers=reader)
        assert gaps.status_code == 200 and gaps.json()["model_version"] == "2"  # the old model still serves
        models_body = client.get("/v1/models", headers=reader).json()
        assert models_body["model_version"] == "2"
        refusal = models_body["last_refusal"]
        assert (refusal["outcome"], refusal["candidate_version"]) == ("warmup_failed", BROKEN)
        assert "AttributeError" in refusal["reason"]
        assert world.nip not in refusal["reason"] and world.nip[:8] not in refusal["reason"]
        metrics = client.get("/metrics").text
        assert 'kompetensi_model_reloads_total{outcome="warmup_failed"} 1.0' in metrics
        assert 'outcome="success"' not in metrics

        point_champion(models, "1")  # a good candidate afterwards is swapped in and clears the refusal
        swapped = client.post("/v1/admin/reload", headers=admin).json()
        assert (swapped["previous_version"], swapped["model_version"]) == ("2", "1")
        assert client.get("/v1/models", headers=reader).json()["last_refusal"] is None


def test_the_poller_keeps_the_old_model_and_does_not_retry_a_broken_one(world: ServingWorld,
                                                                        tmp_path: Path) -> None:
    models = world.copy_models(tmp_path / "models")
    _write_broken_version(world, models)
    with TestClient(create_app(world.settings(models_dir=models), poll_seconds=0.1)) as client:
        point_champion(models, BROKEN)
        assert wait_for(lambda: 'outcome="warmup_failed"} 1.0' in client.get("/metrics").text)
        time.sleep(0.5)  # several more polls: the broken champion is not loaded again
        assert 'outcome="warmup_failed"} 1.0' in client.get("/metrics").text
        assert client.get("/healthz").json()["model_version"] == "2"
        assert client.get("/readyz").status_code == 200
        refusal = client.get("/v1/models", headers=world.auth("reader")).json()["last_refusal"]
        assert refusal["outcome"] == "warmup_failed"


def test_a_broken_champion_at_start_up_is_not_served(world: ServingWorld, tmp_path: Path) -> None:
    models = world.copy_models(tmp_path / "models")
    _write_broken_version(world, models)
    point_champion(models, BROKEN)
    with TestClient(create_app(world.settings(models_dir=models), poll_seconds=None)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "warmup_failed" in ready.json()["detail"]
        gaps = client.get(f"/v1/employees/{world.nip}/gaps", headers=world.auth("reader"))
        assert gaps.status_code == 503  # not a 500 for every request
        assert 'kompetensi_model_reloads_total{outcome="warmup_failed"} 1.0' in client.get("/metrics").text
