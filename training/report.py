"""The evaluation report: one self-contained HTML file (plotly.js embedded once, no network) + metrics.json.

Sections appear only for what was evaluated: the gap model's back-test (interval calibration, error by
competency and position type, residuals, global feature importance), the comparison with a generator's
truth, the completion model's temporal back-test (AUC, Brier score, calibration against the per-format
rate), the recommendations against the truth (policy value against the baselines), the merit-system
fairness audit (`training.fairness`: group values with intervals, the gate's checks) and data drift
(`engine.drift`: PSI per feature and of the predictions). Their full tables also go to
fairness.json and drift.json (`write_sections`).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.drift import PREDICTION, PSI_ALERT, PSI_WARNING
from engine.plans import PlanCurvePoint
from features.values import finite
from training.completion import CompletionBacktest
from training.evaluate import Backtest
from training.fairness import ATTRIBUTES, OUTCOMES, fairness_checks
from training.gate import decision_checks, run_checks

if TYPE_CHECKING:
    from engine.drift import DriftReport
    from training.fairness import FairnessAudit

MODEL_LABELS = {"model": "gap model", "baseline_carry_forward": "carry-forward", "baseline_linear": "linear"}
COLORS = {"model": "#1f6feb", "baseline_carry_forward": "#8b949e", "baseline_linear": "#d29922"}


@dataclass
class ReportInputs:
    title: str
    model_version: str
    backtest: Backtest | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # everything, flat (written to metrics.json)
    notes: list[str] = field(default_factory=list)
    recommendation_metrics: dict[str, float] = field(default_factory=dict)
    fairness: FairnessAudit | None = None
    drift: DriftReport | None = None
    budget_curve: list[PlanCurvePoint] = field(default_factory=list)
    completion: CompletionBacktest | None = None


def _figure_html(fig, first: list[bool]) -> str:
    """A figure's div; plotly.js is embedded with the first figure only (the file stays offline)."""
    include = first[0]
    first[0] = False
    return fig.to_html(full_html=False, include_plotlyjs=True if include else False,
                       config={"displaylogo": False, "responsive": True})


def _calibration_figures(bt: Backtest):

    rows = bt.rows
    figs = []
    # Coverage of the 80% interval per competency and per evidence group, against the nominal 80%.
    by = bt.by_competency[bt.by_competency["model"] == "model"].sort_values("competency_id")
    fig = go.Figure()
    fig.add_bar(x=by["competency_id"], y=by["coverage"], name="coverage (gap model)", marker_color=COLORS["model"])
    fig.add_hline(y=0.8, line_dash="dash", annotation_text="nominal 80%")
    fig.update_layout(title="Interval calibration: share of held-out assessments inside the 80% interval",
                      yaxis_title="empirical coverage", yaxis_range=[0, 1], height=380)
    figs.append(fig)
    # Reliability: mean observed level per decile of predicted level.
    bins = pd.qcut(rows["model_predicted_level"], q=10, duplicates="drop")
    rel = rows.groupby(bins, observed=True).agg(predicted=("model_predicted_level", "mean"),
                                                observed=("target", "mean"), n=("target", "size"))
    fig = go.Figure()
    fig.add_scatter(x=rel["predicted"], y=rel["observed"], mode="markers+lines", name="deciles",
                    marker_color=COLORS["model"])
    lo, hi = float(rel[["predicted", "observed"]].min().min()), float(rel[["predicted", "observed"]].max().max())
    fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="perfect", line_dash="dash", line_color="#888")
    fig.update_layout(title="Calibration of the point prediction (deciles of predicted level)",
                      xaxis_title="mean predicted level", yaxis_title="mean observed level", height=380)
    figs.append(fig)
    return figs


