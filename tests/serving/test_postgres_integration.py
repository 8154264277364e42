"""The served app on PostgreSQL 15: the endpoints, the audit trail, and an ingest while serving.

The same trained bundles as the SQLite tests (`pg_world` ingests the world's export into the local
cluster); hot reload on PostgreSQL is in test_reload.py (`store_world`). These run in CI, which starts
the cluster (tests/conftest_pg.py); where it cannot start they skip, which fails a CI run.
"""

from __future__ import annotations

import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serving.audit import AUDIT_TABLE
from serving.main import create_app
from tests.serving.conftest import ServingWorld, private_store, wait_for
from tests.serving.test_reload import _set_employee

pytestmark = pytest.mark.postgres



def test_every_model_route_answers_on_postgres(pg_world: ServingWorld, world: ServingWorld) -> None:
    reader, planner = pg_world.auth("reader"), pg_world.auth("planner")
    with TestClient(create_app(pg_world.settings(), poll_seconds=None)) as client:
        ready = client.get("/readyz").json()
        with TestClient(create_app(world.settings(), poll_seconds=None)) as on_sqlite:
            assert ready["snapshot_id"] == on_sqlite.get("/readyz").json()["snapshot_id"]  # same content hash
            sqlite_gaps = on_sqlite.get(f"/v1/employees/{world.nip}/gaps", headers=reader).json()
        gaps = client.get(f"/v1/employees/{pg_world.nip}/gaps", headers=reader).json()
        assert gaps == sqlite_gaps  # the same model on the same data: the same answer, whatever the store
        recommendations = client.get(f"/v1/employees/{pg_world.nip}/recommendations", headers=reader).json()
        assert recommendations["items"][0]["training_id"] == pg_world.training_id
        profile = client.get(f"/v1/employees/{pg_world.nip}", headers=reader).json()
        assert "birth_date" not in profile and "sex" not in profile
        batch = client.post("/v1/recommendations:batch", json={"nips": [pg_world.nip, *pg_world.other_nips[:3]]},
                            headers=reader).json()
        assert (batch["count"], batch["failed"]) == (4, 0)
        whatif = client.post("/v1/whatif", json={"nip": pg_world.nip, "plan": [pg_world.training_id]},
                             headers=planner)
        assert whatif.status_code == 200
        unit = client.get(f"/v1/units/{pg_world.unit_id}/summary", headers=planner)
        assert unit.status_code == 200
        plan = client.post("/v1/plans", json={"budget_idr": 20_000_000, "unit_ids": [pg_world.unit_id]},
                           headers=planner)
        assert plan.status_code == 200 and plan.json()["model_version"] == "2"


def test_the_audit_trail_is_written_to_postgres(pg_world: ServingWorld, tmp_path: Path) -> None:
    reader = pg_world.auth("reader")
    since = datetime.now(UTC)
    with private_store(pg_world, tmp_path) as url:
        settings = pg_world.settings().model_copy(update={"db_url": url})
        with TestClient(create_app(settings, poll_seconds=None)) as client:
            paths = [f"/v1/employees/{nip}/gaps" for nip in (pg_world.nip, *pg_world.other_nips[:4])]
            statuses = [client.get(path, headers=reader).status_code for path in paths]
            statuses.append(client.get("/v1/employees/999999999999999999", headers=reader).status_code)
            statuses.append(client.get(f"/v1/employees/{pg_world.nip}").status_code)  # no key: 401, audited
            audit = client.get("/v1/audit", params={"since": since.isoformat()},
                               headers=pg_world.auth("admin")).json()
        assert statuses == [200] * 5 + [404, 401]
        assert sorted(item["status"] for item in audit["items"]) == sorted(statuses)
        assert {item["model_version"] for item in audit["items"] if item["status"] == 200} == {"2"}
        with sa.create_engine(url).connect() as conn:  # in the PostgreSQL table, not only in memory
            rows = conn.execute(sa.select(sa.func.count()).select_from(AUDIT_TABLE)
                                .where(AUDIT_TABLE.c.at >= since)).scalar_one()
        assert rows == len(statuses)


@pytest.mark.slow
def test_an_ingest_while_serving_loses_no_request_and_no_audit_record(pg_world: ServingWorld,
                                                                      tmp_path: Path) -> None:
    """Clients keep asking while a changed export is ingested into PostgreSQL and the poller swaps the new
    snapshot in: every request is answered 200, and every one of them is in the audit trail."""
    from features.ingest import ingest_export

    export = tmp_path / "export"
    shutil.copytree(pg_world.export_dir, export, ignore=shutil.ignore_patterns("truth"))
    new_education = "s3" if pg_world.employee["education"] != "s3" else "s2"
    _set_employee(export / "employees.csv", pg_world.nip, education=new_education)
    failures: list[str] = []
    answered = [0]
    stop = threading.Event()
    since = datetime.now(UTC)

    def load(client: TestClient, path: str) -> None:
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                response = client.get(path, headers=pg_world.auth("reader"))
            except httpx.HTTPError as exc:
                failures.append(f"{path}: {type(exc).__name__}")
                continue
            if response.status_code != 200:
                failures.append(f"{path}: {response.status_code}")
            answered[0] += 1

    with private_store(pg_world, tmp_path) as url:
        settings = pg_world.settings().model_copy(update={"db_url": url})
        with TestClient(create_app(settings, poll_seconds=0.2)) as client:
            before = client.get("/readyz").json()["snapshot_id"]
            paths = [f"/v1/employees/{pg_world.nip}", f"/v1/employees/{pg_world.nip}/gaps",
                     f"/v1/employees/{pg_world.other_nips[0]}/recommendations"]
            threads = [threading.Thread(target=load, args=(client, path), daemon=True) for path in paths]
            for thread in threads:
                thread.start()
            try:
                ingest_export(export, url=url)
                assert wait_for(lambda: client.get("/readyz").json()["snapshot_id"] != before)
                time.sleep(0.5)  # requests on the new snapshot too
            finally:
                stop.set()
                for thread in threads:
                    thread.join(timeout=60)
            profile = client.get(f"/v1/employees/{pg_world.nip}", headers=pg_world.auth("reader")).json()
            audit = client.get("/v1/audit", params={"since": since.isoformat(), "limit": 10_000},
                               headers=pg_world.auth("admin")).json()
    assert failures == []
    assert profile["education"] == new_education
    assert answered[0] >= 10
    assert audit["count"] == answered[0] + 1  # every load request, and the profile read after it
