"""Who finishes a course if enrolled: the completion model's point-in-time features, its temporal back-test
on a world with persistent reluctance and on the default world, its agreement with the generator's truth,
the report and metrics.json, and the bundle (with it, and without it as bundles trained before it were)."""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.completion import CompletionModel
from engine.results import EngineError
from features.completion import COMPLETION_FEATURES, CompletionTables, completion_features, enrolment_examples
from features.constants import PROTECTED_COLUMNS
from features.export import Export
from features.generator import generate_export
from features.io import read_export
from features.pit import PitIndex
from training.completion import (
    CompletionBacktest,
    completion_backtest,
    completion_data,
    completion_truth_comparison,
    expected_calibration_error,
    fit_bundle_completion,
    format_rates,
)
from training.fit import fit_predictor
from training.report import ReportInputs, write_report

EMPLOYEES, YEARS, SEED = 1000, 4, 3
KEYS = ("completion_auc", "completion_brier", "completion_ece", "completion_auc_baseline_format",
        "completion_brier_baseline_format")


@dataclass(frozen=True)
class World:
    folder: Path
    export: Export
    backtest: CompletionBacktest


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, World]:
    """One export per world (same size and seed), read back through features.io, back-tested once."""
    out = {}
    for name in ("reluctance", "default"):
        folder = tmp_path_factory.mktemp(name)
        generate_export(folder, employees=EMPLOYEES, years=YEARS, seed=SEED, world=name)
        export = read_export(folder)
        out[name] = World(folder, export, completion_backtest(export, seed=0))
    return out


def test_on_a_world_with_reluctance_the_model_ranks_and_is_calibrated(worlds: dict[str, World]) -> None:
    m = worlds["reluctance"].backtest.metrics
    assert m["completion_n"] > 1000 and m["completion_train_n"] > 1000
    assert m["completion_auc"] >= 0.75
    assert m["completion_ece"] <= 0.05
    # The person's own record says more than the course's format: it beats the per-format rate clearly.
    assert m["completion_auc"] > m["completion_auc_baseline_format"] + 0.03
    assert m["completion_brier"] < m["completion_brier_baseline_format"] < m["completion_brier_baseline_rate"]


def test_on_the_default_world_it_is_at_least_the_per_format_rate(worlds: dict[str, World]) -> None:
    m = worlds["default"].backtest.metrics
    assert m["completion_auc"] >= m["completion_auc_baseline_format"]
    assert m["completion_brier"] <= m["completion_brier_baseline_format"]
    assert m["completion_ece"] <= 0.05
    rows = worlds["default"].backtest.rows
    assert len(rows) == m["completion_n"] and rows["model"].between(0, 1).all()
    assert (rows["as_of"] > pd.Timestamp(worlds["default"].backtest.cutoff)).all()  # tested after the cutoff


def test_probabilities_follow_the_generators_truth_better_than_the_format_does(worlds: dict[str, World]) -> None:
    w = worlds["reluctance"]
    model = fit_bundle_completion(w.export, seed=0)
    assert model is not None
    found = completion_truth_comparison(model, w.export, w.folder / "truth")
    truth = pd.read_csv(w.folder / "truth" / "completion.csv", dtype={"nip": str, "training_id": str})
    assert found["completion_truth_n"] == len(truth) > 10_000
    data = completion_data(w.export)
    rates, overall = format_rates(data.features["format"], data.finished)
    formats = w.export["trainings"].set_index("training_id")["format"].astype(str)
    by_format = truth["training_id"].map(formats).map(rates).fillna(overall).to_numpy(np.float64)
    true = truth["completion_probability"].to_numpy(np.float64)
    assert found["completion_truth_corr"] > np.corrcoef(by_format, true)[0, 1] + 0.15
    assert found["completion_truth_mae"] < 0.8 * np.mean(np.abs(by_format - true))


def _perturbed_after(export: Export, day: pd.Timestamp) -> Export:
    """The export with every training outcome and assessment dated on or after `day` changed."""
    tables = dict(export.tables)
    r = tables["training_records"].copy()
    later = (r["started_on"] >= day).to_numpy()
    flip = {"selesai": "tidak_selesai", "tidak_selesai": "selesai"}
    r.loc[later, "status"] = r.loc[later, "status"].map(lambda s: flip.get(str(s), s))
    tables["training_records"] = r
    a = tables["assessments"].copy()
    a.loc[a["assessed_on"] >= day, "level"] = 6.0 - a.loc[a["assessed_on"] >= day, "level"]
    tables["assessments"] = a
    return Export(tables, export.exported_on, export.organisation, export.contract_version)


