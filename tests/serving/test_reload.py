"""Hot reload in process: admin reload, the poller (new champion, new store snapshot), refused bundles; on
SQLite and on PostgreSQL (`store_world`)."""

from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

from fastapi.testclient import TestClient

from serving.main import create_app
from tests.serving.conftest import ServingWorld, corrupt_version, point_champion, private_store, wait_for


def test_admin_reload_swaps_and_refuses_corrupt_bundles(store_world: ServingWorld, tmp_path: Path) -> None:
    models = store_world.copy_models(tmp_path / "models")
    corrupt_version(models, "2", "3")
    admin = store_world.auth("admin")
    with TestClient(create_app(store_world.settings(models_dir=models), poll_seconds=None)) as client:
        assert client.get("/healthz").json()["model_version"] == "2"
        same = client.post("/v1/admin/reload", headers=admin).json()
        assert (same["model_version"], same["changed"]) == ("2", False)

        point_champion(models, "1")
        swapped = client.post("/v1/admin/reload", headers=admin).json()
        assert (swapped["previous_version"], swapped["model_version"], swapped["changed"]) == ("2", "1", True)
        gaps = client.get(f"/v1/employees/{store_world.nip}/gaps", headers=store_world.auth("reader")).json()
        assert gaps["model_version"] == "1"

        point_champion(models, "3")
        refused = client.post("/v1/admin/reload", headers=admin)
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        assert "checksum" in refused.json()["detail"]
        assert refused.json()["model_version"] == "1"  # the old model keeps serving
        assert client.get(f"/v1/employees/{store_world.nip}/gaps", headers=store_world.auth("reader")).status_code == 200

        (models / "CHAMPION").write_text("../../etc\n")  # a tampered pointer is refused too
        assert client.post("/v1/admin/reload", headers=admin).status_code == 409
        metrics = client.get("/metrics").text
        assert 'kompetensi_model_reloads_total{outcome="failure"} 2.0' in metrics
        assert 'kompetensi_model_reloads_total{outcome="success"} 2.0' in metrics


def test_poller_follows_the_champion_and_skips_a_broken_one(store_world: ServingWorld, tmp_path: Path) -> None:
    models = store_world.copy_models(tmp_path / "models")
    corrupt_version(models, "2", "3")
    with TestClient(create_app(store_world.settings(models_dir=models), poll_seconds=0.1)) as client:
        def version() -> str:
            return str(client.get("/healthz").json()["model_version"])

        point_champion(models, "1")
        assert wait_for(lambda: version() == "1")
        point_champion(models, "3")
        assert wait_for(lambda: 'outcome="failure"} 1.0' in client.get("/metrics").text)
        time.sleep(0.5)  # several more polls: the broken champion is not retried, the old one serves
        assert version() == "1"
        assert 'outcome="failure"} 1.0' in client.get("/metrics").text
        assert client.get("/readyz").status_code == 200
        point_champion(models, "2")
        assert wait_for(lambda: version() == "2")


def test_poller_picks_up_a_new_store_snapshot(store_world: ServingWorld, tmp_path: Path) -> None:
    from features.ingest import ingest_export

    export = tmp_path / "export"
    shutil.copytree(store_world.export_dir, export, ignore=shutil.ignore_patterns("truth"))
    with private_store(store_world, tmp_path) as url, \
            TestClient(create_app(store_world.settings().model_copy(update={"db_url": url}),
                                  poll_seconds=0.1)) as client:
        before = client.get("/readyz").json()["snapshot_id"]
        profile = client.get(f"/v1/employees/{store_world.nip}", headers=store_world.auth("reader")).json()
        assert profile["education"] == store_world.employee["education"]

        new_education = "s3" if store_world.employee["education"] != "s3" else "s2"
        _set_employee(export / "employees.csv", store_world.nip, education=new_education)
        ingest_export(export, url=url)

        assert wait_for(lambda: client.get("/readyz").json()["snapshot_id"] != before)
        profile = client.get(f"/v1/employees/{store_world.nip}", headers=store_world.auth("reader")).json()
        assert profile["education"] == new_education
        gaps = client.get(f"/v1/employees/{store_world.nip}/gaps", headers=store_world.auth("reader"))
        assert gaps.status_code == 200 and gaps.json()["model_version"] == "2"


def _set_employee(path: Path, nip: str, **changes: str) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["nip"] == nip:
            row.update(changes)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
