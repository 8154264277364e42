"""GET /readyz follows the store: a store that does not answer makes the instance not ready, and it comes
back by itself, while the snapshot in memory keeps answering (serving.readiness)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from serving.main import create_app
from tests.serving.conftest import ServingWorld, private_store, wait_for


def test_a_locked_store_turns_readiness_off_and_back_on(world: ServingWorld, tmp_path: Path) -> None:
    with private_store(world, tmp_path) as url:
        settings = world.settings().model_copy(update={"db_url": url})
        with TestClient(create_app(settings, poll_seconds=None)) as client:
            assert client.get("/readyz").status_code == 200
            lock = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")  # another process holding the file: nobody else reads it
            try:
                assert wait_for(lambda: client.get("/readyz").status_code == 503)
                problem = client.get("/readyz")
                assert problem.headers["content-type"] == "application/problem+json"
                assert problem.json()["type"].endswith(":store-unavailable") and "retry-after" in problem.headers
                gaps = client.get(f"/v1/employees/{world.nip}/gaps", headers=world.auth("reader"))
                assert gaps.status_code == 200  # the snapshot in memory still answers
            finally:
                lock.execute("ROLLBACK")
                lock.close()
            assert wait_for(lambda: client.get("/readyz").status_code == 200)
