"""The audit trail through the API, on SQLite and on PostgreSQL 15 (issue 14): a request with an invented
8 KB method erases no other record, GET /v1/audit is for admins only, the server's shutdown writes what
is queued, and the audit counters are on /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from features.settings import Settings
from serving.audit import AUDIT_TABLE
from serving.keys import create_key
from serving.main import create_app
from tests.conftest_pg import postgres_database

NIP = "198503122010031001"
PG_AUDIT_API_DATABASE = "kompetensi_audit_api_test"


@pytest.fixture(params=("sqlite", pytest.param("postgres", marks=pytest.mark.postgres)))
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    with postgres_database(PG_AUDIT_API_DATABASE) as url:
        yield url


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_an_invented_method_erases_no_audit_record_and_shutdown_writes_them_all(
        store_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "models", db_url=store_url,
                        api_keys_file=tmp_path / "keys.json")
    keys = {role: create_key(role, settings.keys_file)[1] for role in ("reader", "planner", "admin")}
    with TestClient(create_app(settings, poll_seconds=None)) as client:
        for _ in range(3):  # no model is loaded: audited 503 answers
            assert client.get(f"/v1/employees/{NIP}/gaps", headers=_auth(keys["reader"])).status_code == 503
        odd = client.request("X" * 8192, f"/v1/employees/{NIP}/gaps")  # no key, as the attacker sent it
        assert odd.status_code in (401, 405)
        for _ in range(3):
            client.get(f"/v1/employees/{NIP}", headers=_auth(keys["reader"]))

        for role in ("reader", "planner"):
            assert client.get("/v1/audit", headers=_auth(keys[role])).status_code == 403
        assert client.get("/v1/audit").status_code == 401
        items = client.get("/v1/audit", headers=_auth(keys["admin"])).json()["items"]
        assert sorted((item["method"], item["route"]) for item in items) == sorted(
            [("GET", "/v1/employees/{nip}/gaps")] * 3 + [("OTHER", "/v1/employees/{nip}/gaps")]
            + [("GET", "/v1/employees/{nip}")] * 3)
        metrics = client.get("/metrics").text
        assert "kompetensi_audit_write_failures_total 0.0" in metrics
        assert "kompetensi_audit_dropped_total 0.0" in metrics

        for _ in range(5):  # answered just before the shutdown: still lingering in the writer's queue
            client.get(f"/v1/employees/{NIP}", headers=_auth(keys["reader"]))
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(AUDIT_TABLE)).scalar_one() == 12
    engine.dispose()
