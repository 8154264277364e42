"""Drift: PSI arithmetic, thresholds, and the report on a generated export against shifted versions of it.

The gap model here is a stand-in (predicted level = current level + 0.1): PSI does not care which model
made the predictions, and fitting a real one would cost a minute. The end-to-end test with the real
pipeline is in test_fairness.py (`test_biased_export_is_refused_and_unbiased_passes`).
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from engine.drift import (
    MISSING,
    OTHER,
    PREDICTION,
    REFERENCE_KEY,
    DriftReport,
    attach_reference,
    drift_features,
    drift_report,
    profile_categorical,
    profile_numeric,
    psi,
    shares_like,
    status_of,
)
from features.constants import LEVEL_MAX, LEVEL_MIN
from features.export import Export
from tests.exports import generated_export

EXPORTED_ON = date(2026, 6, 30)


class CurrentPlusTenth:
    """A stand-in gap model: the latest level plus 0.1, on the 1–5 scale."""

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        level = np.clip(features["current_level"].to_numpy(np.float64) + 0.1, LEVEL_MIN, LEVEL_MAX)
        return pd.DataFrame({"predicted_level": level, "lower": level - 0.3, "upper": level + 0.3},
                            index=features.index)


def _predictor() -> SimpleNamespace:
    return SimpleNamespace(gap_model=CurrentPlusTenth(), metadata={"model_version": "7"})


def _generated() -> Export:
    return generated_export(300, 3, 5, EXPORTED_ON)


@pytest.fixture
def export() -> Export:
    ex = _generated()
    return Export({k: v.copy() for k, v in ex.tables.items()}, ex.exported_on, ex.organisation,
                  ex.contract_version, "training-snapshot")


def shifted(export: Export, *, level_shift: float = 0.8, pppk_share: float = 0.8, seed: int = 0) -> Export:
    """The export with every assessed level raised by `level_shift` (kept on the scale) and most employees
    turned PPPK (grade too, so the row stays valid)."""
    tables = {k: v.copy() for k, v in export.tables.items()}
    a = tables["assessments"]
    tables["assessments"] = a.assign(level=np.clip(a["level"] + level_shift, LEVEL_MIN, LEVEL_MAX).round(2))
    emp = tables["employees"]
    rng = np.random.default_rng(seed)
    turn = rng.random(len(emp)) < pppk_share
    emp.loc[turn, "employment"] = "pppk"
    emp.loc[turn, "grade"] = "pppk_7"
    return Export(tables, export.exported_on, export.organisation, export.contract_version, "shifted-snapshot")


# ---------------------------------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------------------------------
def test_psi_of_identical_shares_is_zero_and_matches_the_formula() -> None:
    r = np.array([0.5, 0.3, 0.2])
    assert psi(r, r) == 0.0
    c = np.array([0.4, 0.4, 0.2])
    expected = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.4 - 0.3) * math.log(0.4 / 0.3)
    assert psi(r, c) == pytest.approx(expected, abs=1e-12)
    assert psi(r, c) > 0


def test_an_emptied_bin_is_large_but_finite() -> None:
    value = psi(np.array([0.5, 0.5]), np.array([1.0, 0.0]))
    assert math.isfinite(value)
    assert value > 2.0


def test_status_thresholds() -> None:
    assert [status_of(x) for x in (0.0, 0.0999, 0.1, 0.2499, 0.25, 3.0)] == [
        "ok", "ok", "warning", "warning", "alert", "alert"]
    assert status_of(float("nan")) == "ok"


def test_numeric_profile_cuts_deciles_and_keeps_missing_apart() -> None:
    values = np.r_[np.arange(1000, dtype=float), [np.nan] * 100]
    prof = profile_numeric(values)
    assert len(prof["edges"]) == 9
    shares = np.array(prof["shares"])
    assert shares.sum() == pytest.approx(1.0)
    assert shares[-1] == pytest.approx(100 / 1100)  # the missing bin
    np.testing.assert_allclose(shares[:-2], 100 / 1100, atol=2 / 1100)
    # Same data, same shares; all values missing now: everything moves to the missing bin.
    np.testing.assert_allclose(shares_like(prof, values), shares)
    assert shares_like(prof, np.full(50, np.nan))[-1] == 1.0


def test_a_discrete_feature_gets_one_bin_per_value() -> None:
    prof = profile_numeric(np.r_[np.zeros(700), np.ones(300)])
    assert prof["edges"] == [0.0, 1.0]
    np.testing.assert_allclose(prof["shares"], [0.7, 0.3, 0.0, 0.0])


def test_unseen_categories_count_as_other() -> None:
    prof = profile_categorical(pd.Series(["pns"] * 80 + ["pppk"] * 20 + [None] * 0, dtype="str"))
    assert prof["categories"] == ["pns", "pppk", OTHER]
    np.testing.assert_allclose(shares_like(prof, pd.Series(["pns", "honorer", "honorer", "pppk"])),
                               [0.25, 0.25, 0.5])
    with_missing = profile_categorical(pd.Series(["a", None], dtype="str"))
    assert MISSING in with_missing["categories"]


def test_plan_features_and_constants_are_not_profiled() -> None:
    categorical, numeric = drift_features()
    measured = set(categorical) | set(numeric)
    assert not {f for f in measured if f.startswith("plan_")}
    assert "horizon_months" not in measured and "target_method" not in measured
    assert {"current_level", "employment", "tenure_years"} <= measured


# ---------------------------------------------------------------------------------------------------
# Reports on a generated export
# ---------------------------------------------------------------------------------------------------
def test_the_training_snapshot_against_itself_has_no_drift(export: Export) -> None:
    predictor = _predictor()
    attach_reference(predictor, export)
    report = drift_report(export, predictor)
    assert report.psi_max == pytest.approx(0.0, abs=1e-12)
    assert report.prediction_psi == pytest.approx(0.0, abs=1e-12)
    assert report.status == "ok"
    assert set(report.features["status"]) == {"ok"}
    assert report.reference["snapshot_id"] == "training-snapshot"
    assert report.reference["rows"] == report.current["rows"] > 1000


def test_a_shifted_export_raises_an_alert_on_the_features_that_moved(export: Export) -> None:
    predictor = _predictor()
    attach_reference(predictor, export)
    report = drift_report(shifted(export), predictor)
    by_feature = report.features.set_index("feature")["psi"]
    assert report.status == "alert"
    assert report.prediction_psi >= 0.25
    assert by_feature["current_level"] >= 0.25
    assert by_feature["employment"] >= 0.25
    # Untouched descriptors stay quiet: drift is attributed, not smeared over every feature.
    assert by_feature["competency_id"] < 0.1
    assert by_feature["job_family"] < 0.1
    assert report.features["psi"].is_monotonic_decreasing
    m = report.metrics()
    assert m["drift_status_level"] == 2.0
    assert m["drift_psi_max"] == pytest.approx(report.psi_max)
    assert m["drift_psi_current_level"] == pytest.approx(by_feature["current_level"])
    assert m["drift_features_alert"] >= 2


def test_a_small_shift_is_at_most_a_warning(export: Export) -> None:
    predictor = _predictor()
    attach_reference(predictor, export)
    report = drift_report(shifted(export, level_shift=0.05, pppk_share=0.0), predictor)
    assert report.status in ("ok", "warning")
    assert report.features.set_index("feature")["psi"]["employment"] == pytest.approx(0.0, abs=1e-12)


def test_a_reference_export_can_replace_the_stored_profile(export: Export) -> None:
    predictor = _predictor()
    with pytest.raises(LookupError, match="no drift reference"):
        drift_report(export, predictor)
    report = drift_report(shifted(export), predictor, reference=export)
    assert report.status == "alert"
    assert REFERENCE_KEY not in predictor.metadata  # an explicit reference is not written back


def test_the_reference_is_small_json_with_no_employee_data(export: Export) -> None:
    predictor = _predictor()
    reference = attach_reference(predictor, export)
    text = json.dumps(reference)
    assert len(text) < 50_000
    nips = set(export["employees"]["nip"].astype(str))
    assert not {n for n in re.findall(r"\d{18}", text) if n in nips}
    assert PREDICTION in reference["profiles"]


def test_texts_in_both_languages(export: Export) -> None:
    predictor = _predictor()
    attach_reference(predictor, export)
    report = drift_report(shifted(export), predictor)
    text_id, text_en = report.to_text("id"), report.to_text("en")
    assert "ALERT" in text_id and "waspada" in text_id
    assert "Level terprediksi" in text_id and "Status kepegawaian" in text_id
    assert "Predicted level" in text_en and "Employment" in text_en and "Thresholds" in text_en
    assert "current_level" not in text_en  # business labels, never column names
    assert json.loads(json.dumps(report.to_dict()))["status"] == "alert"


def test_status_is_the_worst_of_features_and_predictions() -> None:
    features = pd.DataFrame({"feature": ["a", "b"], "kind": ["numeric", "numeric"], "psi": [0.12, 0.01],
                             "status": ["warning", "ok"]})
    report = DriftReport(features, 0.02, {"as_of": "2026-01-01"}, {"as_of": "2026-06-30"})
    assert report.status == "warning"
    report.prediction_psi = 0.3
    assert report.status == "alert"
