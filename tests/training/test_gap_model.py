"""The gap model, its baselines and its explanations (training/gap_model.py, training/explain.py)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from engine.explain import LABELS, evidence, render
from engine.gap_model import ANCHOR, LATEST, SCALE_BOUND, GapModel, metrics
from features.pit import FEATURES, build_features, prediction_queries
from tests.model.gap_setup import GapSetup, gap_setup


@pytest.fixture(scope="module")
def setup() -> GapSetup:
    return gap_setup()


@pytest.fixture(scope="module")
def truth_comparison(setup: GapSetup) -> pd.DataFrame:
    """Model and carry-forward predictions as of the export date (empty plan, truth's horizon) vs truth."""
    truth = setup.truth
    as_of = setup.export.exported_on
    horizon = int(truth["horizon_months"].iloc[0])
    queries = prediction_queries(setup.index, as_of, horizon_months=horizon)
    queries = queries.merge(truth[["nip", "competency_id", "expected_level_no_plan"]],
                            on=["nip", "competency_id"], how="inner")
    x = build_features(setup.index, queries)
    return queries.assign(model=setup.model.predict(x)["predicted_level"].to_numpy(),
                          carry=setup.carry.predict(x)["predicted_level"].to_numpy())


def test_predict_shape_bounds_and_interval(setup: GapSetup) -> None:
    p = setup.model.predict(setup.test_x)
    assert list(p.columns) == ["predicted_level", "lower", "upper"]
    assert p.index.equals(setup.test_x.index)
    assert ((p["lower"] <= p["predicted_level"]) & (p["predicted_level"] <= p["upper"])).all()
    assert p.min().min() >= 1.0 and p.max().max() <= 5.0


def test_additivity_on_1000_random_rows(setup: GapSetup) -> None:
    rng = np.random.default_rng(0)
    rows = setup.test_x.iloc[rng.choice(len(setup.test_x), size=1000, replace=False)]
    explanation = setup.model.explain(rows)
    total = explanation.base_value + explanation.contributions.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, setup.model.predict(rows)["predicted_level"].to_numpy(), atol=1e-6)
    assert explanation.contributions.index.equals(rows.index)


def test_additivity_holds_when_the_scale_clips() -> None:
    s = gap_setup()
    rows = s.test_x.head(50).copy()
    rows["current_level"] = 5.0  # the anchor at the top: some predictions hit the bound
    rows[s.model.anchor] = 5.0
    rows["plan_n_in_band"] = 3.0
    explanation = s.model.explain(rows)
    predicted = s.model.predict(rows)["predicted_level"].to_numpy()
    np.testing.assert_allclose(explanation.base_value + explanation.contributions.sum(axis=1), predicted,
                               atol=1e-6)
    assert (explanation.contributions[SCALE_BOUND] <= 0).all()


def test_anchor_is_the_level_estimated_from_all_assessments(setup: GapSetup) -> None:
    assert setup.model.anchor == ANCHOR == "level_estimate"
    rows = setup.test_x.head(300)
    explanation = setup.model.explain(rows)
    assert {"level_estimate", "level_estimate_sd", "current_level"} <= set(explanation.contributions.columns)
    # With no signal the model carries the anchor forward: the anchor's contribution moves one for one.
    moved = rows.copy()
    moved["level_estimate"] = moved["level_estimate"] + 0.01
    delta = setup.model.explain(moved).contributions["level_estimate"] - explanation.contributions["level_estimate"]
    assert (delta.abs() > 0).mean() > 0.9


def test_the_latest_level_can_still_anchor(setup: GapSetup) -> None:
    small = GapModel(seed=5, n_estimators=30, interval_estimators=20, anchor=LATEST)
    x, y = setup.train_x.head(3000), setup.train_y.head(3000)
    small.fit(x, y)
    rows = setup.test_x.head(200)
    explanation = small.explain(rows)
    np.testing.assert_allclose(explanation.base_value + explanation.contributions.sum(axis=1),
                               small.predict(rows)["predicted_level"], atol=1e-6)
    assert small.anchor_mean_ == pytest.approx(pd.concat([x]).loc[:, LATEST].mean())
    del small.__dict__["anchor"]  # a bundle pickled before the parameter existed
    assert small.anchor == LATEST


def test_contributions_are_business_features(setup: GapSetup) -> None:
    columns = set(setup.model.explain(setup.test_x.head(5)).contributions.columns)
    assert columns <= set(FEATURES) | {SCALE_BOUND}
    assert "current_level" in columns and "plan_n_in_band" in columns
    for name in columns:
        assert not re.fullmatch(r"f\d+|.*__.*|Column_\d+", name), name


