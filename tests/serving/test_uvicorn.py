"""A real `uvicorn` process on a loopback port: the endpoints over a socket, and hot reload under load."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import ServingWorld, corrupt_version, point_champion

SERVER = "from serving.main import serve; import sys; serve('127.0.0.1', int(sys.argv[1]), log_level='info')"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(world: ServingWorld, models_dir: Path, log: Path) -> Iterator[str]:
    """Start `serve()` in a subprocess (poller off), wait until ready, stop it afterwards."""
    port = _free_port()
    env = world.env(models_dir) | {"KOMPETENSI_POLL_SECONDS": "0"}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not become ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.mark.slow
def test_endpoints_over_a_socket(world: ServingWorld, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with running_server(world, world.models_dir, log) as base, httpx.Client(base_url=base, timeout=30) as http:
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

    with running_server(world, models, log) as base, httpx.Client(base_url=base, timeout=60) as admin:
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
