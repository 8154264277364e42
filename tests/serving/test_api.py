"""Every endpoint through HTTP against the real trained champion, with its error answers."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from features.constants import JP_RIGHT_PER_YEAR
from tests.serving.conftest import ServingWorld

PROBLEM = "application/problem+json"
UNKNOWN_NIP = "190001011990011999"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= set(body)
    assert "Traceback" not in response.text
    return body


def _assert_additive(gaps: dict[str, Any]) -> None:
    assert gaps["competencies"], "the employee's position requires no competency"
    for item in gaps["competencies"]:
        explanation = item["explanation"]
        total = explanation["base_value"] + sum(c["contribution"] for c in explanation["contributions"])
        assert total == pytest.approx(item["predicted_level"], abs=1e-6)
        assert item["lower"] <= item["predicted_level"] <= item["upper"]
        assert item["gap"] == pytest.approx(max(0.0, item["required_level"] - item["predicted_level"]), abs=1e-9)
        assert all(not c["feature"].startswith("f") or not c["feature"][1:].isdigit()
                   for c in explanation["contributions"])  # business names, never f17


def test_health_ready_models(client: TestClient, world: ServingWorld) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "model_version": "2"}
    ready = client.get("/readyz").json()
    assert ready["model_version"] == "2" and ready["snapshot_id"]
    models = client.get("/v1/models", headers=world.auth("reader")).json()
    assert models["model_version"] == "2"
    (info,) = models["models"]
    assert info["model_version"] == "2" and info["alias"] == "champion"
    assert info["metrics"] == {"mae": 0.25, "coverage_80": 0.8}
    assert info["data_window"]["start"] < info["data_window"]["end"] <= info["as_of"]
    assert models["store"]["snapshot_id"] == ready["snapshot_id"]


def test_profile(client: TestClient, world: ServingWorld) -> None:
    body = client.get(f"/v1/employees/{world.nip}", headers=world.auth("reader")).json()
    assert body["nip"] == world.nip and body["model_version"] == "2"
    assert body["unit"]["unit_id"] == world.unit_id and body["position"]["position_id"] == world.position_id
    assert body["status"] == "aktif" and body["grade"] == world.employee["grade"]
    assert not {"birth_date", "sex"} & set(body)
    levels = body["current_levels"]
    assert levels and all(1.0 <= lv["level"] <= 5.0 and lv["assessed_on"] <= body["as_of"] for lv in levels)
    jp = body["jp"]
    assert jp["right_jp"] == JP_RIGHT_PER_YEAR
    assert jp["remaining_jp"] == max(0, JP_RIGHT_PER_YEAR - jp["completed_jp"])
    assert jp["meets_right"] == (jp["completed_jp"] >= JP_RIGHT_PER_YEAR)
    _problem(client.get(f"/v1/employees/{UNKNOWN_NIP}", headers=world.auth("reader")), 404)


def test_gaps_are_explained_and_additive(client: TestClient, world: ServingWorld) -> None:
    response = client.get(f"/v1/employees/{world.nip}/gaps", headers=world.auth("reader"))
    assert response.status_code == 200, response.text
    gaps = response.json()
    assert (gaps["nip"], gaps["model_version"], gaps["horizon_months"]) == (world.nip, "2", 12)
    assert gaps["total_gap"] == pytest.approx(sum(c["gap"] for c in gaps["competencies"]), abs=1e-9)
    _assert_additive(gaps)
    english = client.get(f"/v1/employees/{world.nip}/gaps?lang=en&horizon_months=24",
                         headers=world.auth("reader")).json()
    assert english["horizon_months"] == 24
    _assert_additive(english)
    texts_id = {c["text"] for item in gaps["competencies"] for c in item["explanation"]["contributions"]}
    texts_en = {c["text"] for item in english["competencies"] for c in item["explanation"]["contributions"]}
    assert texts_id.isdisjoint(texts_en)  # the sentences really are in another language


@pytest.mark.parametrize(("query", "field"), [
    ("horizon_months=0", "horizon_months"), ("horizon_months=61", "horizon_months"),
    ("lang=fr", "lang"), ("horizon_months=twelve", "horizon_months"),
])
def test_gaps_invalid_query_names_the_field(client: TestClient, world: ServingWorld, query: str, field: str) -> None:
    body = _problem(client.get(f"/v1/employees/{world.nip}/gaps?{query}", headers=world.auth("reader")), 422)
    assert [(e["field"], e["location"]) for e in body["errors"]] == [(field, "query")]
    assert field in body["detail"]


def test_gaps_unknown_and_malformed_nip(client: TestClient, world: ServingWorld) -> None:
    _problem(client.get(f"/v1/employees/{UNKNOWN_NIP}/gaps", headers=world.auth("reader")), 404)
    body = _problem(client.get("/v1/employees/12345/gaps", headers=world.auth("reader")), 422)
    assert body["errors"][0]["field"] == "nip"


def test_recommendations(client: TestClient, world: ServingWorld) -> None:
    response = client.get(f"/v1/employees/{world.nip}/recommendations?limit=3", headers=world.auth("reader"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["nip"] == world.nip and body["model_version"] == "2"
    items = body["items"]
    assert 1 <= len(items) <= 3
    assert [i["rank"] for i in items] == list(range(1, len(items) + 1))
    gains = [i["expected_gain"] for i in items]
    assert gains == sorted(gains, reverse=True)
    for item in items:
        assert item["closes"] and item["reasons"]
        assert all(c["gap_after"] < c["gap_before"] for c in item["closes"])
        assert item["evidence"]["participants"] >= 0
    cheapest = min(i["cost_idr"] for i in items)
    capped = client.get(f"/v1/employees/{world.nip}/recommendations?max_cost_idr={cheapest}",
                        headers=world.auth("reader")).json()
    assert all(i["cost_idr"] <= cheapest for i in capped["items"])
    for query, field in (("limit=0", "limit"), ("limit=21", "limit"), ("max_cost_idr=-1", "max_cost_idr")):
        bad = client.get(f"/v1/employees/{world.nip}/recommendations?{query}", headers=world.auth("reader"))
        assert _problem(bad, 422)["errors"][0]["field"] == field


def test_inline_prediction(client: TestClient, world: ServingWorld) -> None:
    stored = client.get(f"/v1/employees/{world.nip}", headers=world.auth("reader")).json()
    body = {
        "employee": world.employee | {"birth_date": world.protected["birth_date"], "sex": world.protected["sex"]},
        "assessments": [{"competency_id": lv["competency_id"], "assessed_on": lv["assessed_on"],
                         "level": lv["level"], "method": lv["method"]} for lv in stored["current_levels"]],
        "performance_reviews": [], "training_records": [], "horizon_months": 12,
    }
    response = client.post("/v1/predictions/gaps", json=body, headers=world.auth("reader"))
    assert response.status_code == 200, response.text
    gaps = response.json()
    assert gaps["model_version"] == "2" and gaps["position_id"] == world.position_id
    _assert_additive(gaps)
    assert world.protected["birth_date"] not in response.text

    wrong_grade = json.loads(json.dumps(body))
    wrong_grade["employee"]["grade"] = "V/a"
    problem = _problem(client.post("/v1/predictions/gaps", json=wrong_grade, headers=world.auth("reader")), 422)
    assert [e["field"] for e in problem["errors"]] == ["employee.grade"]
    assert "V/a" not in problem["detail"]  # inputs are never echoed

    bad_level = json.loads(json.dumps(body))
    bad_level["assessments"][0]["level"] = 7
    problem = _problem(client.post("/v1/predictions/gaps", json=bad_level, headers=world.auth("reader")), 422)
    assert [e["field"] for e in problem["errors"]] == ["assessments.0.level"]

    unknown_position = json.loads(json.dumps(body))
    unknown_position["employee"]["position_id"] = "NO-SUCH-POSITION"
    _problem(client.post("/v1/predictions/gaps", json=unknown_position, headers=world.auth("reader")), 404)

    future = body | {"as_of": "2999-01-01"}
    assert _problem(client.post("/v1/predictions/gaps", json=future, headers=world.auth("reader")),
                    422)["errors"][0]["field"] == "as_of"
    _problem(client.post("/v1/predictions/gaps", content=b"{not json", headers=world.auth("reader")
                         | {"content-type": "application/json"}), 422)


def test_batch_reports_unknown_nips_per_item(client: TestClient, world: ServingWorld) -> None:
    nips = [world.nip, UNKNOWN_NIP, "not-a-nip", *world.other_nips[:3]]
    response = client.post("/v1/recommendations:batch", json={"nips": nips, "limit": 2},
                           headers=world.auth("reader"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "2" and body["count"] == len(nips) and body["failed"] == 2
    assert [item["nip"] for item in body["items"]] == nips
    by_nip = {item["nip"]: item for item in body["items"]}
    assert by_nip[UNKNOWN_NIP]["error"]["status"] == 404 and by_nip[UNKNOWN_NIP]["items"] == []
    assert by_nip["not-a-nip"]["error"]["status"] == 422
    single = client.get(f"/v1/employees/{world.nip}/recommendations?limit=2", headers=world.auth("reader")).json()
    assert by_nip[world.nip]["items"] == single["items"]  # the batch answers exactly like the single route
    too_many = {"nips": [world.nip] * 1001}
    assert _problem(client.post("/v1/recommendations:batch", json=too_many, headers=world.auth("reader")),
                    422)["errors"][0]["field"] == "nips"
    _problem(client.post("/v1/recommendations:batch", json={"nips": []}, headers=world.auth("reader")), 422)


def test_whatif(client: TestClient, world: ServingWorld) -> None:
    body = {"nip": world.nip, "plan": [world.training_id]}
    response = client.post("/v1/whatif", json=body, headers=world.auth("planner"))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["model_version"] == "2"
    assert result["total_gap_after"] < result["total_gap_before"]  # the recommended training closes a gap
    assert result["total_gap_before"] == pytest.approx(result["baseline"]["total_gap"], abs=1e-9)
    assert sum(d["gap_change"] for d in result["delta"]) == pytest.approx(
        result["total_gap_after"] - result["total_gap_before"], abs=1e-5)
    _assert_additive(result["scenario"])
    _problem(client.post("/v1/whatif", json={"nip": world.nip, "plan": ["NO-SUCH-TRAINING"]},
                         headers=world.auth("planner")), 404)
    _problem(client.post("/v1/whatif", json={"nip": world.nip, "plan": [], "position_id": "NO-SUCH"},
                         headers=world.auth("planner")), 404)
    twice = _problem(client.post("/v1/whatif", json={"nip": world.nip, "plan": [world.training_id] * 2},
                                 headers=world.auth("planner")), 422)
    assert twice["errors"][0]["field"] == "plan"


def test_unit_summary(client: TestClient, world: ServingWorld) -> None:
    response = client.get(f"/v1/units/{world.unit_id}/summary", headers=world.auth("planner"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["unit_id"] == world.unit_id and body["model_version"] == "2" and body["employees"] >= 1
    assert sum(body["jpm_bands"].values()) == body["employees"]
    assert all(0.0 <= c["share_below_standard"] <= 1.0 for c in body["competencies"])
    _problem(client.get("/v1/units/NO-SUCH-UNIT/summary", headers=world.auth("planner")), 404)


def test_audit_trail(client: TestClient, world: ServingWorld) -> None:
    client.get(f"/v1/employees/{world.nip}/gaps", headers=world.auth("reader"))
    client.post("/v1/recommendations:batch", json={"nips": [world.nip, UNKNOWN_NIP]}, headers=world.auth("reader"))
    client.get(f"/v1/employees/{UNKNOWN_NIP}/gaps", headers=world.auth("reader"))
    client.get("/v1/models", headers=world.auth("reader"))  # not audited: no personal data
    response = client.get("/v1/audit?since=2000-01-01T00:00:00Z", headers=world.auth("admin"))
    assert response.status_code == 200, response.text
    items = [i for i in response.json()["items"] if i["key_id"] == world.key_ids["reader"]]
    seen = [(i["route"], i["nip"], i["nips_count"], i["status"], i["model_version"]) for i in items[-3:]]
    assert seen == [
        ("/v1/employees/{nip}/gaps", world.nip, None, 200, "2"),
        ("/v1/recommendations:batch", None, 2, 200, "2"),
        ("/v1/employees/{nip}/gaps", UNKNOWN_NIP, None, 404, "2"),
    ]
    assert all(i["latency_ms"] > 0 for i in items)
    assert "/v1/models" not in {i["route"] for i in items}
    assert world.keys["reader"] not in response.text
    later = client.get("/v1/audit?since=2999-01-01T00:00:00Z", headers=world.auth("admin")).json()
    assert later["items"] == [] and later["count"] == 0
    _problem(client.get("/v1/audit?since=yesterday", headers=world.auth("admin")), 422)


def test_metrics_count_routes_and_predictions(client: TestClient, world: ServingWorld) -> None:
    for _ in range(2):
        client.get(f"/v1/employees/{world.nip}/gaps", headers=world.auth("reader"))
    text = client.get("/metrics").text
    assert 'kompetensi_http_requests_total{method="GET",route="/v1/employees/{nip}/gaps",status="200"} 2.0' in text
    assert 'kompetensi_predictions_served_total{kind="gaps"} 2.0' in text
    assert 'kompetensi_model_info{model_version="2"' in text
    assert "kompetensi_model_loaded 1.0" in text
    assert world.nip not in text


def test_no_protected_attribute_in_responses_or_logs(
    client: TestClient, world: ServingWorld, caplog: pytest.LogCaptureFixture
) -> None:
    reader, planner = world.auth("reader"), world.auth("planner")
    caplog.set_level(logging.DEBUG)
    responses = [
        client.get(f"/v1/employees/{world.nip}", headers=reader),
        client.get(f"/v1/employees/{world.nip}/gaps", headers=reader),
        client.get(f"/v1/employees/{world.nip}/gaps?lang=en", headers=reader),
        client.get(f"/v1/employees/{world.nip}/recommendations", headers=reader),
        client.post("/v1/recommendations:batch", json={"nips": [world.nip]}, headers=reader),
        client.post("/v1/whatif", json={"nip": world.nip, "plan": [world.training_id]}, headers=planner),
        client.get(f"/v1/units/{world.unit_id}/summary", headers=planner),
        client.get(f"/v1/employees/{UNKNOWN_NIP}/gaps", headers=reader),
    ]
    for response in responses:
        assert response.status_code in (200, 404)
        keys = _all_keys(response.json())
        assert not keys & {"birth_date", "sex", "tanggal_lahir", "jenis_kelamin"}, response.url
        assert world.protected["birth_date"] not in response.text, response.url
    # Everything the server side logged (the test's own HTTP client logs its URLs: that is not the server).
    server_records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(record.getMessage() for record in server_records)
    assert any(r.name == "serving.access" for r in server_records), "the access log should record the requests"
    assert world.protected["birth_date"] not in logged
    assert world.nip not in logged  # its digits encode birth date and sex
    assert world.keys["reader"] not in logged and world.keys["planner"] not in logged


def _all_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _all_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _all_keys(v)}
    return set()
