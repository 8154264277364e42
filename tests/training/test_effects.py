"""Effect estimators on synthetic training pairs whose true effect and confounding are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.effects import EFFECT_FEATURES, SLearnerEffect, XLearnerEffect, effect_matrix, treated
from engine.effects_base import FEATURE_SETS, PRIOR_FEATURE, CourseEncoding, feature_names
from engine.effects_dr import DRLearnerEffect, RLearnerEffect
from features.pit import CATEGORICAL_FEATURES, FEATURES, NO_BAND_DISTANCE, NUMERIC_FEATURES, PLAN_FEATURES

IN_BAND_EFFECT, OUT_OF_BAND_EFFECT = 0.5, 0.1


def _plan(n: int, rng: np.random.Generator, taken: np.ndarray) -> pd.DataFrame:
    """Plan features of one training per row (in band for half of them) where `taken`, else empty."""
    in_band = rng.random(n) < 0.5
    distance = np.where(in_band, 0.0, rng.uniform(1.0, 2.0, n))
    plan = {name: np.zeros(n) for name in PLAN_FEATURES}
    plan["plan_n_targeting"] = taken * 1.0
    plan["plan_jp_targeting"] = taken * 24.0
    plan["plan_n_in_band"] = taken * in_band
    plan["plan_n_below_band"] = taken * ~in_band
    plan["plan_band_distance"] = np.where(taken, distance, NO_BAND_DISTANCE)
    plan["plan_n_classroom"] = taken * 1.0
    plan["plan_jp_total"] = taken * 24.0
    return pd.DataFrame(plan)


def _true_effect(plan: pd.DataFrame) -> np.ndarray:
    return np.where(plan["plan_n_targeting"] > 0,
                    np.where(plan["plan_band_distance"] == 0, IN_BAND_EFFECT, OUT_OF_BAND_EFFECT), 0.0)


def synthetic_pairs(n: int = 12_000, seed: int = 0
                    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame]:
    """Pairs where motivated employees (high SKP percentile) both train more and grow faster anyway."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {name: np.zeros(n) for name in NUMERIC_FEATURES}
    for name in CATEGORICAL_FEATURES:
        data[name] = np.array(["a"] * n, dtype=object)
    data["competency_id"] = rng.choice(["K1", "K2"], n)
    data["competency_kind"] = np.array(["manajerial"] * n, dtype=object)
    current = rng.uniform(1.5, 4.0, n)
    motivation = rng.random(n)
    data.update(current_level=current, skp_percentile=motivation, required_level=np.full(n, 3.0),
                current_gap=3.0 - current, horizon_months=np.full(n, 12.0), n_assessments=np.full(n, 2.0))
    x = pd.DataFrame(data)
    taken = rng.random(n) < 1 / (1 + np.exp(-4 * (motivation - 0.5)))
    plan = _plan(n, rng, taken)
    for name in PLAN_FEATURES:
        x[name] = plan[name].to_numpy()
    y = current + 0.4 * (motivation - 0.5) + _true_effect(plan) + rng.normal(0, 0.15, n)
    counterfactual = _plan(n, rng, np.ones(n, dtype=bool))
    groups = np.arange(n) // 3
    return x[list(FEATURES)], y, groups, counterfactual


@pytest.fixture(scope="module")
def fitted() -> tuple[XLearnerEffect, pd.DataFrame, np.ndarray]:
    x, y, groups, counterfactual = synthetic_pairs()
    model = XLearnerEffect(seed=3, n_bootstrap=4).fit(x, y, groups, counterfactual)
    return model, x, y


def _rows_with(x: pd.DataFrame, in_band: bool) -> pd.DataFrame:
    rows = x.head(400).copy()
    plan = _plan(len(rows), np.random.default_rng(9), np.ones(len(rows), dtype=bool))
    plan["plan_band_distance"] = 0.0 if in_band else 1.5
    plan["plan_n_in_band"] = 1.0 if in_band else 0.0
    plan["plan_n_below_band"] = 0.0 if in_band else 1.0
    for name in PLAN_FEATURES:
        rows[name] = plan[name].to_numpy()
    return rows


