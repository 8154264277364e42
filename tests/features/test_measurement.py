"""The measurement model (features/measurement.py): method biases and noise recovered from synthetic
assessments, posterior behaviour, point in time, and its columns in build_features."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.constants import ASSESSMENT_METHODS
from features.export import Export
from features.io import read_export
from features.measurement import MeasurementModel, measurement_model
from features.pit import FEATURES, PitIndex, build_features
from features.pit_index import day_of
from tests.exports import write_valid_export

EXPORTED_ON = date(2026, 10, 31)
BIAS = np.array([0.0, 0.1, -0.1, 0.4])  # assessment_center, uji_kompetensi, cat, penilaian_360
SD = np.array([0.2, 0.3, 0.4, 0.5])
COMPETENCIES = ("M01", "M02")
N_PEOPLE = 500


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Export:
    return read_export(write_valid_export(Path(tmp_path_factory.mktemp("meas")) / "export")).without_protected()


def _employees(base: Export, nips: list[str]) -> pd.DataFrame:
    template = base["employees"].iloc[[0]]
    out = pd.concat([template] * len(nips), ignore_index=True)
    out["nip"] = pd.array(nips, dtype="str")
    return out


def _synthetic(seed: int = 0, ability_sd: float = 0.0) -> pd.DataFrame:
    """Each person × competency: a true level drifting slowly, 4 sessions over 3 years, 2–3 methods a session
    (with `ability_sd`, a person's levels share a general ability)."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(N_PEOPLE):
        ability = rng.normal(0.0, ability_sd) if ability_sd else 0.0
        for comp in COMPETENCIES:
            level = rng.normal(3.0 + ability, 0.5)
            day = 200 + int(rng.integers(0, 60))
            for _ in range(4):
                level += rng.normal(0.0, 0.1)
                for m in rng.choice(4, size=int(rng.integers(2, 4)), replace=False):
                    y = level + BIAS[m] + SD[m] * rng.standard_normal()
                    rows.append((f"P{p:04d}", comp, pd.Timestamp("2023-01-01") + pd.Timedelta(days=day),
                                 float(np.clip(round(y, 2), 1.0, 5.0)), ASSESSMENT_METHODS[m]))
                day += int(rng.integers(200, 300))
    return pd.DataFrame(rows, columns=["nip", "competency_id", "assessed_on", "level", "method"])


def _export(base: Export, assessments: pd.DataFrame) -> Export:
    nips = sorted(set(assessments["nip"]) | {"NEW", "SINGLE", "MANY"})
    tables = dict(base.tables)
    tables["employees"] = _employees(base, nips)
    a = assessments.copy()
    a["nip"] = pd.array(a["nip"], dtype="str")
    a["competency_id"] = pd.array(a["competency_id"], dtype="str")
    a["method"] = pd.array(a["method"], dtype="str")
    a["assessed_on"] = pd.to_datetime(a["assessed_on"]).astype("datetime64[ns]")
    tables["assessments"] = a
    return Export(tables, EXPORTED_ON)


def _extra(nip: str, comp: str, days: list[str], levels: list[float], method: str) -> pd.DataFrame:
    return pd.DataFrame({"nip": nip, "competency_id": comp, "assessed_on": pd.to_datetime(days),
                         "level": levels, "method": method})


@pytest.fixture(scope="module")
def fitted(base: Export) -> tuple[PitIndex, MeasurementModel]:
    index = PitIndex.build(_export(base, _synthetic()))
    return index, MeasurementModel().fit(index)


def _estimate(model: MeasurementModel, index: PitIndex, nip: str, comp: str, as_of: date) -> tuple[float, float]:
    pair = index.nips.get_loc(nip) * index.n_competencies + index.competencies.index.get_loc(comp)
    mean, sd = model.estimate(index, np.array([pair]), np.array([day_of(as_of)]))
    return float(mean[0]), float(sd[0])


def test_biases_and_noise_are_recovered(fitted: tuple[PitIndex, MeasurementModel]) -> None:
    _, model = fitted
    assert model.reference_ == "assessment_center"
    np.testing.assert_allclose(model.bias_[:4], BIAS, atol=0.05)
    np.testing.assert_allclose(np.sqrt(model.noise_var_[:4]), SD, atol=0.06)
    assert 0.0 < model.drift_var_ < 0.01  # 0.1 sd per ~8 months between sessions
    assert 0.3 < np.sqrt(model.prior_var_) < 0.7  # true levels spread with sd 0.5


def test_few_pairs_shrink_toward_no_bias_and_pooled_noise(base: Export) -> None:
    rng = np.random.default_rng(1)
    rows = [("P0000", "M01", "2024-01-10", 3.0 + 0.4 + rng.normal(0, 0.5), "penilaian_360"),
            ("P0000", "M01", "2024-01-10", 3.0, "assessment_center")]
    index = PitIndex.build(_export(base, pd.DataFrame(rows, columns=["nip", "competency_id", "assessed_on",
                                                                    "level", "method"])))
    model = MeasurementModel().fit(index)
    assert np.all(np.isfinite(model.bias_)) and np.all(model.noise_var_ >= model.min_noise_var)
    assert abs(model.bias_[3]) < 0.2  # one pair: mostly the prior of no bias
    assert model.reference_ == "mix"  # too few pairs with assessment_center to anchor on it


def test_posterior_moves_toward_prior_with_one_score_and_toward_data_with_many(
        base: Export, fitted: tuple[PitIndex, MeasurementModel]) -> None:
    _, model = fitted
    extra = pd.concat([_synthetic(),
                       _extra("SINGLE", "M01", ["2026-09-01"], [4.6], "cat"),
                       _extra("MANY", "M01", [f"2026-0{m}-01" for m in range(1, 10)], [4.6] * 9,
                              "assessment_center")])
    index = PitIndex.build(_export(base, extra))
    prior, prior_sd = _estimate(model, index, "NEW", "M01", EXPORTED_ON)
    single, single_sd = _estimate(model, index, "SINGLE", "M01", EXPORTED_ON)
    many, many_sd = _estimate(model, index, "MANY", "M01", EXPORTED_ON)
    assert prior_sd == pytest.approx(np.sqrt(model.prior_var_))
    debiased = 4.6 - model.bias_[ASSESSMENT_METHODS.index("cat")]
    assert prior < single < debiased  # a noisy single score: pulled toward the prior
    assert abs(many - 4.6) < 0.1 < abs(single - 4.6)  # many precise scores: the data
    assert many_sd < single_sd < prior_sd


def test_point_in_time(base: Export, fitted: tuple[PitIndex, MeasurementModel]) -> None:
    _, model = fitted
    before = _synthetic()
    later = pd.concat([before, _extra("P0001", "M01", ["2026-10-01", "2026-10-20"], [1.0, 5.0], "cat")])
    a, b = PitIndex.build(_export(base, before)), PitIndex.build(_export(base, later))
    as_of = date(2026, 9, 30)
    assert _estimate(model, a, "P0001", "M01", as_of) == _estimate(model, b, "P0001", "M01", as_of)
    assert _estimate(model, a, "P0001", "M01", EXPORTED_ON) != _estimate(model, b, "P0001", "M01", EXPORTED_ON)
    # Fitting as of a date ignores the assessments after it.
    fa, fb = MeasurementModel().fit(a, as_of), MeasurementModel().fit(b, as_of)
    assert fa.fingerprint == fb.fingerprint


def test_lenient_360_alone_is_estimated_below_its_raw_score(
        base: Export, fitted: tuple[PitIndex, MeasurementModel]) -> None:
    _, model = fitted
    index0 = PitIndex.build(_export(base, _synthetic()))
    raw = round(_estimate(model, index0, "NEW", "M02", EXPORTED_ON)[0], 2)  # at the prior: no shrinkage pull
    index = PitIndex.build(_export(base, pd.concat([_synthetic(), _extra("SINGLE", "M02", ["2026-10-01"], [raw],
                                                                         "penilaian_360")])))
    learned, _ = _estimate(model, index, "SINGLE", "M02", EXPORTED_ON)
    unbiased = replace(model, bias_=np.zeros_like(model.bias_))
    naive, _ = _estimate(unbiased, index, "SINGLE", "M02", EXPORTED_ON)
    assert learned < raw - 0.1
    assert learned < naive


def test_build_features_has_the_estimate(fitted: tuple[PitIndex, MeasurementModel]) -> None:
    index, model = fitted
    assert "level_estimate" in FEATURES and "level_estimate_sd" in FEATURES
    queries = pd.DataFrame({"nip": ["P0000", "P0001", "NEW"], "competency_id": ["M01", "M02", "M01"],
                            "as_of": pd.Timestamp(EXPORTED_ON), "horizon_months": 12})
    x = build_features(index, queries, measurement=model)
    assert x["level_estimate"].notna().all() and (x["level_estimate_sd"] > 0).all()
    own = build_features(index, queries)  # without a model: the index's own, fitted up to the export date
    assert measurement_model(index).fingerprint == model.fingerprint
    np.testing.assert_allclose(own["level_estimate"], x["level_estimate"])


def test_never_assessed_competency_follows_the_persons_other_competencies(base: Export) -> None:
    history = pd.concat([_synthetic(seed=3, ability_sd=0.6),
                         _extra("SINGLE", "M01", ["2026-06-01", "2026-07-01"], [4.5, 4.6], "assessment_center"),
                         _extra("SINGLE", "M02", ["2026-06-01"], [4.4], "assessment_center")])
    index = PitIndex.build(_export(base, history))
    model = MeasurementModel().fit(index)
    assert 0.3 < model.person_slope_ <= 1.0 and model.person_var_ < model.prior_var_
    prior, prior_sd = _estimate(model, index, "NEW", "M03", EXPORTED_ON)
    strong, strong_sd = _estimate(model, index, "SINGLE", "M03", EXPORTED_ON)
    assert strong > prior + 0.3 and strong_sd < prior_sd
    # Point in time: before the person's first assessment, only the prior.
    assert _estimate(model, index, "SINGLE", "M03", date(2026, 5, 31)) == (prior, prior_sd)


def test_an_export_without_assessments_gives_the_prior(base: Export) -> None:
    empty = _synthetic().head(0)
    index = PitIndex.build(_export(base, empty))
    model = MeasurementModel().fit(index)
    mean, sd = _estimate(model, index, "NEW", "M01", EXPORTED_ON)
    assert np.isfinite(mean) and sd > 0
    assert np.all(np.isfinite(model.bias_)) and np.all(model.noise_var_ > 0)