def _error_figures(bt: Backtest):

    figs = []
    for table, key, title in ((bt.by_competency, "competency_id", "competency"),
                              (bt.by_position_type, "position_type", "position type")):
        fig = go.Figure()
        for m, label in MODEL_LABELS.items():
            t = table[table["model"] == m].sort_values(key)
            fig.add_bar(x=t[key], y=t["mae"], name=label, marker_color=COLORS[m])
        fig.update_layout(title=f"Back-test MAE by {title}", barmode="group", yaxis_title="MAE (levels)",
                          height=400)
        figs.append(fig)
    return figs


def _residual_figures(bt: Backtest, seed: int = 0):

    rows = bt.rows
    resid = rows["target"] - rows["model_predicted_level"]
    fig = go.Figure()
    fig.add_histogram(x=resid, nbinsx=60, name="gap model", marker_color=COLORS["model"], opacity=0.75)
    fig.add_histogram(x=rows["target"] - rows["baseline_carry_forward_predicted_level"], nbinsx=60,
                      name="carry-forward", marker_color=COLORS["baseline_carry_forward"], opacity=0.5)
    fig.update_layout(title="Residuals (observed − predicted)", barmode="overlay", xaxis_title="levels",
                      height=380)
    sample = rows.sample(n=min(len(rows), 4000), random_state=seed)
    fig2 = go.Figure()
    fig2.add_scatter(x=sample["model_predicted_level"], y=sample["target"] - sample["model_predicted_level"],
                     mode="markers", marker={"size": 3, "opacity": 0.35, "color": COLORS["model"]},
                     name="test rows")
    fig2.add_hline(y=0, line_dash="dash")
    fig2.update_layout(title="Residual against predicted level", xaxis_title="predicted level",
                       yaxis_title="observed − predicted", height=380)
    return [fig, fig2]


def _importance_figure(bt: Backtest):

    imp = bt.importance.head(20).iloc[::-1]
    fig = go.Figure(go.Bar(x=imp["mean_abs_contribution"], y=imp["feature"], orientation="h",
                           marker_color=COLORS["model"]))
    fig.update_layout(title="Global feature importance: mean |contribution| (levels), gap model",
                      height=max(380, 22 * len(imp) + 120), margin={"l": 260})
    return fig


def _policy_figure(rec: dict[str, float]):

    labels = {"": "asn-kompetensi", "popularity_": "popularity baseline", "rule_": "rule baseline"}
    fig = go.Figure()
    for k, name in (("top1", "rank-1 pick"), ("top3", "top-3 picks")):
        fig.add_bar(x=list(labels.values()), y=[rec.get(f"{p}policy_value_{k}", np.nan) for p in labels],
                    name=name)
    fig.add_hline(y=0.8, line_dash="dash", annotation_text="acceptance 0.8")
    fig.update_layout(title="Policy value against the generator's true gains (1 = oracle, 0 = random)",
                      barmode="group", height=380)
    return fig


def _budget_curve_figure(curve: list[PlanCurvePoint]):
    budgets = [p["budget_idr"] / 1e6 for p in curve]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_scatter(x=budgets, y=[p["expected_gain"] for p in curve], mode="lines+markers",
                    name="total expected gain (levels)", marker_color=COLORS["model"])
    if all("employees_reaching_standard" in p for p in curve):
        fig.add_scatter(x=budgets, y=[p["employees_reaching_standard"] for p in curve], mode="lines+markers",
                        name="employees brought to their standard", marker_color=COLORS["baseline_linear"],
                        secondary_y=True)
    fig.update_layout(title="Budget curve: what each budget buys (optimal plan at every budget, all units)",
                      xaxis_title="budget (Rp juta)", height=400)
    fig.update_yaxes(title_text="total expected gain (levels)", secondary_y=False)
    fig.update_yaxes(title_text="employees", secondary_y=True)
    return fig


