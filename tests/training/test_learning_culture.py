"""A unit's learning culture (`engine.culture`, issue 19 point 4) on a small generated export.

The expected figures are recomputed here row by row from the raw tables (plain Python over dates, the unit
tree walked from the top), not with the engine's vectorised code, and compared with its answer; the
small-cell rule and the absence of anything personal are checked on the same export.
"""

from __future__ import annotations

import json
import pickle
import re
import statistics
from dataclasses import replace
from datetime import date

import pandas as pd
import pytest
from pydantic import TypeAdapter

from engine.culture import MIN_CELL, culture_table, learning_culture
from engine.predictor import Predictor
from engine.results import LearningCulture
from features.export import Export
from tests.exports import generated_export

EXPORTED_ON = date(2026, 6, 30)  # a 30 June: "36 / 24 months before" is the same day, 3 / 2 years earlier


@pytest.fixture(scope="module")
def export() -> Export:
    return generated_export(300, 4, 5, EXPORTED_ON)


def _scope(export: Export, unit_id: str) -> set[str]:
    children: dict[str, list[str]] = {}
    for unit, parent in zip(export["units"]["unit_id"], export["units"]["parent_unit_id"], strict=True):
        if isinstance(parent, str) and parent:
            children.setdefault(parent, []).append(unit)
    scope, todo = set(), [unit_id]
    while todo:
        unit = todo.pop()
        scope.add(unit)
        todo.extend(children.get(unit, []))
    return scope


def _day(value: object) -> date | None:
    return None if pd.isna(value) else pd.Timestamp(value).date()


def _expected(export: Export, unit_id: str) -> dict[str, tuple[int, int, int]]:
    """figure → (numerator, basis, people behind it), straight from the rows."""
    as_of = export.exported_on
    scope = _scope(export, unit_id)
    staff = {str(r.nip): _day(r.hired_on) for r in export["employees"].itertuples()
             if r.status == "aktif" and r.unit_id in scope}
    hours = {str(t.training_id): int(t.hours_jp) for t in export["trainings"].itertuples()}
    since36 = date(as_of.year - 3, as_of.month, as_of.day)
    since24 = date(as_of.year - 2, as_of.month, as_of.day)
    done = ended = 0
    people: set[str] = set()
    trained: set[str] = set()
    jp: dict[tuple[str, int], int] = {}
    for r in export["training_records"].itertuples():
        nip = str(r.nip)
        if nip not in staff:
            continue
        completed, started = _day(r.completed_on), _day(r.started_on)
        end = completed or started
        if r.status in ("selesai", "tidak_selesai") and end is not None and since36 < end <= as_of:
            ended += 1
            done += r.status == "selesai"
            people.add(nip)
        if r.status == "selesai" and completed is not None and completed <= as_of:
            if completed > since24:
                trained.add(nip)
            jp[nip, completed.year] = jp.get((nip, completed.year), 0) + hours[str(r.training_id)]
    out = {"completion": (done, ended, len(people))}
    serving = [n for n, hired in staff.items() if hired <= since24]
    out["no_training"] = (sum(n not in trained for n in serving), len(serving), len(serving))
    for year in range(as_of.year - 3, as_of.year + 1):
        counted = [n for n, hired in staff.items() if hired <= date(year, 1, 1)]
        met = sum(jp.get((n, year), 0) >= 20 for n in counted)
        out[f"jp_{year}"] = (met, len(counted), len(counted))
    return out


def _share(numerator: int, basis: int, people: int) -> float | None:
    return numerator / basis if basis >= MIN_CELL and people >= MIN_CELL else None


def _figures(culture: LearningCulture) -> dict[str, object]:
    out: dict[str, object] = {"completion": culture.completion_rate, "no_training": culture.no_training_share}
    out.update({f"jp_{y.year}": y.figure for y in culture.jp_compliance})
    return out


