"""/metrics stays small whatever clients send (issue 14): every label value comes from a closed set.

The probe that found it: 2,000 requests with invented 8 KB methods and 2,000 random paths grew /metrics to
284 MB. Here 10,000 such requests, against the real app.
"""

from __future__ import annotations

import random
import re
import string

import pytest
from fastapi.testclient import TestClient

from serving.metrics import HTTP_METHODS, OTHER_METHOD, method_label, status_label
from tests.serving.conftest import ServingWorld

FLOOD = 10_000
MAX_METRICS_BYTES = 200 * 1024
SERIES = re.compile(r'^kompetensi_http_requests_total\{method="([^"]*)",route="([^"]*)",status="([^"]*)"\}', re.M)


def _invented_method(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_uppercase, k=rng.choice((3, 40, 1000, 8 * 1024))))


def _random_path(rng: random.Random) -> str:
    segments = ["".join(rng.choices(string.ascii_lowercase + string.digits, k=rng.randint(1, 300)))
                for _ in range(rng.randint(1, 6))]
    prefix = rng.choice(("", "v1/", "v1/employees/", "ui/", "static/docs/"))
    return "/" + prefix + "/".join(segments)


@pytest.mark.slow  # ~40 s: 10,000 requests through the real app
def test_invented_methods_and_paths_leave_metrics_small(client: TestClient, world: ServingWorld) -> None:
    rng = random.Random(14)
    statuses: set[int] = set()
    for i in range(FLOOD):
        if i % 2:
            response = client.request(_invented_method(rng), _random_path(rng) if i % 4 == 1 else "/v1/models")
        else:
            method = rng.choice(("GET", "POST", "DELETE"))
            response = client.request(method, _random_path(rng), headers=world.auth("reader"))
        statuses.add(response.status_code)
        assert response.status_code < 500, response.text[:200]

    body = client.get("/metrics").text

    assert len(body.encode()) < MAX_METRICS_BYTES, len(body.encode())
    series = SERIES.findall(body)
    templates = {path for path in client.get("/openapi.json").json()["paths"]}
    assert {method for method, _, _ in series} <= HTTP_METHODS | {OTHER_METHOD}
    assert OTHER_METHOD in {method for method, _, _ in series}
    assert {route for _, route, _ in series} - templates <= {"unmatched", "/ui", "/static/docs", "/ui/{asset:path}"}
    assert sum(1 for _, route, _ in series if route == "unmatched") <= len(HTTP_METHODS | {OTHER_METHOD}) * 4
    assert statuses  # the flood was answered (404, 405, 401 ...), not refused by the client


def test_labels_come_from_closed_sets() -> None:
    assert method_label("GET") == "GET" and method_label("PROPFIND") == OTHER_METHOD
    assert method_label("get") == OTHER_METHOD  # methods are case-sensitive (RFC 9110)
    assert method_label("X" * 8192) == OTHER_METHOD
    assert status_label(404) == "404" and status_label(599) == "5xx" and status_label(299) == "2xx"
    assert status_label(1000) == "xxx" and status_label(-1) == "xxx"
