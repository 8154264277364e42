"""Property-based fuzzing of every operation in /openapi.json with schemathesis, against the real champion.

Bounded for CI (derandomized, a few examples per operation and generation mode): valid and invalid inputs
alike must never produce a 5xx, an undocumented status or content type, or a body that violates the
documented schema (problem+json included). The strategies are driven through Hypothesis directly because
schemathesis' lazy pytest loader does not run under pytest 9.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from serving.main import create_app
from tests.serving.conftest import ServingWorld

MAX_EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
SKIPPED = {("POST", "/v1/admin/reload")}  # reloading the same champion: covered by the reload tests


@pytest.mark.slow
def test_openapi_fuzz(store_world: ServingWorld) -> None:
    """On SQLite and on PostgreSQL 15 (the store behind the snapshot and the audit trail)."""
    world = store_world
    app = create_app(world.settings(), poll_seconds=None)
    with TestClient(app):  # runs the lifespan: the champion and the snapshot are loaded into app.state
        # Admin key: every route is reachable, so the handlers themselves see the fuzzed input.
        tested = fuzz_app(app, world.auth("admin"))
    assert tested >= 12


def fuzz_app(app: object, headers: dict[str, str], checks: list[Any] | None = None) -> int:
    """Run the OpenAPI examples and positive and negative cases of every operation; the number tested."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        for example in schema.get_strategies_from_examples(operation):
            _run(example, headers, checks, max_examples=1)
        _run(operation.as_strategy(generation_mode=GenerationMode.POSITIVE), headers, checks, max_examples=MAX_EXAMPLES)
        try:
            _run(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE), headers, checks,
                 max_examples=MAX_EXAMPLES)
        except Unsatisfiable:
            pass  # an operation without parameters or body has no invalid input to generate
        tested += 1
    return tested


def _run(strategy: Any, headers: dict[str, str], checks: list[Any] | None, *, max_examples: int) -> None:
    @settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=checks or CHECKS)

    check()
