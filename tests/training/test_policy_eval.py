"""Truth-free decision checks (`training.policy_eval`, `training.gate.decision_checks`): doubly robust
policy values on held-out employees, the placebo, the gate, and the honesty of the cross-fitting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import training.policy_eval as policy_eval
from features.generator import generate_export
from features.io import read_export
from training.fit import fit_predictor
from training.gate import decision_checks, make_gate, run_checks
from training.policy_eval import cross_fit, employee_folds, evaluation_dates, policy_evaluation
from training.registry import promotion_gate
from training.report import ReportInputs, write_report


# ---------------------------------------------------------------------------------------------------
# Unit tests (fast)
# ---------------------------------------------------------------------------------------------------
def test_the_decision_check_refuses_a_model_not_better_than_the_rule() -> None:
    gate = make_gate(*decision_checks())
    assert gate({"policy_dr_vs_rule": 0.05, "policy_dr_vs_rule_lo": -0.02}, None) == []
    refused = gate({"policy_dr_vs_rule": -0.01, "policy_dr_vs_rule_lo": -0.2, "policy_dr_vs_rule_hi": 0.1}, None)
    assert len(refused) == 1 and refused[0].startswith("beats_rule_policy_dr:")
    assert "[-0.2000, +0.1000]" in refused[0]
    assert gate({"policy_dr_vs_rule": 0.0}, None)[0].startswith("beats_rule_policy_dr:")  # a tie is no gain
    assert gate({}, None) == []  # not measured: the other checks decide
    assert any(r.startswith("beats_rule_policy_dr:") for r in promotion_gate()({"policy_dr_vs_rule": -1.0}, None))


def test_the_report_shows_the_truth_free_values_beside_the_truth(tmp_path: Path) -> None:
    metrics = {"policy_value_dr": 0.23, "policy_value_dr_lo": 0.11, "policy_value_dr_hi": 0.33,
               "policy_value_dr_rule": 0.13, "policy_value_dr_popularity": -0.02, "policy_dr_vs_rule": 0.10,
               "policy_dr_vs_rule_lo": -0.05, "policy_dr_vs_rule_hi": 0.25, "placebo_effect": 0.016,
               "rec_policy_value_top1": 0.88, "rec_rule_policy_value_top1": 0.27,
               "rec_popularity_policy_value_top1": 0.01, "policy_dr_gate_agrees_with_truth": 1.0}
    report, _ = write_report(ReportInputs(title="t", model_version="1", metrics=metrics), tmp_path)
    html = report.read_text(encoding="utf-8")
    assert "Decision quality without truth" in html
    assert "<td>rule baseline</td><td>+0.130</td><td>0.270</td>" in html
    assert "The truth agrees." in html
    bare, _ = write_report(ReportInputs(title="t", model_version="1", metrics={"backtest_mae": 0.3}), tmp_path)
    assert "Decision quality without truth" not in bare.read_text(encoding="utf-8")


class _Recording:
    """A stand-in LightGBM estimator recording the employees (column `nip_code`) it fits and predicts."""

    log: list[tuple[str, frozenset[float]]] = []

    def __init__(self, **_: object) -> None:
        self.classes_ = np.array([0, 1])

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> _Recording:
        self.log.append(("fit", frozenset(x["nip_code"])))
        self.classes_ = np.unique(y)
        return self

    def _seen(self, x: pd.DataFrame) -> None:
        self.log.append(("predict", frozenset(x["nip_code"])))

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        self._seen(x)
        return np.zeros(len(x))

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        self._seen(x)
        return np.full((len(x), len(self.classes_)), 1.0 / len(self.classes_))


class _FakeLgb:
    LGBMClassifier = _Recording
    LGBMRegressor = _Recording


def test_the_nuisance_models_never_see_the_employees_they_score(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    nips = np.repeat([f"N{i:03d}" for i in range(200)], 5)
    folds_of = employee_folds(nips, 5, seed=0)
    folds = np.array([folds_of[n] for n in nips])
    m = pd.DataFrame({"nip_code": [float(n[1:]) for n in nips], "x": rng.normal(size=len(nips))})
    arm = rng.integers(0, 3, len(nips))
    _Recording.log = []
    monkeypatch.setattr(policy_eval, "lgb", _FakeLgb)
    nuisances = cross_fit(m, rng.normal(size=len(nips)), arm, folds, 3, seed=0)
    assert np.isfinite(nuisances.e).all() and np.isfinite(nuisances.mu).all()
    fitted: frozenset[float] = frozenset()
    n_predictions = 0
    for kind, seen in _Recording.log:
        if kind == "fit":
            fitted = seen
        else:
            assert fitted and not (fitted & seen), "a nuisance model scored an employee it was fitted on"
            n_predictions += 1
    assert n_predictions == 5 * 4  # per fold: the propensity and three outcome models
    # Each employee is in one fold only, and the folds are balanced.
    assert len(set(folds_of.values())) == 5
    assert max(np.bincount(list(folds_of.values()))) - min(np.bincount(list(folds_of.values()))) <= 1


# ---------------------------------------------------------------------------------------------------
# On the default generated export (~600 employees, 4 years)
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory):
    folder: Path = tmp_path_factory.mktemp("policy_eval") / "export"
    generate_export(folder, employees=600, years=4, seed=7)
    export = read_export(folder)
    predictor = fit_predictor(export, seed=0)
    return export, predictor, policy_evaluation(export, predictor, seed=0)


@pytest.mark.slow
def test_the_real_model_beats_the_rule_and_passes_the_gate(fitted) -> None:
    _, _, result = fitted
    m = result.metrics
    assert m["policy_value_dr"] > m["policy_value_dr_rule"] > m["policy_value_dr_popularity"]
    assert m["policy_value_dr_lo"] < m["policy_value_dr"] < m["policy_value_dr_hi"]
    assert m["policy_dr_vs_rule_lo"] < m["policy_dr_vs_rule"] < m["policy_dr_vs_rule_hi"]
    assert 0.0 <= m["policy_dr_overlap_outside"] <= 1.0
    assert m["policy_dr_employees"] > 200
    assert run_checks(decision_checks(), m, None) == []


@pytest.mark.slow
def test_the_gate_refuses_a_model_whose_effects_are_shuffled(fitted) -> None:
    export, predictor, result = fitted
    rng = np.random.default_rng(1)
    gains = {}
    for day in evaluation_dates(export.without_protected()):
        g = predictor.pair_gains(export, None, as_of=day)
        gains[day] = g.assign(expected_gain=rng.permutation(g["expected_gain"].to_numpy()))
    shuffled = policy_evaluation(export, predictor, gains=gains, seed=0).metrics
    assert shuffled["policy_value_dr"] < result.metrics["policy_value_dr"]
    assert shuffled["policy_value_dr_rule"] == pytest.approx(result.metrics["policy_value_dr_rule"])  # same nuisances
    reasons = run_checks(decision_checks(), shuffled, None)
    assert len(reasons) == 1 and reasons[0].startswith("beats_rule_policy_dr:")


@pytest.mark.slow
def test_the_placebo_is_about_zero_for_the_real_model(fitted) -> None:
    _, _, result = fitted
    m = result.metrics
    assert abs(m["placebo_effect"]) < 0.1
    assert m["placebo_effect_lo"] < 0 < m["placebo_effect_hi"]
    assert m["placebo_n"] > 1000


@pytest.mark.slow
def test_every_score_comes_from_nuisances_fitted_without_its_employee(fitted) -> None:
    _, _, result = fitted
    scores = result.scores
    for fold, seen in result.trained_on.items():
        scored = set(scores.loc[scores["fold"] == fold, "nip"])
        assert scored and not (scored & seen)
    assert scores.groupby("nip")["fold"].nunique().max() == 1
