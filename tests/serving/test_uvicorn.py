"""A real `uvicorn` process on a loopback port: the endpoints over a socket, and hot reload under load."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import ServingWorld, corrupt_version, point_champion
from tests.serving.server import running_server


@pytest.mark.slow
def test_endpoints_over_a_socket(world: ServingWorld, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with running_server(world, log, world.models_dir) as base, httpx.Client(base_url=base, timeout=30) as http:
        reader, planner = world.auth("reader"), world.auth("planner")
        assert http.get("/healthz").json()["model_version"] == "2"
        assert http.get("/v1/models", headers=reader).json()["model_version"] == "2"
        gaps = http.get(f"/v1/employees/{world.nip}/gaps", headers=reader)
        assert gaps.status_code == 200 and gaps.json()["competencies"]
        assert http.get(f"/v1/employees/{world.nip}/recommendations", headers=reader).status_code == 200
        assert http.post("/v1/whatif", json={"nip": world.nip, "plan": [world.training_id]},
                         headers=planner).status_code == 200
        assert http.get("/v1/models").status_code == 401
        assert http.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert http.post("/v1/whatif", json={"nip": world.nip}, headers=reader).status_code == 403
        problem = http.get(f"/v1/employees/{world.nip}/gaps?horizon_months=99", headers=reader)
        assert problem.status_code == 422 and problem.headers["content-type"] == "application/problem+json"
        assert http.get("/docs").status_code == 200
        assert "kompetensi_http_requests_total" in http.get("/metrics").text
    text = log.read_text()
    assert "/v1/employees/{nip}/gaps" in text  # our access log: route templates ...
    assert world.nip not in text and world.keys["reader"] not in text  # ... never NIPs or keys
    assert world.protected["birth_date"] not in text


@pytest.mark.slow
def test_hot_reload_under_load_drops_no_request(world: ServingWorld, tmp_path: Path) -> None:
    models = world.copy_models(tmp_path / "models")
    corrupt_version(models, "2", "3")
    log = tmp_path / "server.log"
    failures: list[str] = []
    versions: set[str] = set()
    served = [0]
    stop = threading.Event()

    def load(base: str, path: str) -> None:
        with httpx.Client(base_url=base, timeout=30, headers=world.auth("reader")) as http:
            deadline = time.monotonic() + 120  # bounded even if the main thread dies
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    response = http.get(path)
                except httpx.HTTPError as exc:
                    failures.append(f"{path}: {type(exc).__name__}")
                    continue
                if response.status_code != 200:
                    failures.append(f"{path}: {response.status_code} {response.text[:200]}")
                else:
                    versions.add(response.json()["model_version"])
                    served[0] += 1

    with running_server(world, log, models) as base, httpx.Client(base_url=base, timeout=60) as admin:
        clients = [threading.Thread(target=load, args=(base, path), daemon=True)
                   for path in (f"/v1/employees/{world.nip}/gaps", f"/v1/employees/{world.nip}/recommendations",
                                "/v1/models")]
        for thread in clients:
            thread.start()
        reloads = []
        try:
            for i in range(10):
                target = "1" if i % 2 == 0 else "2"
                if i == 5:  # once: a corrupted bundle is refused and the old model keeps serving
                    point_champion(models, "3")
                    refused = admin.post("/v1/admin/reload", headers=world.auth("admin"))
                    reloads.append(("3", refused.status_code))
                point_champion(models, target)
                response = admin.post("/v1/admin/reload", headers=world.auth("admin"))
                reloads.append((target, response.status_code))
                assert response.json()["model_version"] == target
                time.sleep(0.2)
        finally:
            stop.set()
            for thread in clients:
                thread.join(timeout=60)
    assert failures == []
    assert reloads.count(("3", 409)) == 1 and sum(1 for _, s in reloads if s == 200) == 10
    assert versions == {"1", "2"}
    assert served[0] >= 20