def _table(data: dict[str, float]) -> str:
    cells = "".join(f"<tr><td>{html.escape(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in sorted(data.items()))
    return f"<table><tr><th>metric</th><th>value</th></tr>{cells}</table>"


def _fmt(v: float) -> str:
    if isinstance(v, float):
        number = finite(v)
        return "—" if number is None else f"{number:,.4f}"
    return html.escape(str(v))


def _policy_dr_section(metrics: dict[str, float]) -> list[str]:
    """The truth-free policy values (`training.policy_eval`) beside the truth's, and the gate's verdict."""
    if "policy_value_dr" not in metrics:
        return []
    m = {k: finite(v) for k, v in metrics.items()}

    def num(key: str, fmt: str = "{:+.3f}") -> str:
        value = m.get(key)
        return "—" if value is None else fmt.format(value)

    rows = [("asn-kompetensi", "policy_value_dr", "rec_policy_value_top1"),
            ("rule baseline", "policy_value_dr_rule", "rec_rule_policy_value_top1"),
            ("popularity baseline", "policy_value_dr_popularity", "rec_popularity_policy_value_top1")]
    cells = "".join(f"<tr><td>{name}</td><td>{num(dr)}</td><td>{num(truth, '{:.3f}')}</td></tr>"
                    for name, dr, truth in rows)
    verdict = run_checks(decision_checks(), metrics, None)
    return [
        "<h2>Decision quality without truth</h2>",
        "<p>Doubly robust (AIPW) value of following each policy's rank-1 pick, from the export alone: "
        "the gap closed on the pick's target competencies at the next assessment, with against without a "
        "training of the pick's format targeting them, outcome and propensity models cross-fitted on "
        "held-out employees (levels per employee and evaluation date). Beside it, when a truth directory "
        "was given, the truth's rank-1 policy value (1 = oracle, 0 = random) for the same policy: the "
        "scales differ, the ordering should agree.</p>",
        f"<table><tr><th>policy</th><th>DR value (levels)</th><th>truth policy value</th></tr>{cells}</table>",
        f"<p>Model − rule: {num('policy_dr_vs_rule')} (95% interval {num('policy_dr_vs_rule_lo')} to "
        f"{num('policy_dr_vs_rule_hi')}); model value interval {num('policy_value_dr_lo')} to "
        f"{num('policy_value_dr_hi')}; {num('policy_dr_units', '{:,.0f}')} employee-dates of "
        f"{num('policy_dr_employees', '{:,.0f}')} employees. Overlap: {num('policy_dr_overlap_outside', '{:.1%}')} "
        f"of pairs have a propensity of any targeting training outside [0.05, 0.95]; "
        f"{num('policy_dr_overlap_format_below', '{:.1%}')} of per-format propensities are below 0.05 "
        "(clipped: there the estimate leans on the outcome model). Placebo (effect on competencies no "
        f"completed training targeted, should be ≈ 0): {num('placebo_effect')} (95% interval "
        f"{num('placebo_effect_lo')} to {num('placebo_effect_hi')}).</p>",
        "<p>Gate: " + (html.escape("; ".join(verdict)) if verdict else "the model's picks beat the rule "
                       "baseline's (point estimate of model − rule > 0).")
        + ("" if "policy_dr_gate_agrees_with_truth" not in m else
           " The truth " + ("agrees" if m["policy_dr_gate_agrees_with_truth"] else "disagrees") + ".") + "</p>",
    ]


_GROUP_NAMES = {"l": "men (l)", "p": "women (p)", "lt30": "< 30", "30_39": "30–39", "40_49": "40–49",
                "ge50": "≥ 50"}


def _fairness_figure(audit: FairnessAudit, attribute: str):


    names = list(OUTCOMES)
    found = {c.outcome: c for c in audit.comparisons if c.attribute == attribute}
    many = max((len(c.groups) for c in found.values()), default=0) > 4  # long, slanted group names
    fig = make_subplots(rows=2, cols=3, subplot_titles=[OUTCOMES[n].short for n in names],
                        vertical_spacing=0.42 if many else 0.2)
    for i, name in enumerate(names):
        c = found.get(name)
        if c is None:
            continue
        g = c.groups
        colors = [COLORS["model"] if ok else "#c9d1d9" for ok in g["compared"]]
        fig.add_bar(x=[_GROUP_NAMES.get(v, v) for v in g["group"]], y=g["value"], marker_color=colors,
                    error_y={"type": "data", "symmetric": False, "array": (g["hi"] - g["value"]).tolist(),
                             "arrayminus": (g["value"] - g["lo"]).tolist()},
                    customdata=g["n"], hovertemplate="%{x}: %{y:.3f} (n = %{customdata})<extra></extra>",
                    showlegend=False, row=i // 3 + 1, col=i % 3 + 1)
    fig.update_layout(title=f"By {attribute.replace('_', ' ')} (grey: fewer employees than the minimum, not "
                            "compared; bars: bootstrap intervals)", height=900 if many else 560)
    return fig


def _fairness_section(audit: FairnessAudit, first: list[bool]) -> list[str]:

    metrics = audit.metrics()
    s = audit.settings
    rows = []
    for check in fairness_checks(min_rate_ratio=s["min_rate_ratio"], max_bias_gap=s["max_bias_gap"]):
        name = check.requires[0]
        value = metrics.get(name, float("nan"))
        reason = run_checks([check], metrics, None)
        verdict = "pass" if not reason else "<b>FAIL</b>"
        rows.append(f"<tr><td>{html.escape(check.name)}</td><td>{_fmt(value)}</td><td>{_fmt(metrics.get(name + '_lo', float('nan')))}"
                    f" – {_fmt(metrics.get(name + '_hi', float('nan')))}</td><td>{verdict}</td></tr>")
    parts = [
        "<h2>Merit-system fairness audit</h2>",
        f"<p>Groups of sex, age band (as of {html.escape(', '.join(sorted(set(audit.as_of.values()))))}), "
        "employment and position type; "
        "protected attributes are read only for this audit and only group aggregates are shown. Gate: "
        f"recommendation and plan allocation rate ratios ≥ {s['min_rate_ratio']} (four-fifths rule) and the "
        f"between-group spread of the gap model's mean signed error ≤ {s['max_bias_gap']} levels, for sex and age "
        f"band, comparing groups of at least {s['min_group_size']} employees; "
        f"{int(s['confidence'] * 100)}% bootstrap intervals over employees ({s['n_boot']} replicates).</p>",
        "<table><tr><th>check</th><th>value</th><th>interval</th><th>result</th></tr>" + "".join(rows) + "</table>",
    ]
    parts += [f"<p>{html.escape(n)}</p>" for n in audit.notes]
    for attribute in ATTRIBUTES:
        parts.append(_figure_html(_fairness_figure(audit, attribute), first))
    table = audit.table()
    body = "".join(
        f"<tr><td>{html.escape(r.outcome)}</td><td>{html.escape(r.attribute)}</td><td>{html.escape(str(r.group))}</td>"
        f"<td>{int(r.n)}</td><td>{_fmt(float(r.value))}</td><td>{_fmt(float(r.lo))} – {_fmt(float(r.hi))}</td>"
        f"<td>{'yes' if r.compared else 'no'}</td></tr>" for r in table.itertuples())
    parts.append("<details><summary>All groups</summary><table><tr><th>outcome</th><th>attribute</th>"
                 "<th>group</th><th>employees</th><th>value</th><th>interval</th><th>compared</th></tr>"
                 f"{body}</table></details>")
    return parts


def _drift_section(drift: DriftReport, first: list[bool]) -> list[str]:


    t = drift.features.iloc[::-1]
    names = [PREDICTION, *t["feature"]]
    values = [drift.prediction_psi, *t["psi"]]
    order = list(zip(names, values, strict=True))
    order = order[1:] + order[:1]  # the prediction on top of the horizontal bar chart
    colors = ["#cf222e" if v >= PSI_ALERT else "#d29922" if v >= PSI_WARNING else COLORS["model"] for _, v in order]
    fig = go.Figure(go.Bar(x=[v for _, v in order], y=[n for n, _ in order], orientation="h", marker_color=colors))
    fig.add_vline(x=PSI_WARNING, line_dash="dash", annotation_text="warning 0.1")
    fig.add_vline(x=PSI_ALERT, line_dash="dash", line_color="#cf222e", annotation_text="alert 0.25")
    fig.update_layout(title="Population stability index: training population vs this snapshot",
                      height=max(380, 20 * len(order) + 120), margin={"l": 220}, xaxis_title="PSI")
    ref, cur = drift.reference, drift.current
    return [
        "<h2>Data drift</h2>",
        f"<p>Status <b>{html.escape(drift.status)}</b> (max PSI {drift.psi_max:.3f}; predictions "
        f"{drift.prediction_psi:.3f}). Reference: the scoring population of snapshot "
        f"{html.escape(str(ref.get('snapshot_id') or '-')[:12])} as of {html.escape(str(ref.get('as_of')))} "
        f"({ref.get('rows')} rows); current: snapshot {html.escape(str(cur.get('snapshot_id') or '-')[:12])} as of "
        f"{html.escape(str(cur.get('as_of')))} ({cur.get('rows')} rows). PSI &lt; {PSI_WARNING} ok, "
        f"{PSI_WARNING}–{PSI_ALERT} warning, ≥ {PSI_ALERT} alert.</p>",
        _figure_html(fig, first),
    ]


def _completion_section(bt: CompletionBacktest, first: list[bool]) -> list[str]:
    """Who finishes a course: the completion model's temporal back-test against the per-format rate."""
    m = {k: finite(v) for k, v in bt.metrics.items()}

    def num(key: str, fmt: str = "{:.3f}") -> str:
        value = m.get(key)
        return "—" if value is None else fmt.format(value)

    fig = go.Figure()
    colors = {"completion model": COLORS["model"], "per-format rate": COLORS["baseline_carry_forward"]}
    for name, g in bt.curve.groupby("model", sort=False):
        fig.add_scatter(x=g["predicted"], y=g["observed"], mode="markers+lines", name=str(name),
                        customdata=g["n"], hovertemplate="%{x:.2f} → %{y:.2f} (n = %{customdata})<extra></extra>",
                        marker_color=colors.get(str(name)))
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line_dash="dash", line_color="#888")
    fig.update_layout(title="Calibration of P(finish): observed completion rate per bin of predicted probability",
                      xaxis_title="mean predicted probability", yaxis_title="observed share finished",
                      xaxis_range=[0, 1], yaxis_range=[0, 1], height=420)
    rows = [("completion model", ""), ("per-format rate", "_baseline_format"), ("base rate", "_baseline_rate")]
    cells = "".join(f"<tr><td>{name}</td><td>{num('completion_auc' + suffix)}</td>"
                    f"<td>{num('completion_brier' + suffix, '{:.4f}')}</td><td>{num('completion_ece' + suffix)}</td></tr>"
                    for name, suffix in rows)
    return [
        "<h2>Completion: who finishes a course if enrolled</h2>",
        f"<p>Fitted on enrolments started at least three months before the cutoff {bt.cutoff} (their outcome "
        f"was known then), scored on the {num('completion_n', '{:,.0f}')} enrolments started after it "
        f"({num('completion_rate', '{:.1%}')} finished), each with its features as of its start date. AUC: "
        "how well finishers are ranked above those who abandon (0.5 = chance); Brier score: mean squared "
        "error of the probability; calibration error: mean gap between predicted and observed rates over ten "
        "bins. The base rate ranks nobody (AUC 0.5 by definition).</p>",
        f"<table><tr><th>predictor</th><th>AUC</th><th>Brier</th><th>calibration error</th></tr>{cells}</table>",
        _figure_html(fig, first),
    ]


def write_sections(out_dir: Path, *, fairness: FairnessAudit | None = None, drift: DriftReport | None = None
                   ) -> list[Path]:
    """fairness.json and drift.json (what was given) next to the report; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, section in (("fairness", fairness), ("drift", drift)):
        if section is None:
            continue
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(section.to_dict(), indent=2, default=_json_default), encoding="utf-8")
        written.append(path)
    return written


def _json_default(value: object) -> object:
    if isinstance(value, np.floating):
        return finite(value)
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def write_report(inputs: ReportInputs, out_dir: Path) -> tuple[Path, Path]:
    """Write `report.html` and `metrics.json` into `out_dir` (created); returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    first = [True]
    parts: list[str] = []
    bt = inputs.backtest
    if bt is not None:
        m = bt.metrics
        parts.append(f"<h2>Gap model: temporal back-test</h2><p>Fitted on assessment pairs up to the cutoff "
                     f"{bt.cutoff}; predicts, as of the cutoff, {int(m.get('backtest_n', 0)):,} later "
                     f"assessments. MAE: gap model {m.get('backtest_mae', float('nan')):.3f}, carry-forward "
                     f"{m.get('baseline_carry_forward_mae', float('nan')):.3f}, linear "
                     f"{m.get('baseline_linear_mae', float('nan')):.3f}; 80% interval coverage "
                     f"{m.get('backtest_coverage', float('nan')):.1%} (mean width "
                     f"{m.get('backtest_width', float('nan')):.2f} levels).</p>")
        parts.append("<h3>Interval calibration</h3>")
        parts += [_figure_html(f, first) for f in _calibration_figures(bt)]
        parts.append("<h3>Error by competency and position type</h3>")
        parts += [_figure_html(f, first) for f in _error_figures(bt)]
        parts.append("<h3>Residuals</h3>")
        parts += [_figure_html(f, first) for f in _residual_figures(bt)]
        parts.append("<h3>Global feature importance</h3>")
        parts.append(_figure_html(_importance_figure(bt), first))
    if inputs.completion is not None:
        parts += _completion_section(inputs.completion, first)
    if inputs.budget_curve:
        parts.append("<h2>Budget curve</h2><p>Total expected gain of the optimal annual plan (MILP, every "
                     "unit) at each budget; where the curve flattens, more money buys little.</p>")
        parts.append(_figure_html(_budget_curve_figure(inputs.budget_curve), first))
    truth = {k: v for k, v in inputs.metrics.items() if k.startswith("truth_")}
    if truth:
        parts.append("<h2>Against the generator's ground truth</h2>" + _table(truth))
    if inputs.recommendation_metrics:
        parts.append("<h2>Recommendations against the true gains</h2>")
        parts.append(_figure_html(_policy_figure(inputs.recommendation_metrics), first))
        parts.append(_table(inputs.recommendation_metrics))
    parts += _policy_dr_section(inputs.metrics)
    if inputs.fairness is not None:
        parts += _fairness_section(inputs.fairness, first)
    if inputs.drift is not None:
        parts += _drift_section(inputs.drift, first)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in inputs.notes)
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    doc = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(inputs.title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1f2328}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #d0d7de;padding:4px 10px;text-align:left}}
h2{{border-bottom:1px solid #d0d7de;padding-bottom:.3em;margin-top:2em}}</style></head><body>
<h1>{html.escape(inputs.title)}</h1>
<p>Model version <b>{html.escape(inputs.model_version)}</b> · generated {created}</p>
<ul>{notes}</ul>
{''.join(parts)}
<h2>All metrics</h2>{_table(inputs.metrics)}
</body></html>"""
    report = out_dir / "report.html"
    report.write_text(doc, encoding="utf-8")
    metrics_path = out_dir / "metrics.json"
    metrics_path.write_text(json.dumps({k: finite(v) if isinstance(v, float) else v
                                        for k, v in sorted(inputs.metrics.items())}, indent=2), encoding="utf-8")
    return report, metrics_path
