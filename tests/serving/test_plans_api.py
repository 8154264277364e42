"""`POST /v1/plans` and `kompetensi plan` end to end, with the really trained champion of the serving world.

The whole-export plan is asked once (module fixture) and checked from several sides: the budget, the
eligibility of every pair (features.eligibility), the per-employee limits, MILP ≥ greedy on the same
candidates, a non-decreasing budget curve, and the same allocation from the CLI path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from engine.allocation import greedy_plan
from engine.plans import PlanRequest, plan_candidates
from features.constants import ACTIVE_STATUS
from features.eligibility import eligibility_matrix
from features.export import Export
from serving.commands import AUDIT_ROUTE_CLI, plan_from_store
from tests.serving.conftest import ServingWorld

BUDGET = 60_000_000
CURVE = [10_000_000, 30_000_000, 60_000_000, 150_000_000]
BODY = {"budget_idr": BUDGET, "max_trainings_per_employee": 2, "curve_budgets": CURVE}


@pytest.fixture(scope="module")
def engine(world: ServingWorld) -> tuple[Any, Export]:
    """The champion predictor and the store snapshot, loaded as the server loads them."""
    from engine.bundle import load_champion
    from features.store import get_engine, load_snapshot

    predictor = load_champion(world.models_dir).bundle
    return predictor, load_snapshot(get_engine(world.db_url)).without_protected()


@pytest.fixture(scope="module")
def module_client(world: ServingWorld) -> Iterator[TestClient]:
    from serving.main import create_app

    with TestClient(create_app(world.settings(), poll_seconds=None)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def whole_plan(module_client: TestClient, world: ServingWorld) -> dict[str, Any]:
    response = module_client.post("/v1/plans", json=BODY, headers=world.auth("planner"))
    assert response.status_code == 200, response.text[:500]
    return response.json()


@pytest.fixture(scope="module")
def candidates(engine: tuple[Any, Export]) -> tuple[pd.DataFrame, PlanRequest]:
    """The candidates the whole-export plan was chosen from (the same request as BODY)."""
    predictor, export = engine
    request = PlanRequest(budget_idr=BUDGET, curve_budgets=tuple(CURVE))
    return plan_candidates(predictor, export, request)[0], request


def _small_unit(export: Export) -> str:
    """A unit with a few active employees (fast plans for the checks that need no whole export)."""
    employees = export["employees"]
    counts = employees[employees["status"] == ACTIVE_STATUS]["unit_id"].value_counts()
    return str(counts[(counts >= 3) & (counts <= 12)].index[0])


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


# ---------------------------------------------------------------------------------------------------
# The whole-export plan
# ---------------------------------------------------------------------------------------------------
def test_the_plan_respects_the_budget_and_every_limit(whole_plan: dict[str, Any], engine: tuple[Any, Export],
                                                      world: ServingWorld) -> None:
    _, export = engine
    alloc = pd.DataFrame(whole_plan["allocations"])
    assert whole_plan["status"] in ("optimal", "time_limit") and whole_plan["solver"] == "highs-milp"
    assert whole_plan["model_version"] == "2" and whole_plan["as_of"] == export.exported_on.isoformat()
    assert whole_plan["optimality_gap"] is not None and whole_plan["optimality_gap"] <= 1e-3
    assert len(alloc) > 0
    assert int(alloc["cost_idr"].sum()) == whole_plan["totals"]["cost_idr"] <= BUDGET
    assert whole_plan["objective"] == pytest.approx(alloc["expected_gain"].sum())
    assert whole_plan["totals"]["employees"] == alloc["nip"].nunique()
    assert whole_plan["totals"]["budget_left_idr"] == BUDGET - whole_plan["totals"]["cost_idr"]
    assert (alloc.groupby("nip").size() <= 2).all() and not alloc.duplicated(["nip", "training_id"]).any()
    assert (alloc["expected_gain"] > 0).all()
    # Every pair is eligible (features.eligibility) for an active employee, at the export date.
    names, trainings, eligible = eligibility_matrix(export, alloc["nip"].tolist(), export.exported_on)
    rows, cols = names.get_indexer(alloc["nip"]), trainings.get_indexer(alloc["training_id"])
    assert (rows >= 0).all() and (cols >= 0).all() and eligible[rows, cols].all()
    employees = export["employees"].set_index(export["employees"]["nip"].astype(str))
    assert (employees.loc[alloc["nip"], "status"] == ACTIVE_STATUS).all()
    assert (employees.loc[alloc["nip"], "unit_id"].to_numpy() == alloc["unit_id"].to_numpy()).all()
    titles = export["trainings"].set_index("training_id")["title"]
    assert (titles.loc[alloc["training_id"]].to_numpy() == alloc["title"].to_numpy()).all()
    assert whole_plan["scope"]["employees"] == int((export["employees"]["status"] == ACTIVE_STATUS).sum())


def test_no_employee_gets_two_trainings_for_one_competency(whole_plan: dict[str, Any], candidates: Any) -> None:
    pool, _ = candidates
    alloc = pd.DataFrame(whole_plan["allocations"]).merge(pool, on=["nip", "training_id"], how="left")
    assert alloc["competency_ids"].notna().all()  # every allocated pair was a candidate
    closes = alloc[["nip", "competency_ids"]].explode("competency_ids").dropna()
    assert not closes.duplicated().any()


def test_the_milp_is_at_least_as_good_as_greedy(whole_plan: dict[str, Any], candidates: Any) -> None:
    pool, request = candidates
    greedy = greedy_plan(pool, request.planner_options())
    assert greedy.totals["cost_idr"] <= BUDGET
    assert whole_plan["objective"] >= greedy.objective - 1e-9


def test_the_budget_curve_is_non_decreasing(whole_plan: dict[str, Any]) -> None:
    curve = whole_plan["curve"]
    assert [p["budget_idr"] for p in curve] == CURVE
    gains = [p["expected_gain"] for p in curve]
    assert gains == sorted(gains) and gains[0] < gains[-1]
    assert all(p["cost_idr"] <= p["budget_idr"] for p in curve)
    at_budget = next(p for p in curve if p["budget_idr"] == BUDGET)
    assert at_budget["expected_gain"] == pytest.approx(whole_plan["objective"], rel=1e-3)


def test_the_cli_path_gives_the_same_allocation(whole_plan: dict[str, Any], world: ServingWorld) -> None:
    request = PlanRequest(budget_idr=BUDGET, curve_budgets=tuple(CURVE))
    cli = plan_from_store(request, settings=world.settings())
    body = json.loads(json.dumps(cli.body(), default=str))
    assert body["allocations"] == whole_plan["allocations"]
    for key in ("status", "objective", "totals", "model_version", "as_of", "scope"):
        assert body[key] == whole_plan[key], key


def test_the_cli_command_writes_the_same_allocation(whole_plan: dict[str, Any], world: ServingWorld,
                                                    tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from features.settings import get_settings
    from kompetensi import cli

    for name, value in world.env().items():
        if name.startswith("KOMPETENSI_"):
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        out = tmp_path / "plan.csv"
        args = ["plan", "--budget-idr", str(BUDGET), "--out", str(out)]
        result = CliRunner().invoke(cli.app, args)
        assert result.exit_code == 0, result.output
        written = pd.read_csv(out, dtype={"nip": str})
        expected = pd.DataFrame(whole_plan["allocations"])
        assert written["nip"].tolist() == expected["nip"].tolist()
        assert written["training_id"].tolist() == expected["training_id"].tolist()
        assert int(written["cost_idr"].sum()) == whole_plan["totals"]["cost_idr"]
    finally:
        get_settings.cache_clear()


# ---------------------------------------------------------------------------------------------------
# Scope, errors and roles
# ---------------------------------------------------------------------------------------------------
def test_a_unit_plan_stays_in_the_unit(module_client: TestClient, world: ServingWorld,
                                       engine: tuple[Any, Export]) -> None:
    _, export = engine
    unit = _small_unit(export)
    response = module_client.post("/v1/plans", json={"budget_idr": 20_000_000, "unit_ids": [unit]},
                                  headers=world.auth("planner"))
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert body["scope"]["unit_ids"] == [unit] and body["curve"] is None
    assert {a["unit_id"] for a in body["allocations"]} <= {unit}
    assert body["totals"]["cost_idr"] <= 20_000_000


@pytest.mark.parametrize(("body", "field"), [
    ({"budget_idr": -1}, "budget_idr"),
    ({"budget_idr": 10, "curve_budgets": [5, -5]}, "curve_budgets.1"),
    ({"budget_idr": 10, "max_trainings_per_employee": -1}, "max_trainings_per_employee"),
    ({"unit_ids": ["X"]}, "budget_idr"),
])
def test_invalid_bodies_are_422_naming_the_field(module_client: TestClient, world: ServingWorld,
                                                 body: dict[str, Any], field: str) -> None:
    problem = _problem(module_client.post("/v1/plans", json=body, headers=world.auth("planner")), 422)
    assert field in {e["field"] for e in problem["errors"]}
    assert field in problem["detail"]


def test_unknown_units_and_trainings_are_404(module_client: TestClient, world: ServingWorld) -> None:
    auth = world.auth("planner")
    problem = _problem(module_client.post("/v1/plans", json={"budget_idr": 1, "unit_ids": ["NO-SUCH"]},
                                          headers=auth), 404)
    assert "NO-SUCH" in problem["detail"]
    _problem(module_client.post("/v1/plans", json={"budget_idr": 1, "exclude_training_ids": ["NOPE"]},
                                headers=auth), 404)
    problem = _problem(module_client.post("/v1/plans", json={"budget_idr": 1, "include_nips": ["1" * 18]},
                                          headers=auth), 404)
    assert "1" * 18 not in problem["detail"]  # a NIP is never echoed back
    problem = _problem(module_client.post(
        "/v1/plans", json={"budget_idr": 1, "include_nips": [world.nip], "exclude_nips": [world.nip]},
        headers=auth), 422)
    assert problem["errors"][0]["field"] == "exclude_nips" and world.nip not in problem["detail"]


def test_only_planners_and_admins_may_plan(module_client: TestClient, world: ServingWorld,
                                           engine: tuple[Any, Export]) -> None:
    _, export = engine
    body = {"budget_idr": 5_000_000, "unit_ids": [_small_unit(export)]}
    assert module_client.post("/v1/plans", json=body).status_code == 401
    _problem(module_client.post("/v1/plans", json=body, headers=world.auth("reader")), 403)
    _problem(module_client.post("/v1/plans", json={"budget_idr": -1}, headers=world.auth("reader")), 403)
    for role in ("planner", "admin"):
        assert module_client.post("/v1/plans", json=body, headers=world.auth(role)).status_code == 200


def test_plans_are_audited_with_their_inputs_and_model_version(module_client: TestClient, world: ServingWorld,
                                                               engine: tuple[Any, Export]) -> None:
    _, export = engine
    since = datetime.now(UTC).isoformat()  # after every earlier test's request
    unit = _small_unit(export)
    body = {"budget_idr": 7_000_000, "unit_ids": [unit], "include_nips": [world.nip], "jp_priority": True}
    assert module_client.post("/v1/plans", json=body, headers=world.auth("planner")).status_code == 200
    refused = {"budget_idr": 1, "unit_ids": ["NO-SUCH"]}
    assert module_client.post("/v1/plans", json=refused, headers=world.auth("planner")).status_code == 404
    plan_from_store(PlanRequest(budget_idr=3_000_000, unit_ids=(unit,)), settings=world.settings())

    items = module_client.get("/v1/audit", params={"since": since}, headers=world.auth("admin")).json()["items"]
    plans = [i for i in items if i["route"] == "/v1/plans"]
    assert [i["status"] for i in plans] == [200, 404]
    for item in plans:
        assert item["key_id"] == world.key_ids["planner"] and item["model_version"] == "2"
        assert item["nip"] is None and not re.search(r"\d{18}", item["inputs"])
    inputs = json.loads(plans[0]["inputs"])
    assert inputs["budget_idr"] == 7_000_000 and inputs["unit_ids"] == [unit]
    assert inputs["include_nips_count"] == 1 and inputs["jp_priority"] is True
    assert json.loads(plans[1]["inputs"])["unit_ids"] == ["NO-SUCH"]
    cli = [i for i in items if i["route"] == AUDIT_ROUTE_CLI]
    assert len(cli) == 1 and cli[0]["model_version"] == "2" and cli[0]["status"] == 200
    assert json.loads(cli[0]["inputs"])["budget_idr"] == 3_000_000


def test_an_audit_table_from_before_inputs_gets_the_column(tmp_path: Any) -> None:
    import sqlalchemy as sa

    from serving.audit import AuditLog, AuditRecord

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:  # the table as the first release created it
        conn.execute(sa.text("CREATE TABLE audit_log (id INTEGER PRIMARY KEY, at DATETIME NOT NULL, "
                             "key_id VARCHAR(32), method VARCHAR(8) NOT NULL, route VARCHAR(128) NOT NULL, "
                             "nip VARCHAR(32), nips_count INTEGER, model_version VARCHAR(128), "
                             "status INTEGER NOT NULL, latency_ms FLOAT NOT NULL)"))
    audit = AuditLog(lambda: engine)
    at = datetime(2026, 11, 28, tzinfo=UTC)
    audit.record(AuditRecord(at=at, key_id="k", method="POST", route="/v1/plans", nip=None, nips_count=3,
                             model_version="2", status=200, latency_ms=1.0, inputs='{"budget_idr":1}'))
    assert audit.flush(timeout=10) and audit.dropped == 0
    assert audit.read(at, 10)[0].inputs == '{"budget_idr":1}'
    audit.close()


def test_the_route_is_documented_with_an_example(module_client: TestClient) -> None:
    schema = module_client.get("/openapi.json").json()
    operation = schema["paths"]["/v1/plans"]["post"]
    assert {"401", "403", "404", "422", "503"} <= set(operation["responses"])
    body = schema["components"]["schemas"]["PlanRequest"]
    assert body["examples"][0]["budget_idr"] == 2_000_000_000
    assert body["properties"]["budget_idr"]["minimum"] == 0