def test_x_learner_recovers_the_effect_despite_confounding(fitted) -> None:
    model, x, y = fitted
    t = treated(x)
    naive = y[t].mean() - y[~t].mean()
    truth = _true_effect(x[list(PLAN_FEATURES)])[t].mean()
    assert naive - truth > 0.08  # the selection really is confounded
    tau_in, lo_in, hi_in = model.effect(_rows_with(x, True))
    tau_out, _, _ = model.effect(_rows_with(x, False))
    assert abs(tau_in.mean() - IN_BAND_EFFECT) < 0.08
    assert abs(tau_out.mean() - OUT_OF_BAND_EFFECT) < 0.08
    assert (tau_in > tau_out).mean() > 0.95
    assert np.all(lo_in <= tau_in) and np.all(tau_in <= hi_in)
    assert np.mean(hi_in - lo_in) > 0  # the bootstrap gives an interval, not a point


def test_the_blended_x_learner_also_recovers_the_effect() -> None:
    x, y, groups, counterfactual = synthetic_pairs(n=6000, seed=1)
    model = XLearnerEffect(seed=2, n_bootstrap=0, blend="x").fit(x, y, groups, counterfactual)
    assert {"propensity_min", "propensity_max", "mean_d0"} <= set(model.diagnostics_)
    tau_in, _, _ = model.effect(_rows_with(x, True))
    tau_out, _, _ = model.effect(_rows_with(x, False))
    assert abs(tau_in.mean() - IN_BAND_EFFECT) < 0.1 and abs(tau_out.mean() - OUT_OF_BAND_EFFECT) < 0.1
    with pytest.raises(ValueError, match="counterfactual"):
        XLearnerEffect(blend="x").fit(x, y, groups)


@pytest.mark.parametrize("learner", [DRLearnerEffect, RLearnerEffect], ids=lambda c: c.name)
def test_dr_and_r_learners_recover_the_effect_despite_confounding(learner) -> None:
    x, y, groups, counterfactual = synthetic_pairs(n=8000, seed=1)
    model = learner(seed=2, n_bootstrap=2).fit(x, y, groups, counterfactual)
    tau_in, lo, hi = model.effect(_rows_with(x, True))
    tau_out, _, _ = model.effect(_rows_with(x, False))
    assert abs(tau_in.mean() - IN_BAND_EFFECT) < 0.12
    assert abs(tau_out.mean() - OUT_OF_BAND_EFFECT) < 0.12
    assert tau_in.mean() - tau_out.mean() > 0.25
    assert np.all(lo <= tau_in) and np.all(tau_in <= hi)
    # Overlap is reported: the propensity's distribution and the share clipped at each end.
    d = model.diagnostics_
    assert {"propensity_q01", "propensity_q50", "propensity_q99", "trimmed_low_share", "trimmed_high_share"} <= set(d)
    assert 0.0 <= d["trimmed_low_share"] <= 1.0 and d["propensity_q01"] <= d["propensity_q50"] <= d["propensity_q99"]
    assert d["propensity_mean_treated"] > d["propensity_mean_untreated"]  # the selection is seen
    with pytest.raises(ValueError, match="counterfactual"):
        learner().fit(x, y, groups)


def test_feature_sets() -> None:
    legacy, pair = feature_names("legacy", False), feature_names("pair", False)
    assert "plan_n_classroom" in legacy and "plan_n_classroom" not in pair  # no hand-made format groups
    assert PRIOR_FEATURE in pair and "course_family_share" in pair and PRIOR_FEATURE not in legacy
    assert set(pair) <= set(feature_names("pair_groups", False)) and set(FEATURE_SETS) == {
        "legacy", "pair", "pair_groups", "formats"}
    # "formats": legacy's inputs with each exact format in place of the hand-made groups, nothing learned.
    formats = feature_names("formats", False)
    assert "plan_n_classroom" not in formats and "course_format_klasikal" in formats
    assert PRIOR_FEATURE not in formats and "own_past_gain" not in formats
    assert set(legacy) - set(formats) == {"plan_n_classroom", "plan_n_online", "plan_n_workplace"}
    with pytest.raises(ValueError):
        feature_names("groups", False)


def test_course_encoding_shrinks_toward_the_format_mean() -> None:
    courses = np.array(["A"] * 2 + ["B"] * 200 + ["C"] * 100, dtype=object)
    formats = np.array(["coaching"] * 202 + ["seminar"] * 100, dtype=object)
    d = np.r_[np.full(2, 1.0), np.full(200, 0.2), np.full(100, 0.0)]
    enc = CourseEncoding(courses, formats, d, np.ones(len(d)), k=30.0)
    a, b, c, new = enc(np.array(["A", "B", "C", "D"], dtype=object),
                       np.array(["coaching", "coaching", "seminar", "seminar"], dtype=object))
    assert abs(b - 0.2) < 0.01 and abs(c) < 0.03  # many participants: their own mean
    assert 0.2 < a < 0.4  # two participants: mostly the format's mean
    assert new == pytest.approx(enc.format_mean["seminar"])  # an unseen course: its format's mean
    assert np.isnan(enc(np.array([""], dtype=object), np.array([""], dtype=object))[0])


