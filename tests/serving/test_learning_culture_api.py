"""`learning_culture` in GET /v1/units/{unit_id}/summary (issue 19 point 4) on the serving world: the
engine's figures for the served snapshot, in both languages, documented in /openapi.json, and nothing
about a person in the whole unit answer."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from engine.culture import culture_table, learning_culture
from engine.units import unit_scope
from features.io import read_export
from tests.serving.conftest import ServingWorld


def _units_by_staff(world: ServingWorld) -> list[tuple[int, str]]:
    """(active staff with sub-units, unit_id), most staff first."""
    export = read_export(world.export_dir)
    employees = export["employees"]
    active = employees.loc[employees["status"] == "aktif", "unit_id"].astype(str)
    counts = [(int(active.isin(unit_scope(export["units"], [u])).sum()), u)
              for u in export["units"]["unit_id"].astype(str)]
    return sorted(counts, key=lambda c: (-c[0], c[1]))


def _summary(client: TestClient, world: ServingWorld, unit_id: str, lang: str) -> dict:
    response = client.get(f"/v1/units/{unit_id}/summary", params={"lang": lang}, headers=world.auth("planner"))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.slow
def test_unit_summary_carries_the_learning_culture(client: TestClient, world: ServingWorld) -> None:
    staff, unit = _units_by_staff(world)[0]
    body = _summary(client, world, unit, "id")
    culture = body["learning_culture"]
    export = read_export(world.export_dir)
    expected = learning_culture(culture_table(export, export.exported_on), unit, "id")
    assert culture["as_of"] == export.exported_on.isoformat() == body["as_of"]
    assert culture["completion_rate"]["value"] == pytest.approx(expected.completion_rate.value, abs=1e-9)
    assert culture["no_training_share"]["value"] == pytest.approx(expected.no_training_share.value, abs=1e-9)
    assert [y["year"] for y in culture["jp_compliance"]] == [y.year for y in expected.jp_compliance]
    assert [y["figure"]["value"] for y in culture["jp_compliance"]] == pytest.approx(
        [y.figure.value for y in expected.jp_compliance], abs=1e-9)
    assert culture["completion_rate"]["city"]["median"] == pytest.approx(expected.completion_rate.city.median)
    assert culture["jp_compliance"][-1]["figure"]["basis"] <= body["employees"] == staff
    assert culture["units_in_city"] == len(export["units"])

    english = _summary(client, world, unit, "en")["learning_culture"]
    assert english["note"] != culture["note"] and "no value per person" in english["note"]
    assert english["completion_rate"] == culture["completion_rate"]  # numbers do not depend on the language


@pytest.mark.slow
def test_small_units_are_suppressed_and_no_person_is_in_the_answer(client: TestClient, world: ServingWorld) -> None:
    small = next(u for n, u in _units_by_staff(world) if 0 < n < 5)
    nips = set(read_export(world.export_dir)["employees"]["nip"].astype(str))
    for unit, lang in ((small, "id"), (small, "en"), (world.unit_id, "id")):
        response = client.get(f"/v1/units/{unit}/summary", params={"lang": lang}, headers=world.auth("planner"))
        assert response.status_code == 200
        assert not nips & set(re.findall(r"[0-9]{18}", response.text))
    culture = _summary(client, world, small, "en")["learning_culture"]
    for figure in [culture["completion_rate"], culture["no_training_share"]] + [
            y["figure"] for y in culture["jp_compliance"]]:
        assert figure["value"] is None and figure["basis"] is None
        assert figure["suppressed_reason"].startswith("Hidden: fewer than 5")
    assert _summary(client, world, small, "id")["learning_culture"]["completion_rate"][
        "suppressed_reason"].startswith("Disembunyikan")


def test_openapi_documents_the_learning_culture(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    summary = schemas["UnitSummary"]
    assert "learning_culture" in summary["required"]
    assert "aggregates only" in summary["properties"]["learning_culture"]["description"]
    culture = schemas["LearningCulture"]["properties"]
    assert "tidak_selesai" in culture["completion_rate"]["description"]
    assert "percentile" in schemas["CityRange"]["properties"]["unit_percentile"]["description"]
    assert "suppressed" in schemas["CultureFigure"]["properties"]["value"]["description"]
