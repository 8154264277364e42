"""The fast prediction paths (training/gap_model.py `_Layout`, training/effects.py `_z_matrix`) give the
numbers the sklearn pipelines and the DataFrame path give, on awkward rows too."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from engine import gap_model as gm
from engine.effects import COURSE_FEATURES, INTERVAL_QUANTILES, XLearnerEffect, effect_matrix, treated
from engine.gap_model import ANCHOR, SCALE_BOUND, THIN, GapModel
from features.constants import COMPETENCY_KINDS, LEVEL_MAX, LEVEL_MIN
from features.pit import CATEGORICAL_FEATURES, PLAN_FEATURES
from tests.model.gap_setup import GapSetup, gap_setup
from tests.training.test_effects import synthetic_pairs

TOL = 1e-12


@pytest.fixture(scope="module")
def setup() -> GapSetup:
    return gap_setup()


def awkward_rows(setup: GapSetup, n: int = 60) -> pd.DataFrame:
    """Test rows with an unknown category, missing categoricals (NaN, None) and NaN numerics."""
    rows = setup.test_x.head(n).copy()
    rows.loc[rows.index[0:5], "competency_id"] = "TIDAK-ADA-99"  # never seen in training
    rows.loc[rows.index[5:10], "unit_kind"] = None
    rows.loc[rows.index[8:14], "job_family"] = np.nan
    rows.loc[rows.index[12:16], "current_method"] = "metode_baru"
    for col in ("level_trend", "skp_percentile", "previous_level", "unit_mean_level"):
        rows.loc[rows.index[3:20:2], col] = np.nan
    rows.loc[rows.index[20:25], "plan_n_in_band"] = 2.0  # some rows with a plan
    rows.loc[rows.index[20:25], "plan_n_targeting"] = 2.0
    return rows


def reference_predict(model: GapModel, features: pd.DataFrame) -> pd.DataFrame:
    """GapModel.predict as it was: every pipeline's own `predict` on the DataFrame."""
    anchor = features[ANCHOR].to_numpy(np.float64)
    point = np.clip(anchor + model.point_.predict(features), LEVEL_MIN, LEVEL_MAX)
    lo, hi = anchor + model.lower_.predict(features), anchor + model.upper_.predict(features)
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    widen = np.where(features[THIN].to_numpy() > 0.5, model.correction_[True], model.correction_[False])
    return pd.DataFrame({"predicted_level": point,
                         "lower": np.clip(np.minimum(lo - widen, point), LEVEL_MIN, LEVEL_MAX),
                         "upper": np.clip(np.maximum(hi + widen, point), LEVEL_MIN, LEVEL_MAX)},
                        index=features.index)


def reference_contributions(model: GapModel, features: pd.DataFrame) -> pd.DataFrame:
    """GapModel.explain's contributions as they were: the pipeline's transform, pandas groupby."""
    raw = model.point_[-1].booster_.predict(model.point_[0].transform(features), pred_contrib=True)
    names = list(model.point_[0].get_feature_names_out())
    by_column = pd.DataFrame(raw[:, :-1], columns=names, index=features.index)
    grouped = by_column.T.groupby(pd.Index([model.feature_groups_[c] for c in names]), sort=False).sum().T
    anchor = features[ANCHOR].to_numpy(np.float64)
    grouped[ANCHOR] = grouped[ANCHOR] + anchor - model.anchor_mean_
    unclipped = anchor + raw.sum(axis=1)
    grouped[SCALE_BOUND] = np.clip(unclipped, LEVEL_MIN, LEVEL_MAX) - unclipped
    return grouped


def _categorical_splits(booster) -> set[str]:
    """Names of the features some tree splits on categorically ("==" splits)."""
    dump = booster.dump_model()
    names, found = dump["feature_names"], set()
    stack = [tree["tree_structure"] for tree in dump["tree_info"]]
    while stack:
        node = stack.pop()
        if "split_feature" in node:
            if node["decision_type"] == "==":
                found.add(names[node["split_feature"]])
            stack += [node["left_child"], node["right_child"]]
    return found


def test_the_boosters_matrix_is_what_the_pipelines_feed_them(setup: GapSetup) -> None:
    model, rows = setup.model, awkward_rows(setup)
    # The model really splits on categorical codes, so the comparison covers those splits.
    assert _categorical_splits(model.point_[-1].booster_) & set(CATEGORICAL_FEATURES)
    for pipeline, matrix in zip((model.point_, model.lower_, model.upper_), model._matrices(rows),
                                strict=True):
        expected = pipeline[0].transform(rows).to_numpy(np.float64)
        np.testing.assert_array_equal(matrix, expected)  # NaN where NaN, codes where codes
        np.testing.assert_allclose(model._raw(pipeline, matrix), pipeline.predict(rows), rtol=0, atol=TOL)
    codes = model._matrices(rows, bands=False)[0]
    assert np.isnan(codes[0:5, 0]).all() and np.isnan(codes[5:10, 7]).all()  # unknown, None → NaN