def test_no_targeting_training_means_no_effect(fitted) -> None:
    model, x, _ = fitted
    rows = x.head(50).copy()
    for name in PLAN_FEATURES:
        rows[name] = 0.0
    rows["plan_band_distance"] = NO_BAND_DISTANCE
    tau, lo, hi = model.effect(rows)
    assert tau.tolist() == [0.0] * 50 and lo.tolist() == [0.0] * 50 and hi.tolist() == [0.0] * 50


def test_effect_never_negative_and_monotone_in_band_distance(fitted) -> None:
    model, x, _ = fitted
    rows = _rows_with(x, False).head(100)
    previous = None
    for distance in (0.0, 0.5, 1.0, 2.0, 3.0):
        rows = rows.assign(plan_band_distance=distance)
        tau, _, _ = model.effect(rows)
        assert np.all(tau >= 0)
        if previous is not None:
            assert np.all(tau <= previous + 1e-9)
        previous = tau


def test_effect_matrix_has_the_documented_columns() -> None:
    x, _, _, _ = synthetic_pairs(n=10)
    z = effect_matrix(x)
    assert list(z.columns) == list(EFFECT_FEATURES)
    assert z["kind_manajerial"].tolist() == [1.0] * 10
    assert z[["course_family_share", PRIOR_FEATURE]].isna().all().all()  # absent pair features: missing


def test_x_learner_refuses_data_without_untreated_pairs() -> None:
    x, y, groups, counterfactual = synthetic_pairs(n=300)
    x["plan_n_targeting"] = 1.0
    with pytest.raises(ValueError, match="too few"):
        XLearnerEffect().fit(x, y, groups, counterfactual)


class _LevelModel:
    """A level model that adds 0.3 per targeting training, with a ±0.2 interval."""

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        level = features["current_level"].to_numpy() + 0.3 * features["plan_n_targeting"].to_numpy()
        return pd.DataFrame({"predicted_level": level, "lower": level - 0.2, "upper": level + 0.2},
                            index=features.index)


def test_s_learner_is_the_level_difference() -> None:
    x, _, _, _ = synthetic_pairs(n=20)
    base = x.assign(**{name: 0.0 for name in PLAN_FEATURES})
    plan = _rows_with(x, True).head(20)
    tau, lo, hi = SLearnerEffect(_LevelModel()).effect(plan, base)
    assert tau == pytest.approx(np.full(20, 0.3))
    assert lo == pytest.approx(np.full(20, 0.3)) and hi == pytest.approx(np.full(20, 0.3))


def _catalogue_export():
    from datetime import date

    from features.export import Export

    trainings = pd.DataFrame({"training_id": ["A", "B"], "format": ["coaching", "seminar"]}).astype("str")
    targets = pd.DataFrame({"training_id": ["A", "B", "B"], "competency_id": ["K1", "K1", "K2"],
                            "min_level": [1, 2, 3], "max_level": [2, 2, 5]})
    targets = targets.astype({"training_id": "str", "competency_id": "str", "min_level": "Int64",
                              "max_level": "Int64"})
    return Export({"trainings": trainings, "training_targets": targets}, exported_on=date(2025, 1, 1))


def test_course_features_describe_the_plans_courses_for_the_rows_competency() -> None:
    from engine.effects import COURSE_FEATURES, course_catalogue, course_features

    catalogue = course_catalogue(_catalogue_export())
    assert catalogue.loc["B|K2", "n_targets"] == 2 and catalogue.loc["B|K2", "band_width"] == 3
    out = course_features(catalogue, ["K1", "K2", "K1", "K3"], [("A",), ("A", "B"), ("A", "B"), ("A",)])
    assert list(out.columns) == list(COURSE_FEATURES)
    assert out.loc[0].tolist() == [1.0, 2.0]
    assert out.loc[1].tolist() == [2.0, 3.0]  # A does not aim at K2: only B describes row 1
    assert out.loc[2].tolist() == [1.5, 1.5]  # both aim at K1: the mean of the two courses
    assert out.loc[3].isna().all()  # nothing in the plan targets K3
