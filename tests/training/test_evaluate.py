"""The back-test and the evaluation report an analyst sends to a head of agency."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from features.pit import FEATURES
from tests.model.gap_setup import small_export
from training.evaluate import backtest
from training.report import ReportInputs, write_report


@pytest.fixture(scope="module")
def result():
    export, _truth = small_export()
    return backtest(export, seed=3)


def test_backtest_scores_every_model_on_the_same_later_assessments(result) -> None:
    m = result.metrics
    assert m["backtest_n"] > 500
    for prefix in ("backtest", "baseline_carry_forward", "baseline_linear"):
        assert m[f"{prefix}_mae"] > 0
        assert m[f"{prefix}_rmse"] >= m[f"{prefix}_mae"]
        assert 0 < m[f"{prefix}_coverage"] <= 1
    # The product's reason to exist: it beats both baselines on held-out later assessments.
    assert m["backtest_mae"] < m["baseline_carry_forward_mae"]
    assert m["backtest_mae"] < m["baseline_linear_mae"]
    rows = result.rows
    assert len(rows) == m["backtest_n"]
    assert set(result.by_competency["model"]) == {"model", "baseline_carry_forward", "baseline_linear"}
    per_comp = result.by_competency[result.by_competency["model"] == "model"]
    assert per_comp["n"].sum() == len(rows)
    assert set(result.by_position_type["position_type"]) == set(rows["position_type"])


def test_importance_uses_business_names(result) -> None:
    names = set(result.importance["feature"])
    assert names and not names & set(FEATURES)  # never a raw column name
    assert not any("__" in n for n in names)
    assert result.importance["mean_abs_contribution"].is_monotonic_decreasing


def test_report_is_one_offline_html_with_every_plot(result, tmp_path: Path) -> None:
    report, metrics_file = write_report(
        ReportInputs(title="Evaluasi", model_version="7", backtest=result, metrics=result.metrics), tmp_path)
    html = report.read_text(encoding="utf-8")
    for heading in ("Interval calibration", "Error by competency", "Residuals", "Global feature importance"):
        assert heading in html
    assert html.count("Plotly.newPlot") >= 6
    assert not re.search(r"<script[^>]*\bsrc=", html)  # plotly.js is embedded: the file works offline
    assert "function" in html and len(html) > 1_000_000
    assert "Recommendations against the true gains" not in html  # no section without its data
    saved = json.loads(metrics_file.read_text(encoding="utf-8"))
    assert saved["backtest_mae"] == pytest.approx(result.metrics["backtest_mae"])


def test_report_shows_policy_value_of_product_and_baselines(tmp_path: Path) -> None:
    rec = {"policy_value_top1": 0.91, "popularity_policy_value_top1": 0.02, "rule_policy_value_top1": 0.31,
           "policy_value_top3": 0.86, "popularity_policy_value_top3": 0.01, "rule_policy_value_top3": 0.35}
    report, _ = write_report(ReportInputs(title="t", model_version="1", recommendation_metrics=rec), tmp_path)
    html = report.read_text(encoding="utf-8")
    assert "Recommendations against the true gains" in html
    assert "Policy value" in html
    assert "0.91" in html and "0.31" in html  # the figure carries the three bars' values


def test_report_shows_the_budget_curve(tmp_path: Path) -> None:
    curve = [{"budget_idr": 100_000_000, "expected_gain": 50.0, "cost_idr": 99_000_000,
              "employees_reaching_standard": 40},
             {"budget_idr": 400_000_000, "expected_gain": 120.0, "cost_idr": 398_000_000,
              "employees_reaching_standard": 95}]
    report, _ = write_report(ReportInputs(title="t", model_version="1", budget_curve=curve), tmp_path)
    html = report.read_text(encoding="utf-8")
    assert "Budget curve" in html and "Plotly.newPlot" in html
