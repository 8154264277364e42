"""The API with no champion and no store snapshot: it starts, says why it cannot answer, and is safe."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from features.settings import Settings
from features.values import mask_nips_in
from serving.keys import create_key
from serving.main import create_app

PROBLEM = "application/problem+json"
NIP = "198503122010031001"


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(data_dir=tmp_path, models_dir=tmp_path / "models")
    keys = {role: create_key(role, settings.keys_file)[1] for role in ("reader", "planner", "admin")}
    with TestClient(create_app(settings, poll_seconds=None)) as client:
        yield client, keys


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_starts_and_reports_not_ready(empty: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = empty
    assert client.get("/healthz").json() == {"status": "ok", "model_version": None}
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["content-type"] == PROBLEM
    assert ready.json()["model_version"] is None
    for path in ("/v1/models", f"/v1/employees/{NIP}/gaps", f"/v1/employees/{NIP}", "/v1/units/0100/summary"):
        response = client.get(path, headers=_auth(keys["admin"]))
        body = response.json()
        assert response.status_code == 503, path
        assert response.headers["content-type"] == PROBLEM
        assert set(body) >= {"type", "title", "status", "detail", "instance"}
        assert body["status"] == 503 and body["instance"] == mask_nips_in(path)  # a NIP shows its serial only
        assert response.headers["retry-after"] == "5"


def test_reload_without_champion_is_refused(empty: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = empty
    response = client.post("/v1/admin/reload", headers=_auth(keys["admin"]))
    assert response.status_code == 409
    assert "no champion" in response.json()["detail"]
    assert client.get("/readyz").status_code == 503


def test_auth_comes_before_availability(empty: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = empty
    missing = client.get("/v1/models")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/models", headers=_auth("not-a-key")).status_code == 401
    assert client.get("/v1/models", headers={"Authorization": f"Basic {keys['admin']}"}).status_code == 401
    forbidden = client.post("/v1/whatif", json={"nip": NIP, "plan": []}, headers=_auth(keys["reader"]))
    assert forbidden.status_code == 403
    assert "planner" in forbidden.json()["detail"]
    assert keys["reader"] not in forbidden.text  # a key never appears in a response


def test_unknown_route_and_wrong_method_are_problems(empty: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = empty
    unknown = client.get("/v2/nothing")
    assert (unknown.status_code, unknown.headers["content-type"]) == (404, PROBLEM)
    wrong = client.delete("/v1/whatif")
    assert (wrong.status_code, wrong.headers["content-type"]) == (405, PROBLEM)
    assert wrong.headers["allow"] == "POST"


def test_metrics_and_docs_work_offline(empty: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = empty
    client.get(f"/v1/employees/{NIP}/gaps", headers=_auth(keys["reader"]))
    text = client.get("/metrics").text
    assert 'kompetensi_http_requests_total{method="GET",route="/v1/employees/{nip}/gaps",status="503"} 1.0' in text
    assert NIP not in text  # route templates, never paths
    assert "kompetensi_model_loaded 0.0" in text
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text and "https://" not in docs.text
    assert client.get("/static/docs/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/docs/swagger-ui.css").status_code == 200
    assert client.get("/redoc").status_code == 200


def test_openapi_declares_problems_and_examples(empty: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = empty
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    expected = {"/healthz", "/readyz", "/metrics", "/v1/models", "/v1/employees/{nip}", "/v1/employees/{nip}/gaps",
                "/v1/employees/{nip}/recommendations", "/v1/predictions/gaps", "/v1/recommendations:batch",
                "/v1/whatif", "/v1/units/{unit_id}/summary", "/v1/admin/reload", "/v1/audit"}
    assert expected <= set(paths)
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == [PROBLEM], (method, path, status)
            if "requestBody" in operation:
                ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                model = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
                assert model.get("examples"), f"{method} {path} has no example body"
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_importing_the_app_touches_nothing(tmp_path: Path) -> None:
    code = "import serving.main, serving.deps"
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path,
                   env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert list(tmp_path.iterdir()) == []  # no directory, database or log file created at import


def test_the_server_runs_one_thread_per_native_pool_even_after_numpy_loaded(tmp_path: Path) -> None:
    """`kompetensi serve` reaches `serve` with numpy and LightGBM already loaded: their pools are capped."""
    code = ("import numpy, lightgbm, sklearn, serving.main; serving.main.limit_native_threads(); "
            "from threadpoolctl import threadpool_info; import os; "
            "print(os.environ['OMP_NUM_THREADS'], sorted({p['num_threads'] for p in threadpool_info()}))")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path,
                         env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.stdout.split() == ["1", "[1]"]