def test_every_feature_has_a_label_and_render_speaks_both_languages(setup: GapSetup) -> None:
    assert set(FEATURES) <= set(LABELS)
    rows = setup.test_x[setup.test_x["never_assessed"] == 0].head(3)
    explanation = setup.model.explain(rows)
    raw_names = set(FEATURES)
    for i in range(len(rows)):
        contributions, values = explanation.contributions.iloc[i], rows.iloc[i]
        for lang in ("id", "en"):
            items = render(contributions, values, lang)
            sizes = [abs(item["contribution"]) for item in items]
            assert sizes == sorted(sizes, reverse=True)
            assert sum(item["contribution"] for item in items) == pytest.approx(contributions.sum(), abs=1e-9)
            for item in items:
                assert set(item) == {"feature", "value", "contribution", "text"}
                assert item["feature"] not in raw_names and "_" not in item["feature"]
                assert item["text"].startswith(item["feature"])
            current = next(it for it in items if it["feature"].endswith("terakhir" if lang == "id" else "level")
                           and it["feature"].startswith(("Level", "Latest")))
            level = f"{values['current_level']:.1f}"
            assert (level.replace(".", ",") if lang == "id" else level) in current["value"]
        top = render(contributions, values, "id", top=5)
        assert len(top) == 6 and top[-1]["feature"] == "Faktor lain"
        assert sum(item["contribution"] for item in top) == pytest.approx(contributions.sum(), abs=1e-9)


def test_render_sentences() -> None:
    values = pd.Series({"competency_name": "Komunikasi", "current_level": 2.4, "current_method": "assessment_center",
                        "level_age_months": 14.2, "current_level_source": "assessed", "jp_12m": 24.0})
    contributions = pd.Series({"current_level": -0.123, "jp_12m": 0.004, SCALE_BOUND: 0.0})
    items = render(contributions, values, "id")
    assert [i["feature"] for i in items] == ["Level Komunikasi terakhir", "JP pengembangan kompetensi 12 bulan terakhir"]
    assert items[0]["text"] == ("Level Komunikasi terakhir: 2,4 (assessment center, 14 bulan lalu) — "
                                "menurunkan prediksi 0,12 level.")
    assert items[1]["text"].endswith("hampir tidak berpengaruh pada prediksi.")
    en = render(contributions, values, "en")
    assert en[0]["text"] == ("Latest Komunikasi level: 2.4 (assessment centre, 14 months ago) — "
                             "lowers the prediction by 0.12 levels.")


def test_evidence_lists_the_assessments_used(setup: GapSetup) -> None:
    row = setup.test_pairs.iloc[0]
    items = evidence(setup.index, row["nip"], row["competency_id"], setup.cutoff)
    assessed = [i for i in items if i["kind"] == "assessment"]
    assert all(i["date"] <= setup.cutoff for i in assessed)
    assert [i["date"] for i in assessed] == sorted((i["date"] for i in assessed), reverse=True)


def test_backtest_beats_both_baselines_and_intervals_cover(setup: GapSetup) -> None:
    y = setup.test_pairs["target"].to_numpy()
    thin = setup.test_x["thin_evidence"]
    model = metrics(setup.model.predict(setup.test_x), y, thin)
    carry = metrics(setup.carry.predict(setup.test_x), y, thin)
    linear = metrics(setup.linear.predict(setup.test_x), y, thin)
    assert model["mae"] < carry["mae"] and model["mae"] < linear["mae"], (model, carry, linear)
    assert 0.75 <= model["coverage"] <= 0.85, model
    # Thin evidence earns a wider interval.
    assert model["width_thin"] > model["width_solid"], model


def test_beats_carry_forward_against_truth(truth_comparison: pd.DataFrame) -> None:
    t = truth_comparison
    model_mae = np.mean(np.abs(t["model"] - t["expected_level_no_plan"]))
    carry_mae = np.mean(np.abs(t["carry"] - t["expected_level_no_plan"]))
    assert len(t) > 1000
    assert model_mae < carry_mae, (model_mae, carry_mae)


def test_sklearn_conventions_and_seeded_refit(setup: GapSetup) -> None:
    small = GapModel(seed=5, n_estimators=30, interval_estimators=20, n_jobs=1)
    assert clone(small).get_params() == small.get_params()
    x, y = setup.train_x.head(3000), setup.train_y.head(3000)
    a = small.fit(x, y)
    assert a is small and hasattr(a, "point_") and not hasattr(GapModel(), "point_")
    b = clone(small).fit(x, y)
    pd.testing.assert_frame_equal(a.predict(setup.test_x.head(200)), b.predict(setup.test_x.head(200)))
