"""Behaviour of the trained gap model (Made-With-ML style): invariance, direction, minimum functionality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.export import Export
from features.pit import PitIndex, build_features, prediction_queries
from tests.model.gap_setup import GapSetup, gap_setup


@pytest.fixture(scope="module")
def setup() -> GapSetup:
    return gap_setup()


@pytest.fixture(scope="module")
def queries(setup: GapSetup) -> pd.DataFrame:
    q = prediction_queries(setup.index, setup.export.exported_on)
    nips = q["nip"].drop_duplicates().sample(150, random_state=0)
    return q[q["nip"].isin(nips)].reset_index(drop=True)


def _renumber(export: Export, nips: pd.Series) -> tuple[Export, dict[str, str]]:
    """New NIPs (other birth date, sex digit and sequence) for `nips`, consistently in every table, with
    birth_date and sex changed to match."""
    mapping = {}
    for i, nip in enumerate(nips):
        sex = "2" if nip[14] == "1" else "1"
        mapping[nip] = f"19{70 + i % 25:02d}0{1 + i % 9}1{i % 9}" + nip[8:14] + sex + f"{(i * 37) % 1000:03d}"
    tables = {}
    for name, df in export.tables.items():
        if "nip" in df.columns:
            df = df.assign(nip=df["nip"].map(lambda n: mapping.get(n, n)).astype("str"))
        tables[name] = df
    emp = tables["employees"]
    changed = emp["nip"].isin(set(mapping.values()))
    emp.loc[changed, "sex"] = np.where(emp.loc[changed, "sex"] == "l", "p", "l")
    emp.loc[changed, "birth_date"] = pd.to_datetime(emp.loc[changed, "nip"].str[:8], format="%Y%m%d")
    return Export(tables, export.exported_on, export.organisation), mapping


def test_protected_attributes_and_nip_change_no_prediction(setup: GapSetup, queries: pd.DataFrame) -> None:
    before = setup.model.predict(build_features(setup.index, queries))
    changed, mapping = _renumber(setup.export, queries["nip"].drop_duplicates())
    renamed = queries.assign(nip=queries["nip"].map(mapping).astype("str"))
    features_after = build_features(PitIndex.build(changed), renamed)
    for column in features_after.columns:
        assert not any(word in column for word in ("sex", "birth", "nip")), column
    pd.testing.assert_frame_equal(before, setup.model.predict(features_after))
    explained_before = setup.model.explain(build_features(setup.index, queries.head(40)))
    explained_after = setup.model.explain(features_after.head(40))
    pd.testing.assert_frame_equal(explained_before.contributions, explained_after.contributions)


def test_in_band_training_never_lowers_the_predicted_level(setup: GapSetup, queries: pd.DataFrame) -> None:
    index = setup.index
    base = build_features(index, queries)
    # For each row, one training targeting its competency whose band holds the current level.
    options = base[["competency_id", "current_level"]].reset_index().merge(
        index.targets[["training_id", "competency_id", "min_level", "max_level"]], on="competency_id")
    options = options[(options["min_level"] <= options["current_level"])
                      & (options["current_level"] < options["max_level"] + 1)]
    chosen = options.groupby("index", sort=True).nth(0)
    rows = chosen["index"].to_list()
    plans = [()] * len(rows)
    added = [(t,) for t in chosen["training_id"]]
    assert len(rows) > 100
    q = queries.loc[rows]
    without = setup.model.predict(build_features(index, q, plans=plans))
    with_one = setup.model.predict(build_features(index, q, plans=added))
    assert (with_one["predicted_level"].to_numpy() >= without["predicted_level"].to_numpy() - 1e-12).all()
    # … and a gap (required − predicted, floored at 0) therefore never grows.
    required = q["required_level"].to_numpy()
    gap_before = np.maximum(0, required - without["predicted_level"].to_numpy())
    gap_after = np.maximum(0, required - with_one["predicted_level"].to_numpy())
    assert (gap_after <= gap_before + 1e-12).all()
    # Adding a second in-band training on top of the first never lowers it either.
    twice = setup.model.predict(build_features(index, q, plans=[p + p for p in added]))
    assert (twice["predicted_level"].to_numpy() >= with_one["predicted_level"].to_numpy() - 1e-12).all()
    assert (with_one["predicted_level"] > without["predicted_level"] + 1e-6).mean() > 0.5


def test_thin_evidence_is_flagged_and_widens_the_interval(setup: GapSetup, queries: pd.DataFrame) -> None:
    x = build_features(setup.index, queries)
    p = setup.model.predict(x)
    width = p["upper"] - p["lower"]
    thin = x["thin_evidence"] > 0.5
    assert thin.any() and (~thin).any()
    assert width[thin].mean() > width[~thin].mean()
    assert p["predicted_level"].between(1, 5).all()


def test_predictions_follow_the_current_level(setup: GapSetup, queries: pd.DataFrame) -> None:
    """Minimum functionality: someone assessed higher is predicted higher, on average by most of the gap."""
    x = build_features(setup.index, queries)
    x = x[x["never_assessed"] == 0]
    # Assessed higher: the latest score and the level estimated from all assessments (the model's anchor).
    low, high = (x.assign(current_level=2.0, level_estimate=2.0), x.assign(current_level=4.0, level_estimate=4.0))
    diff = setup.model.predict(high)["predicted_level"] - setup.model.predict(low)["predicted_level"]
    assert diff.mean() > 1.0
