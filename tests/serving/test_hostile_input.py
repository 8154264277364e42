"""Hostile and absurd input (issue 14): bodies bounded while they stream and refused before authentication,
malformed JSON without a key answered 401, every bound a 422 problem and never a 500, one horizon limit,
and an unexpected error logged once.

The body tests drive the app at the ASGI level with a `receive` that counts the bytes the app pulls, so
"refused before the body is read" is measured, not inferred from the status.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from features.constants import MAX_HORIZON_MONTHS
from features.settings import DEFAULT_MAX_BODY_BYTES
from serving.main import create_app
from tests.serving.conftest import ServingWorld

PROBLEM = "application/problem+json"
MIB = 1 << 20


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    pulled: int  # body bytes the app took from the client

    def json(self) -> Any:
        return json.loads(self.body)


def asgi_request(client: TestClient, method: str, path: str, headers: dict[str, str],
                 chunks: Iterator[bytes], query: str = "") -> Answer:
    """One request straight into the app (lifespan already run by `client`), its body fed chunk by chunk
    only as the app asks for it."""
    pulled = 0
    status, answer_headers, body = 0, {}, bytearray()

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, answer_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            answer_headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }

    async def call() -> None:
        await client.app(scope, receive, send)

    assert client.portal is not None
    client.portal.call(call)
    return Answer(status, answer_headers, bytes(body), pulled)


def stream(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    piece = b" " * chunk
    for _ in range(total // chunk):
        yield piece


def _problem(answer: Answer, status: int) -> dict[str, Any]:
    assert answer.status == status, answer.body[:300]
    assert answer.headers["content-type"] == PROBLEM
    return answer.json()


@pytest.fixture
def small_limit_client(world: ServingWorld) -> Iterator[TestClient]:
    """The app with a 64 KiB body limit (KOMPETENSI_MAX_BODY_BYTES), so that limits are cheap to cross."""
    settings = world.settings().model_copy(update={"max_body_bytes": 64 * 1024})
    with TestClient(create_app(settings, poll_seconds=None)) as client:
        yield client


# ---------------------------------------------------------------------------------------------------
# 1. The body limit, enforced while the body streams and before authentication
# ---------------------------------------------------------------------------------------------------
def test_declared_oversized_body_is_413_before_a_byte_is_read(client: TestClient, world: ServingWorld) -> None:
    headers = world.auth("reader") | {"content-type": "application/json", "content-length": str(300 * MIB)}

    answer = asgi_request(client, "POST", "/v1/recommendations:batch", headers, stream(300 * MIB))

    body = _problem(answer, 413)
    assert answer.pulled == 0
    assert body["type"] == "urn:asn-kompetensi:problem:body-too-large" and body["status"] == 413
    assert "1.048.576 bita" in body["detail"]  # Indonesian by default


def test_oversized_body_without_a_key_is_413_too(client: TestClient) -> None:
    headers = {"content-type": "application/json", "content-length": str(300 * MIB)}

    answer = asgi_request(client, "POST", "/v1/plans", headers, stream(300 * MIB), query="lang=en")

    assert _problem(answer, 413)["detail"].startswith("The request body exceeds the limit of 1,048,576 bytes")
    assert answer.pulled == 0


def test_streamed_body_is_cut_at_the_limit(small_limit_client: TestClient, world: ServingWorld) -> None:
    """Chunked, no Content-Length: the app stops receiving one chunk past the limit and answers 413."""
    headers = world.auth("reader") | {"content-type": "application/json", "transfer-encoding": "chunked"}

    answer = asgi_request(small_limit_client, "POST", "/v1/predictions/gaps", headers, stream(20 * MIB, 8192))

    _problem(answer, 413)
    assert 64 * 1024 < answer.pulled <= 64 * 1024 + 8192


def test_a_body_at_the_limit_is_accepted(small_limit_client: TestClient, world: ServingWorld) -> None:
    body = json.dumps({"nips": [world.nip], "limit": 1}).encode()
    padded = body + b" " * (64 * 1024 - len(body))

    at_limit = small_limit_client.post("/v1/recommendations:batch", content=padded,
                                       headers=world.auth("reader") | {"content-type": "application/json"})
    over = small_limit_client.post("/v1/recommendations:batch", content=padded + b" ",
                                   headers=world.auth("reader") | {"content-type": "application/json"})

    assert at_limit.status_code == 200 and at_limit.json()["count"] == 1
    assert over.status_code == 413 and over.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic eDp5"}])
def test_body_without_a_valid_key_is_refused_unread(client: TestClient, headers: dict[str, str]) -> None:
    """A 20 MB chunked body without a valid key: 401 before the app takes a single byte."""
    headers = headers | {"content-type": "application/json", "transfer-encoding": "chunked"}

    answer = asgi_request(client, "POST", "/v1/predictions/gaps", headers, stream(20 * MIB))

    body = _problem(answer, 401)
    assert answer.pulled == 0 and answer.headers["www-authenticate"] == "Bearer"
    assert body["type"] == "urn:asn-kompetensi:problem:unauthorized"


@pytest.mark.parametrize("route", ["/v1/predictions/gaps", "/v1/recommendations:batch", "/v1/whatif",
                                   "/v1/plans", "/v1/admin/reload"])
def test_malformed_json_without_a_key_is_401(client: TestClient, route: str) -> None:
    response = client.post(route, content=b'{"nips": [', headers={"content-type": "application/json"})

    assert response.status_code == 401 and response.headers["content-type"] == PROBLEM


def test_malformed_json_with_a_key_is_still_422(client: TestClient, world: ServingWorld) -> None:
    response = client.post("/v1/recommendations:batch", content=b'{"nips": [',
                           headers=world.auth("reader") | {"content-type": "application/json"})

    assert response.status_code == 422 and response.json()["errors"][0]["location"] == "body"


def test_wrong_role_with_a_body_is_still_403(client: TestClient, world: ServingWorld) -> None:
    response = client.post("/v1/plans", json={"budget_idr": 1}, headers=world.auth("reader"))

    assert response.status_code == 403


def test_default_limit_takes_the_largest_legitimate_bodies() -> None:
    """Every list of the largest request types at its max_length, pretty-printed, fits the default."""
    from engine.plans import MAX_LISTED_NIPS, MAX_LISTED_TRAININGS, MAX_UNITS, PlanRequest
    from serving.schemas import MAX_BATCH_NIPS, BatchRecommendationsRequest, GapPredictionRequest

    def nips(first: int, count: int) -> list[str]:
        return [str(198503122010011000 + first + i) for i in range(count)]

    def ids(prefix: str, count: int) -> list[str]:
        return [f"{prefix}{i:063d}" for i in range(count)]

    batch = {"nips": nips(0, MAX_BATCH_NIPS), "limit": 20}
    plan = {"budget_idr": 10**15, "unit_ids": ids("U", MAX_UNITS), "include_nips": nips(0, MAX_LISTED_NIPS),
            "exclude_nips": nips(MAX_LISTED_NIPS, MAX_LISTED_NIPS),
            "include_training_ids": ids("T", MAX_LISTED_TRAININGS),
            "exclude_training_ids": ids("X", MAX_LISTED_TRAININGS),
            "seat_capacity": dict.fromkeys(ids("T", MAX_LISTED_TRAININGS), 10**6)}
    example = GapPredictionRequest.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    inline = example | {"assessments": example["assessments"] * 2000,
                        "performance_reviews": example["performance_reviews"] * 100,
                        "training_records": example["training_records"] * 1000}
    for model, body in ((BatchRecommendationsRequest, batch), (PlanRequest, plan), (GapPredictionRequest, inline)):
        model.model_validate(body)  # legitimate: the schema accepts it
        assert len(json.dumps(body, indent=2).encode()) < DEFAULT_MAX_BODY_BYTES, model.__name__


def test_openapi_documents_413_for_every_body(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    with_body = [op for ops in paths.values() for op in ops.values() if "requestBody" in op]

    assert len(with_body) >= 4
    assert all(PROBLEM in op["responses"]["413"]["content"] for op in with_body)


def test_unauthenticated_routes_and_gets_pass_the_guard(client: TestClient, world: ServingWorld) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get(f"/v1/employees/{world.nip}", headers=world.auth("reader")).status_code == 200
    assert client.get(f"/v1/employees/{world.nip}").status_code == 401


# ---------------------------------------------------------------------------------------------------
# 5. Every input bounded: a 422 problem naming the field, never a 500
# ---------------------------------------------------------------------------------------------------
def _inline(world: ServingWorld, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "employee": dict(world.employee),
        "assessments": [{"competency_id": "M-KOM", "assessed_on": "2020-05-14", "level": 2.4,
                         "method": "assessment_center"}],
        "training_records": [{"training_id": world.training_id, "started_on": "2020-02-05",
                              "completed_on": "2020-02-09", "status": "selesai", "post_test_score": 82}],
    }
    for path, value in changes.items():
        target = body
        *parents, leaf = path.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(leaf) if leaf.isdigit() else leaf] = value
    return body


@pytest.mark.parametrize(("field", "value"), [
    ("as_of", "1000-01-01"), ("as_of", "1677-09-20"), ("as_of", "0001-01-01"), ("as_of", "2262-04-12"),
    ("as_of", "9999-12-31"), ("employee.hired_on", "1200-01-01"), ("employee.hired_on", "0001-01-01"),
    ("assessments.0.assessed_on", "1600-01-01"), ("assessments.0.assessed_on", "9999-12-31"),
    ("training_records.0.started_on", "1500-01-01"), ("training_records.0.completed_on", "9000-01-01"),
    ("assessments.0.level", 1e308), ("training_records.0.post_test_score", -1e308),
])
def test_absurd_values_in_an_inline_prediction_are_422(client: TestClient, world: ServingWorld, field: str,
                                                       value: Any) -> None:
    response = client.post("/v1/predictions/gaps", json=_inline(world, **{field: value}),
                           headers=world.auth("reader"))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert any(field.split(".")[-1] in error["field"] for error in response.json()["errors"])


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_422(client: TestClient, world: ServingWorld, literal: str) -> None:
    body = json.dumps(_inline(world)).replace('"level": 2.4', f'"level": {literal}')

    response = client.post("/v1/predictions/gaps", content=body,
                           headers=world.auth("reader") | {"content-type": "application/json"})

    assert response.status_code == 422 and response.json()["errors"][0]["field"].endswith("level")


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/v1/recommendations:batch", {"nips": ["x"], "max_cost_idr": 10**30}, "max_cost_idr"),
    ("POST", "/v1/recommendations:batch", {"nips": ["x"], "limit": 10**30}, "limit"),
    ("POST", "/v1/recommendations:batch", {"nips": ["1" * 100_000]}, "nips.0"),
    ("POST", "/v1/plans", {"budget_idr": 10**400}, "budget_idr"),
    ("POST", "/v1/plans", {"budget_idr": 1, "time_limit_s": 1e308}, "time_limit_s"),
    ("POST", "/v1/whatif", {"nip": "1" * 18, "plan": ["x" * 100_000]}, "plan.0"),
    ("GET", "/v1/employees/{nip}/recommendations?max_cost_idr=" + "9" * 40, None, "max_cost_idr"),
    ("GET", "/v1/employees/{nip}/recommendations?limit=" + "9" * 40, None, "limit"),
    ("GET", "/v1/employees/{nip}/gaps?horizon_months=-" + "9" * 40, None, "horizon_months"),
    ("GET", "/v1/units/" + "u" * 10_000 + "/summary", None, "unit_id"),
])
def test_absurd_numbers_and_strings_are_422(client: TestClient, world: ServingWorld, method: str, path: str,
                                            body: Any, field: str) -> None:
    response = client.request(method, path.format(nip=world.nip), json=body, headers=world.auth("admin"))

    assert response.status_code == 422, response.text[:300]
    assert field in {error["field"] for error in response.json()["errors"]}


def test_deeply_nested_json_is_422(client: TestClient, world: ServingWorld) -> None:
    response = client.post("/v1/plans", content=b"[" * 200_000,
                           headers=world.auth("planner") | {"content-type": "application/json"})

    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM


def test_audit_since_at_the_ends_of_the_calendar_is_not_a_500(client: TestClient, world: ServingWorld) -> None:
    for since in ("0001-01-01T00:00:00", "9999-12-31T23:59:59", "0001-01-01T00:00:00+14:00",
                  "9999-12-31T23:59:59-14:00"):
        response = client.get("/v1/audit", params={"since": since}, headers=world.auth("admin"))
        assert response.status_code in (200, 422), (since, response.text[:300])


# ---------------------------------------------------------------------------------------------------
# One horizon limit, from one constant
# ---------------------------------------------------------------------------------------------------
def _horizon_limits(schema: dict[str, Any]) -> set[int]:
    found: set[int] = set()

    def walk(node: Any, name: str | None = None) -> None:
        if isinstance(node, dict):
            if name == "horizon_months" and "maximum" in node:
                found.add(node["maximum"])
            for key, value in node.items():
                walk(value, node.get("name") if key == "schema" else key)
        elif isinstance(node, list):
            for item in node:
                walk(item, name)

    walk(schema)
    return found


def test_every_horizon_limit_is_the_model_s(client: TestClient, world: ServingWorld) -> None:
    from engine.core import PredictorCore
    from features.pit_pairs import MAX_PAIR_MONTHS

    assert _horizon_limits(client.get("/openapi.json").json()) == {MAX_HORIZON_MONTHS}
    assert MAX_HORIZON_MONTHS == MAX_PAIR_MONTHS == 36
    PredictorCore._check(MAX_HORIZON_MONTHS, "id")
    longest = client.get(f"/v1/employees/{world.nip}/gaps?horizon_months={MAX_HORIZON_MONTHS}",
                         headers=world.auth("reader"))
    beyond = client.get(f"/v1/employees/{world.nip}/gaps?horizon_months={MAX_HORIZON_MONTHS + 1}",
                        headers=world.auth("reader"))
    inline = client.post("/v1/predictions/gaps", json=_inline(world, horizon_months=48),
                         headers=world.auth("reader"))
    assert longest.status_code == 200
    assert beyond.status_code == 422 and beyond.json()["errors"][0]["location"] == "query"
    assert inline.status_code == 422 and inline.json()["errors"][0]["field"] == "horizon_months"


def test_cli_horizon_option_has_the_same_limit() -> None:
    from typer.testing import CliRunner

    from kompetensi.cli import app

    result = CliRunner().invoke(app, ["score", "--out", "x", "--horizon-months", str(MAX_HORIZON_MONTHS + 1)])

    assert result.exit_code == 2 and "horizon-months" in result.output


@pytest.mark.parametrize("as_of", ["0001-01-01", "1677-01-01", "9999-12-31"])
def test_cli_dates_outside_the_calendar_are_refused_with_a_reason(capsys: pytest.CaptureFixture[str],
                                                                  as_of: str) -> None:
    """`kompetensi score --as-of`, `generate --exported-on`, `evaluate --cutoff`: one line, not a traceback."""
    import typer

    from features.console import parse_date

    with pytest.raises(typer.Exit):
        parse_date(as_of, "--as-of")
    assert f"--as-of {as_of} is outside 1900-01-01 to 2199-12-31" in capsys.readouterr().err
    assert str(parse_date("2024-02-29", "--as-of")) == "2024-02-29"


# ---------------------------------------------------------------------------------------------------
# An unexpected error is answered 500 and logged once
# ---------------------------------------------------------------------------------------------------
def test_unexpected_error_is_answered_and_logged_once(world: ServingWorld, caplog: pytest.LogCaptureFixture
                                                      ) -> None:
    """The exception stops inside the app (a server that sees it re-raised logs its traceback again)."""
    app = create_app(world.settings(), poll_seconds=None)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("internal detail")

    caplog.set_level(logging.DEBUG)
    with TestClient(app) as client:  # raise_server_exceptions: an exception leaving the app fails here
        response = client.get("/boom")
    assert response.status_code == 500 and response.headers["content-type"] == PROBLEM
    traced = [r for r in caplog.records if "Traceback" in r.getMessage() or r.exc_info]
    assert len(traced) == 1 and "RuntimeError: internal detail" in traced[0].getMessage()



def test_an_invented_method_is_not_echoed_in_full(client: TestClient, world: ServingWorld) -> None:
    response = client.request("X" * 8192, f"/v1/employees/{world.nip}", headers=world.auth("reader"))

    assert response.status_code == 405 and response.headers["content-type"] == PROBLEM
    assert len(response.text) < 600 and "X" * 17 not in response.text