def test_predict_equals_the_pipelines_on_awkward_rows(setup: GapSetup) -> None:
    rows = awkward_rows(setup)
    fast = setup.model.predict(rows)
    pd.testing.assert_frame_equal(fast, reference_predict(setup.model, rows), check_exact=False, rtol=0,
                                  atol=TOL)
    assert fast.index.equals(rows.index)


@pytest.mark.parametrize("dtype", ["object", "string", "category"])
def test_categorical_columns_of_any_string_dtype(setup: GapSetup, dtype: str) -> None:
    """Object, pd.NA-backed "string" and categorical columns encode as the OrdinalEncoder does."""
    rows = awkward_rows(setup, 30)
    for col in CATEGORICAL_FEATURES:
        rows[col] = rows[col].astype(dtype)
    if dtype != "category":
        rows.loc[rows.index[:3], "employment"] = pd.NA
    np.testing.assert_array_equal(setup.model._matrices(rows, bands=False)[0],
                                  setup.model.point_[0].transform(rows).to_numpy(np.float64))
    pd.testing.assert_frame_equal(setup.model.predict(rows), reference_predict(setup.model, rows),
                                  check_exact=False, rtol=0, atol=TOL)


def test_explain_equals_the_pipeline_path_and_adds_up(setup: GapSetup) -> None:
    rows = awkward_rows(setup)
    explanation = setup.model.explain(rows)
    reference = reference_contributions(setup.model, rows)
    assert list(explanation.contributions.columns) == list(reference.columns)
    pd.testing.assert_frame_equal(explanation.contributions, reference, check_exact=False, rtol=0, atol=TOL)
    predicted = setup.model.predict(rows)["predicted_level"].to_numpy()
    total = explanation.base_value + explanation.contributions.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, predicted, rtol=0, atol=1e-9)
    both, together = setup.model.predict_and_explain(rows)
    pd.testing.assert_frame_equal(both, setup.model.predict(rows), check_exact=True)
    pd.testing.assert_frame_equal(together.contributions, explanation.contributions, check_exact=True)
    np.testing.assert_array_equal(together.base_value, explanation.base_value)


def test_grouping_sums_columns_of_one_business_feature(setup: GapSetup) -> None:
    """With several columns per business feature (one-hot style) the contributions are summed per group."""
    model = pickle.loads(pickle.dumps(setup.model))
    names = list(model.point_[0].get_feature_names_out())
    model.feature_groups_ = {c: ("kelompok" if c in ("employment", "tenure_years", "grade_rank") else c)
                             for c in names}
    rows = awkward_rows(setup, 20)
    explanation = model.explain(rows)
    reference = reference_contributions(model, rows)
    assert list(explanation.contributions.columns) == list(reference.columns)
    assert "kelompok" in reference.columns and "tenure_years" not in reference.columns
    pd.testing.assert_frame_equal(explanation.contributions, reference, check_exact=False, rtol=0, atol=TOL)


def test_quantile_models_with_other_categories_get_their_own_encoding(setup: GapSetup) -> None:
    """The point model also learns the calibration rows: a category only they hold has a code there only."""
    train_x, calib_x = setup.train_x.head(3000), setup.calib_x.head(600).copy()
    calib_x["unit_kind"] = "unit_baru"  # never among the quantile models' (training-only) categories
    model = GapModel(seed=1, n_estimators=30, interval_estimators=20).fit(
        train_x, setup.train_y.head(3000), calib_x, setup.calib_y.head(600))
    fast = model._fast()
    assert fast.source == (0, 1, 1)  # lower and upper share one matrix, not the point model's
    rows = pd.concat([awkward_rows(setup, 20), calib_x.head(10)])
    pd.testing.assert_frame_equal(model.predict(rows), reference_predict(model, rows), check_exact=False,
                                  rtol=0, atol=TOL)


def test_an_unknown_preprocessor_goes_through_its_transform(setup: GapSetup,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gm._Layout, "of", classmethod(lambda cls, pipeline: None))
    model = pickle.loads(pickle.dumps(setup.model))  # no look-ups cached yet
    rows = awkward_rows(setup, 20)
    pd.testing.assert_frame_equal(model.predict(rows), reference_predict(model, rows), check_exact=False,
                                  rtol=0, atol=TOL)
    assert model._fast().layouts == (None, None, None)


def test_missing_columns_are_an_error(setup: GapSetup) -> None:
    with pytest.raises(ValueError, match="missing"):
        setup.model.predict(awkward_rows(setup, 5).drop(columns=["unit_kind"]))


