"""Behavioural tests of the effect model on worlds with one mechanism switched on: fitted on a small export
of that world, does the estimate move the way the mechanism says (direction only, on average)?

The rows compared are the model's own training rows with everything equal but the feature the mechanism
acts through: the pair features are learned from the export (`features.pair_features`), so these check
that the pipeline from records to feature to estimate carries the mechanism.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.effects import XLearnerEffect, treated
from features.generator import generate_export
from features.io import read_export
from features.pair_features import PAIR_FEATURES, PairTables, course_pair_values, history_pair_features
from features.pit import PitIndex
from features.pit_index import day_of
from training.fit import EffectRows, effect_rows, fit_predictor, training_data

pytestmark = pytest.mark.slow

EMPLOYEES, YEARS = 500, 4
SMALL = {"n_bootstrap": 0, "feature_set": "pair"}  # the learned pair features (not yet the default)


def _fitted(tmp_path: Path, world: str, seed: int) -> tuple[XLearnerEffect, EffectRows]:
    folder = tmp_path / world
    generate_export(folder, employees=EMPLOYEES, years=YEARS, seed=seed, world=world)
    export = read_export(folder)
    rows = effect_rows(export, training_data(export), seed=0, counterfactual=False)
    model = XLearnerEffect(seed=0, **SMALL).fit(rows.rows, rows.target, rows.groups)
    return model, rows


def _mean_effect(model: XLearnerEffect, rows: pd.DataFrame, **values: float) -> float:
    return float(model.effect(rows.assign(**values), interval=False)[0].mean())


def test_transfer_a_course_outside_the_job_family_gets_less(tmp_path: Path) -> None:
    model, r = _fitted(tmp_path, "transfer", seed=11)
    rows = r.rows[treated(r.rows)]
    inside = _mean_effect(model, rows, course_family_share=0.9, course_required_share=1.0)
    outside = _mean_effect(model, rows, course_family_share=0.02, course_required_share=0.0)
    assert inside > outside + 0.01
    # And in the data: people trained in their own family's courses gained more than the others.
    shares = rows["course_family_share"].to_numpy()
    tau = model.effect(rows, interval=False)[0]
    ok = ~np.isnan(shares)
    high, low = shares[ok] >= np.quantile(shares[ok], 0.75), shares[ok] <= np.quantile(shares[ok], 0.25)
    assert tau[ok][high].mean() > tau[ok][low].mean()


def test_spacing_a_course_right_after_another_gets_less(tmp_path: Path) -> None:
    model, r = _fitted(tmp_path, "spacing", seed=12)
    rows = r.rows[treated(r.rows)]
    recent = _mean_effect(model, rows, months_since_targeted=1.0, never_targeted=0.0)
    none = _mean_effect(model, rows, months_since_targeted=60.0, never_targeted=1.0)
    assert recent < none - 0.01


# -- the pair features themselves --------------------------------------------------------------------
def _small_export(tmp_path: Path):
    folder = tmp_path / "default"
    generate_export(folder, employees=200, years=3, seed=5, world="default")
    return read_export(folder)


def _truncated(export, as_of: date):
    """The export as it stood at `as_of`: no record dated after it (abandonments by their start)."""
    tables = dict(export.tables)
    a = tables["assessments"]
    tables["assessments"] = a[pd.to_datetime(a["assessed_on"]) <= pd.Timestamp(as_of)]
    r = tables["training_records"]
    done = pd.to_datetime(r["completed_on"]).fillna(pd.to_datetime(r["started_on"]))
    tables["training_records"] = r[done <= pd.Timestamp(as_of)]
    return replace(export, tables=tables, snapshot_id=None)


def test_pair_features_use_nothing_after_the_as_of_date(tmp_path: Path) -> None:
    export = _small_export(tmp_path)
    as_of = export.exported_on - timedelta(days=400)
    rows = {}
    for name, ex in (("full", export), ("truncated", _truncated(export, as_of))):
        index = PitIndex.build(ex)
        tables = PairTables.of(index, ex)
        nip = np.arange(len(index.nips))
        comp = np.zeros(len(nip), dtype=np.int64) + 1
        day = np.full(len(nip), day_of(as_of))
        values = history_pair_features(tables, index, nip, comp, day, np.full(len(nip), 2.5))
        position = np.arange(len(nip)) % len(index.trainings)
        values.update(course_pair_values(tables, nip, day, position))
        rows[name] = pd.DataFrame(values)
    assert rows["full"]["n_completed"].sum() > 0 and rows["full"]["never_targeted"].mean() < 1
    pd.testing.assert_frame_equal(rows["full"], rows["truncated"])


def test_what_if_rows_carry_the_recommendations_pair_features(tmp_path: Path) -> None:
    export = _small_export(tmp_path)
    predictor = fit_predictor(export, seed=0, effect_params=SMALL)
    ctx = predictor._context(export)
    nips = [str(n) for n in ctx.index.nips[:40]]
    queries = predictor._queries(ctx.index, nips, export.exported_on, 12)
    base_x, _, levels = predictor._levels(ctx, queries)
    rows = predictor._pair_rows(ctx, levels, base_x, nips, export.exported_on)
    picked = np.arange(0, len(rows.q_row), 7)
    plans = [()] * len(queries)
    q_rows = rows.q_row[picked]
    unique_rows, first = np.unique(q_rows, return_index=True)
    for q, p in zip(unique_rows, picked[first], strict=True):
        plans[int(q)] = tuple(rows.effect_rows["plan"].iloc[int(p)])
    what_if = predictor._plan_rows(ctx, base_x, queries, plans)
    for name in PAIR_FEATURES:
        np.testing.assert_allclose(what_if[name].to_numpy(np.float64)[unique_rows],
                                   rows.effect_rows[name].to_numpy(np.float64)[picked[first]], equal_nan=True)
