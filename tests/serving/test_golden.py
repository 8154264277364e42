"""Golden answers: the API's gaps, recommendations, what-if and plan, and `kompetensi score`'s files, for the
serving world (a fixed generated export, fixed seeds, the really trained champion), compared with the
answers recorded in `tests/serving/golden/`.

Recorded before the code was reorganised (issue "One-way house") so that moving code cannot change an
answer unnoticed. A change that is *meant* to change answers re-records them and says so in its commit:

    KOMPETENSI_UPDATE_GOLDEN=1 .venv/bin/pytest tests/serving/test_golden.py

`score` runs through the installed `kompetensi` console script, so the test does not depend on where the
command's code lives.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.serving.conftest import ServingWorld

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("KOMPETENSI_UPDATE_GOLDEN") == "1"
TOLERANCE = 1e-9  # absolute and relative: the same code on the same machine, but the order of float sums may move
VOLATILE = {"solve_seconds", "candidates_seconds"}  # wall-clock times, not answers
PLAN_BODY = {"budget_idr": 40_000_000, "max_trainings_per_employee": 2, "curve_budgets": [10_000_000, 40_000_000]}


def _same(recorded: Any, actual: Any, where: str, differences: list[str]) -> None:
    if len(differences) >= 20:
        return
    if isinstance(recorded, dict) and isinstance(actual, dict):
        if recorded.keys() != actual.keys():
            differences.append(f"{where}: keys {sorted(recorded)} != {sorted(actual)}")
            return
        for key in recorded:
            if key not in VOLATILE:
                _same(recorded[key], actual[key], f"{where}.{key}", differences)
    elif isinstance(recorded, list) and isinstance(actual, list):
        if len(recorded) != len(actual):
            differences.append(f"{where}: {len(recorded)} items recorded, {len(actual)} now")
            return
        for i, (a, b) in enumerate(zip(recorded, actual, strict=True)):
            _same(a, b, f"{where}[{i}]", differences)
    elif isinstance(recorded, float | int) and isinstance(actual, float | int) and not isinstance(recorded, bool):
        if not math.isclose(recorded, actual, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
            differences.append(f"{where}: recorded {recorded!r}, now {actual!r}")
    elif recorded != actual:
        differences.append(f"{where}: recorded {recorded!r}, now {actual!r}")


def _check(name: str, actual: Any) -> None:
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        indent = None if name.startswith("score-") else 1  # the batch files: one line, they are long
        path.write_text(json.dumps(actual, indent=indent, ensure_ascii=False, sort_keys=True) + "\n")
        return
    assert path.exists(), f"no recorded answer {path}; record with KOMPETENSI_UPDATE_GOLDEN=1"
    differences: list[str] = []
    _same(json.loads(path.read_text()), actual, name, differences)
    assert not differences, f"{name} differs from {path.name}:\n" + "\n".join(differences)


def _csv_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a batch CSV with numbers as numbers (so the comparison has the float tolerance)."""
    rows = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            parsed: dict[str, Any] = {}
            for key, value in row.items():
                try:
                    parsed[key] = float(value) if key != "nip" and key != "training_id" else value
                except ValueError:
                    parsed[key] = value
            rows.append(parsed)
    return rows


@pytest.fixture(scope="module")
def golden_client(world: ServingWorld) -> Any:
    from serving.main import create_app

    with TestClient(create_app(world.settings(), poll_seconds=None)) as test_client:
        yield test_client


def _get(client: TestClient, world: ServingWorld, url: str) -> Any:
    response = client.get(url, headers=world.auth("planner"))
    assert response.status_code == 200, response.text[:500]
    return response.json()


def _post(client: TestClient, world: ServingWorld, url: str, body: dict[str, Any]) -> Any:
    response = client.post(url, json=body, headers=world.auth("planner"))
    assert response.status_code == 200, response.text[:500]
    return response.json()


def test_gaps_answers_are_the_recorded_ones(golden_client: TestClient, world: ServingWorld) -> None:
    for nip in (world.nip, *world.other_nips[:3]):
        for lang in ("id", "en"):
            _check(f"gaps-{nip}-{lang}", _get(golden_client, world, f"/v1/employees/{nip}/gaps?lang={lang}"))


def test_recommendation_answers_are_the_recorded_ones(golden_client: TestClient, world: ServingWorld) -> None:
    for nip in (world.nip, *world.other_nips[:3]):
        _check(f"recommendations-{nip}",
               _get(golden_client, world, f"/v1/employees/{nip}/recommendations?limit=8"))
    _check("recommendations-batch",
           _post(golden_client, world, "/v1/recommendations:batch", {"nips": list(world.other_nips), "limit": 3}))


def test_whatif_answer_is_the_recorded_one(golden_client: TestClient, world: ServingWorld) -> None:
    _check("whatif", _post(golden_client, world, "/v1/whatif", {"nip": world.nip, "plan": [world.training_id]}))
    _check("whatif-position", _post(golden_client, world, "/v1/whatif",
                                    {"nip": world.nip, "plan": [], "position_id": world.position_id}))


def test_plan_answer_is_the_recorded_one(golden_client: TestClient, world: ServingWorld) -> None:
    _check("plan", _post(golden_client, world, "/v1/plans", PLAN_BODY))
    _check("unit-summary", _get(golden_client, world, f"/v1/units/{world.unit_id}/summary"))


def test_score_files_are_the_recorded_ones(world: ServingWorld, tmp_path: Path) -> None:
    command = Path(sys.executable).with_name("kompetensi")
    out = tmp_path / "scores"
    done = subprocess.run([str(command), "score", "--out", str(out), "--format", "csv", "--top", "5"],
                          env=world.env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    _check("score-gaps", _csv_rows(out / "gaps.csv"))
    _check("score-recommendations", _csv_rows(out / "recommendations.csv"))