def test_figures_and_city_distribution_match_the_raw_tables(export: Export) -> None:
    table = culture_table(export, export.exported_on)
    units = [str(u) for u in export["units"]["unit_id"]]
    expected = {u: _expected(export, u) for u in units}
    # The unit with the most staff counting its sub-units, and the largest unit without sub-units.
    leaves = [u for u in units if _scope(export, u) == {u}]
    staff = {u: expected[u]["jp_2026"][1] for u in units}
    checked = [max(units, key=staff.__getitem__), max(leaves, key=staff.__getitem__)]
    assert _scope(export, checked[0]) != {checked[0]} and staff[checked[1]] >= MIN_CELL
    for unit in checked:
        culture = learning_culture(table, unit, "id")
        assert [y.year for y in culture.jp_compliance] == [2023, 2024, 2025, 2026]
        assert [y.complete for y in culture.jp_compliance] == [True, True, True, False]
        for name, figure in _figures(culture).items():
            numerator, basis, people = expected[unit][name]
            share = _share(numerator, basis, people)
            assert share is not None, (unit, name)  # both units are large enough to show everything
            assert figure.value == pytest.approx(share, abs=1e-6), (unit, name)
            assert figure.basis == basis and figure.suppressed_reason is None
            # The city: every unit's share of the same figure, where it is not suppressed.
            city = [s for s in (_share(*expected[u][name]) for u in units) if s is not None]
            q1, median, q3 = statistics.quantiles(city, n=4, method="inclusive")
            assert figure.city.units == len(city)
            assert (figure.city.p25, figure.city.median, figure.city.p75) == pytest.approx((q1, median, q3), abs=1e-6)
            below = sum(s < share - 1e-12 for s in city) + 0.5 * sum(abs(s - share) <= 1e-12 for s in city)
            assert figure.city.unit_percentile == pytest.approx(100 * below / len(city), abs=1e-6)
    # The figures are not all trivially equal: the generated city has differences between units.
    assert len({round(v, 6) for v in (_share(*expected[u]["completion"]) for u in units) if v is not None}) > 3


def test_a_figure_with_fewer_than_five_people_or_enrolments_behind_it_is_suppressed(export: Export) -> None:
    units = [str(u) for u in export["units"]["unit_id"]]
    table = culture_table(export, export.exported_on)
    small = next(u for u in units if 0 < _expected(export, u)["jp_2026"][1] < MIN_CELL)
    for lang, word in (("id", "Disembunyikan"), ("en", "Hidden")):
        culture = learning_culture(table, small, lang)
        for figure in _figures(culture).values():
            assert figure.value is None and figure.basis is None and figure.city.unit_percentile is None
            assert figure.suppressed_reason.startswith(word) and str(MIN_CELL) in figure.suppressed_reason
            assert figure.city.units > 0 and figure.city.median is not None  # the city is still shown

    # Enough staff, but only two of them with enrolments that ended: the completion rate would be theirs.
    leaf = max((u for u in units if _scope(export, u) == {u}), key=lambda u: _expected(export, u)["no_training"][1])
    employees = export["employees"]
    staff = employees.loc[(employees["unit_id"] == leaf) & (employees["status"] == "aktif"), "nip"].astype(str)
    records = export["training_records"]
    keep = ~records["nip"].astype(str).isin(staff.iloc[2:])
    thinned = replace(export, tables={**export.tables, "training_records": records[keep].copy()})
    before = learning_culture(table, leaf)
    after = learning_culture(culture_table(thinned, thinned.exported_on), leaf)
    assert before.completion_rate.value is not None
    assert after.completion_rate.value is None and after.completion_rate.suppressed_reason
    expected = _expected(thinned, leaf)["no_training"]
    assert expected[1] >= MIN_CELL  # the others still stand on enough people
    assert after.no_training_share.value == pytest.approx(expected[0] / expected[1], abs=1e-6)
    assert after.no_training_share.value > before.no_training_share.value  # their training is gone


def test_the_answer_holds_no_person(export: Export) -> None:
    table = culture_table(export, export.exported_on)
    units = [str(u) for u in export["units"]["unit_id"]]
    nips = set(export["employees"]["nip"].astype(str))
    for unit in units:
        text = TypeAdapter(LearningCulture).dump_json(learning_culture(table, unit, "en")).decode()
        assert not nips & set(re.findall(r"[0-9]{18}", text))
        body = json.loads(text)
        # Only the fixed shape: 2 figures and 4 years, never a list with a row per person.
        assert set(body) == {"as_of", "min_cell", "completion_months", "completion_rate", "no_training_months",
                             "no_training_share", "jp_right", "jp_compliance", "units_in_city", "note"}
        assert len(body["jp_compliance"]) == 4
        for figure in [body["completion_rate"], body["no_training_share"]] + [y["figure"] for y in
                                                                               body["jp_compliance"]]:
            assert set(figure) == {"value", "basis", "suppressed_reason", "city"}
            assert set(figure["city"]) == {"units", "p25", "median", "p75", "unit_percentile"}


def test_predictor_caches_the_table_per_snapshot_and_never_pickles_it(export: Export) -> None:
    predictor = Predictor(None, None)
    ctx = predictor._context(export)
    first = predictor._culture_table(ctx, export.exported_on)
    assert predictor._culture_table(ctx, export.exported_on) is first
    earlier = date(2025, 12, 31)
    assert predictor._culture_table(ctx, earlier).years == [2022, 2023, 2024, 2025]
    other = replace(export, tables=dict(export.tables))  # another snapshot object: its own tables
    assert predictor._culture_table(predictor._context(other), export.exported_on) is not first
    assert len(predictor._culture) == 2
    restored = pickle.loads(pickle.dumps(predictor))
    assert restored._culture == []
