"""The role matrix (INTERFACES.md): every route × {no key, bad key, reader, planner, admin}; and the catch-all."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.serving.conftest import ServingWorld

ROLES = ("reader", "planner", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}


def _routes(world: ServingWorld) -> list[tuple[str, str, dict[str, Any] | None, str | None]]:
    """(method, path, json body, the least role allowed; None = no key needed)."""
    inline = {"employee": world.employee, "assessments": [], "performance_reviews": [], "training_records": []}
    return [
        ("GET", "/healthz", None, None),
        ("GET", "/readyz", None, None),
        ("GET", "/metrics", None, None),
        ("GET", "/v1/models", None, "reader"),
        ("GET", f"/v1/employees/{world.nip}", None, "reader"),
        ("GET", f"/v1/employees/{world.nip}/gaps", None, "reader"),
        ("GET", f"/v1/employees/{world.nip}/recommendations", None, "reader"),
        ("POST", "/v1/predictions/gaps", inline, "reader"),
        ("POST", "/v1/recommendations:batch", {"nips": [world.nip]}, "reader"),
        ("POST", "/v1/whatif", {"nip": world.nip, "plan": [world.training_id]}, "planner"),
        ("GET", f"/v1/units/{world.unit_id}/summary", None, "planner"),
        ("POST", "/v1/plans", {"budget_idr": 1, "unit_ids": [world.unit_id]}, "planner"),
        ("POST", "/v1/admin/reload", None, "admin"),
        ("GET", "/v1/audit", None, "admin"),
    ]


def test_role_matrix(client: TestClient, world: ServingWorld) -> None:
    callers: dict[str, dict[str, str]] = {
        "none": {}, "bad": {"Authorization": "Bearer not-a-valid-key"},
        **{role: world.auth(role) for role in ROLES},
    }
    table = {}
    for method, path, body, least in _routes(world):
        for caller, headers in callers.items():
            response = client.request(method, path, json=body, headers=headers)
            table[(path, caller)] = response.status_code
            if least is None:
                expected = 200
            elif caller in ("none", "bad"):
                expected = 401
            else:
                expected = 200 if RANK[caller] >= RANK[least] else 403
            assert response.status_code == expected, (method, path, caller, response.text[:300])
            if expected != 200:
                assert response.headers["content-type"] == "application/problem+json"
    assert len(table) == 14 * 5


def test_unexpected_error_is_a_500_problem_without_trace(
    world: ServingWorld, caplog: pytest.LogCaptureFixture
) -> None:
    from serving.main import create_app

    app = create_app(world.settings(), poll_seconds=None)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("internal detail that must stay inside")

    caplog.set_level(logging.ERROR)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 500 and body["model_version"] == "2"
    assert "internal detail" not in response.text and "Traceback" not in response.text
    assert any("RuntimeError" in r.getMessage() and "/boom" in r.getMessage() for r in caplog.records)