def test_pickles_before_and_after_the_first_call_load_and_agree(setup: GapSetup) -> None:
    fresh = pickle.loads(pickle.dumps(setup.model))
    assert "_fast_path" not in fresh.__dict__  # as a bundle pickled before the fast path existed
    before = pickle.dumps(fresh)
    rows = awkward_rows(setup)
    first = fresh.predict(rows)
    assert "_fast_path" in fresh.__dict__
    after = pickle.dumps(fresh)
    assert b"_fast_path" not in after and b"_Layout" not in after
    for blob in (before, after):
        loaded = pickle.loads(blob)
        pd.testing.assert_frame_equal(loaded.predict(rows), first, check_exact=True)
        pd.testing.assert_frame_equal(loaded.explain(rows).contributions, fresh.explain(rows).contributions,
                                      check_exact=True)
    refitted = pickle.loads(after).fit(setup.train_x.head(2000), setup.train_y.head(2000))
    assert "_fast_path" not in refitted.__dict__  # refitting drops look-ups of the old pipelines
    pd.testing.assert_frame_equal(refitted.predict(rows), reference_predict(refitted, rows),
                                  check_exact=False, rtol=0, atol=TOL)


# -- the effect model -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def effect_fit() -> tuple[XLearnerEffect, pd.DataFrame]:
    x, y, groups, _ = synthetic_pairs(n=5000, seed=4)
    rng = np.random.default_rng(5)
    x["competency_kind"] = rng.choice(COMPETENCY_KINDS, len(x))
    x["course_n_targets"] = np.where(treated(x), rng.integers(1, 5, len(x)), np.nan)
    x["course_band_width"] = np.where(treated(x), rng.integers(1, 4, len(x)), np.nan)
    model = XLearnerEffect(seed=6, n_bootstrap=3, final_params={"min_child_samples": 40}).fit(x, y, groups)
    return model, x


def reference_effect(model: XLearnerEffect, rows: pd.DataFrame, interval: bool
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """XLearnerEffect.effect as it was: effect_matrix's DataFrame into each LGBMRegressor.predict."""
    n = len(rows)
    tau, lo, hi = np.zeros(n), np.zeros(n), np.zeros(n)
    aims = treated(rows)
    z = effect_matrix(rows[aims])[list(model.feature_names)]
    point = model.model_.predict(z)
    low, high = point, point
    if interval:
        spread = np.vstack([m.predict(z) for m in model.members_])
        q_lo, q_hi = np.quantile(spread, INTERVAL_QUANTILES, axis=0)
        centre = spread.mean(axis=0)
        low, high = point + (q_lo - centre), point + (q_hi - centre)
    tau[aims] = np.maximum(point, 0.0)
    lo[aims] = np.maximum(np.minimum(low, point), 0.0)
    hi[aims] = np.maximum(np.maximum(high, point), 0.0)
    return tau, lo, hi


def effect_rows(x: pd.DataFrame) -> pd.DataFrame:
    """Rows with and without a targeting plan, NaN course features, a missing and an unknown kind."""
    rows = x.head(200).copy()
    rows.loc[rows.index[:10], "course_n_targets"] = np.nan
    rows.loc[rows.index[10:15], "competency_kind"] = None
    rows.loc[rows.index[15:20], "competency_kind"] = "jenis_baru"
    rows.loc[rows.index[20:30], "plan_band_distance"] = np.nan
    rows["plan"] = [()] * len(rows)  # the Predictor's rows carry their plans: not a model input
    return rows


@pytest.mark.parametrize("interval", [True, False])
def test_effect_equals_the_dataframe_path(effect_fit, interval: bool) -> None:
    model, x = effect_fit
    rows = effect_rows(x)
    assert treated(rows).any() and not treated(rows).all()
    got, want = model.effect(rows, interval=interval), reference_effect(model, rows, interval)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL)
    if interval:
        assert np.mean(got[2] - got[1]) > 0


def test_effect_without_course_columns_reads_them_as_missing(effect_fit) -> None:
    model, x = effect_fit
    rows = effect_rows(x).drop(columns=list(COURSE_FEATURES))
    aims = treated(rows)
    np.testing.assert_array_equal(model._z_matrix(rows, aims),
                                  effect_matrix(rows[aims])[list(model.feature_names)].to_numpy())
    for a, b in zip(model.effect(rows), reference_effect(model, rows, True), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL)
    with pytest.raises(KeyError):
        model.effect(rows.drop(columns=["plan_jp_targeting"]))


def test_effect_of_rows_without_a_targeting_plan_is_zero(effect_fit) -> None:
    model, x = effect_fit
    rows = x.head(20).copy()
    for name in PLAN_FEATURES:
        rows[name] = 0.0
    assert all((v == 0).all() for v in model.effect(rows))