def test_features_are_as_of_the_start_and_never_protected(worlds: dict[str, World]) -> None:
    export = worlds["reluctance"].export
    examples = enrolment_examples(export)
    day = examples["as_of"].iloc[len(examples) // 2]
    queries = examples[examples["as_of"] == day].reset_index(drop=True)
    assert len(queries) > 3
    nips = export["employees"]["nip"].astype(str).head(200)
    queries = pd.concat([queries, pd.DataFrame({"nip": np.repeat(nips.to_numpy(), 2), "as_of": day,
                                                "training_id": np.tile(queries["training_id"].head(2), len(nips))})],
                        ignore_index=True)

    def features(ex: Export) -> pd.DataFrame:
        index = PitIndex.build(ex.without_protected())
        return completion_features(index, CompletionTables.build(index, ex), queries)

    before = features(export)
    assert list(before.columns) == list(COMPLETION_FEATURES)
    # Nothing dated on or after the enrolment's start (its own outcome included) moves a feature.
    pd.testing.assert_frame_equal(before, features(_perturbed_after(export, day)))
    # Protected attributes are not features, and changing them changes nothing.
    assert not set(COMPLETION_FEATURES) & set(PROTECTED_COLUMNS)
    tables = dict(export.tables)
    employees = tables["employees"].copy()
    employees["sex"] = np.where(employees["sex"] == "l", "p", "l")
    employees["birth_date"] = employees["birth_date"] - pd.Timedelta(days=3650)
    tables["employees"] = employees
    pd.testing.assert_frame_equal(before, features(Export(tables, export.exported_on)))
    # The features see the enrolments' outcomes at all: someone who abandoned before has a lower rate.
    assert before["past_abandoned"].max() > 0 and before["past_completion_rate"].nunique() > 5


def test_expected_calibration_error_is_the_weighted_gap_per_bin() -> None:
    p = np.array([0.05, 0.05, 0.95, 0.95])
    assert expected_calibration_error(p, np.array([0, 0, 1, 1])) == pytest.approx(0.05)
    assert expected_calibration_error(p, np.array([1, 1, 0, 0])) == pytest.approx(0.95)
    assert expected_calibration_error(np.array([0.3, 1.0]), np.array([0, 1])) == pytest.approx(0.15)


def test_the_report_and_metrics_json_carry_the_completion_backtest(worlds: dict[str, World], tmp_path: Path) -> None:
    bt = worlds["reluctance"].backtest
    report, metrics_file = write_report(ReportInputs(title="Evaluasi", model_version="3", metrics=dict(bt.metrics),
                                                     completion=bt), tmp_path)
    saved = json.loads(metrics_file.read_text(encoding="utf-8"))
    for key in KEYS:
        assert saved[key] == pytest.approx(bt.metrics[key]), key
    html = report.read_text(encoding="utf-8")
    assert "Completion: who finishes a course if enrolled" in html and "per-format rate" in html


def test_the_bundle_carries_the_model_and_bundles_without_one_still_serve(worlds: dict[str, World]) -> None:
    export = worlds["default"].export
    predictor = fit_predictor(export, seed=0, effect_estimator="s_learner",
                              gap_model_params={"n_estimators": 40, "interval_estimators": 20})
    assert isinstance(predictor.completion_model, CompletionModel)
    assert predictor.metadata["fit_metrics"]["completion_examples"] > 1000
    nips = export["employees"].loc[export["employees"]["status"] == "aktif", "nip"].astype(str).head(3).tolist()
    loaded = pickle.loads(pickle.dumps(predictor))
    answer = loaded.completion_probability(export, nips, ["PLT-LATSAR-CPNS", "PLT-ORIENTASI-PPPK"])
    assert list(answer.columns) == ["nip", "training_id", "completion_probability"] and len(answer) == 6
    assert answer["completion_probability"].between(0, 1).all()
    pd.testing.assert_frame_equal(answer, predictor.completion_probability(
        export, nips, ["PLT-LATSAR-CPNS", "PLT-ORIENTASI-PPPK"]))
    everything = loaded.completion_probability(export, nips[:1])  # default: every active training
    assert len(everything) == int(export["trainings"]["active"].sum())
    with pytest.raises(EngineError, match="unknown training"):
        loaded.completion_probability(export, nips, ["NOPE"])
    with pytest.raises(EngineError, match="unknown employee"):
        loaded.completion_probability(export, ["000"], ["PLT-LATSAR-CPNS"])
    # A bundle pickled before the completion model existed: no attribute at all in its state.
    state = predictor.__getstate__()
    del state["completion_model"]
    old = type(predictor).__new__(type(predictor))
    old.__setstate__(state)
    old = pickle.loads(pickle.dumps(old))
    assert old.completion_model is None
    assert old.recommend(export, nips[0]).nip == nips[0] and old.gaps(export, nips[0]).competencies
    with pytest.raises(EngineError, match="no completion model"):
        old.completion_probability(export, nips, ["PLT-LATSAR-CPNS"])
