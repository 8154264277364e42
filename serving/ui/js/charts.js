// Charts with plotly.js (the global `Plotly`, served from the installed Python package). Every chart
// has a table with the same numbers next to it, so nothing depends on seeing the chart.
import { h } from "./dom.js";
import { humanize, idr, num, plotSeparators, t } from "./i18n.js";

const CONFIG = {
  displaylogo: false,
  responsive: true,
  modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
};
const COLORS = { gap: "#c2410c", ok: "#15803d", required: "#1e3a8a", current: "#6b7280", after: "#0f766e" };

function baseLayout(extra) {
  return {
    separators: plotSeparators(),
    font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 13, color: "#1f2937" },
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
    margin: { l: 10, r: 20, t: 30, b: 40 },
    legend: { orientation: "h", x: 0, y: 1.02, xanchor: "left", yanchor: "bottom" },
    hoverlabel: { align: "left" },
    ...extra,
  };
}

/** A chart container: an ARIA image with a label (the table beside it carries the numbers). */
export function chartBox(label, className = "chart") {
  return h("div", { class: className, role: "img", "aria-label": label });
}

function draw(el, traces, layout) {
  if (!window.Plotly) {
    el.replaceChildren(h("p", { class: "notice info" }, "plotly.js …"));
    return;
  }
  window.Plotly.react(el, traces, layout, CONFIG);
}

/** Predicted level with its 80% interval, the required level and the current level, per competency. */
export function gapChart(el, competencies) {
  const names = competencies.map((c) => c.name);
  const hover = competencies.map((c) => [
    `<b>${escapeText(c.name)}</b>`,
    `${t("col_predicted")}: ${num(c.predicted_level)} (${num(c.lower)}–${num(c.upper)})`,
    `${t("col_required")}: ${c.required_level}`,
    `${t("col_current")}: ${c.current_level === null ? t("never_assessed") : num(c.current_level)}`,
    `${t("col_gap")}: ${num(c.gap)}`,
  ].join("<br>"));
  const withCurrent = competencies.filter((c) => c.current_level !== null);
  const traces = [
    {
      type: "scatter", mode: "markers", name: t("trace_predicted"), y: names,
      x: competencies.map((c) => c.predicted_level),
      error_x: {
        type: "data", symmetric: false, thickness: 2, width: 6, color: "#64748b",
        array: competencies.map((c) => Math.max(0, c.upper - c.predicted_level)),
        arrayminus: competencies.map((c) => Math.max(0, c.predicted_level - c.lower)),
      },
      marker: { size: 11, color: competencies.map((c) => (c.gap > 0.005 ? COLORS.gap : COLORS.ok)) },
      hovertext: hover, hoverinfo: "text",
    },
    {
      type: "scatter", mode: "markers", name: t("trace_required"), y: names,
      x: competencies.map((c) => c.required_level),
      marker: { symbol: "line-ns-open", size: 22, color: COLORS.required, line: { width: 3, color: COLORS.required } },
      hoverinfo: "skip",
    },
    {
      type: "scatter", mode: "markers", name: t("trace_current"), y: withCurrent.map((c) => c.name),
      x: withCurrent.map((c) => c.current_level),
      marker: { symbol: "circle-open", size: 9, color: COLORS.current, line: { width: 2, color: COLORS.current } },
      hoverinfo: "skip",
    },
  ];
  const height = Math.max(260, 34 * competencies.length + 110);
  draw(el, traces, baseLayout({
    height,
    xaxis: { range: [0.9, 5.1], dtick: 1, title: { text: t("axis_level") }, zeroline: false, gridcolor: "#e5e7eb" },
    yaxis: { autorange: "reversed", automargin: true, type: "category" },
  }));
}

/** The gap per competency before and after a what-if scenario (only competencies that changed). */
export function whatifChart(el, rows) {
  const names = rows.map((r) => r.name);
  const traces = [
    { type: "bar", orientation: "h", name: t("whatif_before"), y: names, x: rows.map((r) => r.before),
      marker: { color: COLORS.gap }, hovertext: rows.map((r) => `${t("whatif_before")}: ${num(r.before)}`),
      hoverinfo: "text" },
    { type: "bar", orientation: "h", name: t("whatif_after"), y: names, x: rows.map((r) => r.after),
      marker: { color: COLORS.after }, hovertext: rows.map((r) => `${t("whatif_after")}: ${num(r.after)}`),
      hoverinfo: "text" },
  ];
  draw(el, traces, baseLayout({
    height: Math.max(200, 48 * rows.length + 110), barmode: "group",
    xaxis: { title: { text: t("axis_gap") }, rangemode: "tozero", gridcolor: "#e5e7eb" },
    yaxis: { autorange: "reversed", automargin: true, type: "category" },
  }));
}

/** Mean gap by competency (columns) × position type (rows). */
export function heatmap(el, summary) {
  const names = new Map(summary.competencies.map((c) => [c.competency_id, c.name]));
  const competencyIds = summary.competencies.map((c) => c.competency_id);
  const types = [...new Set(summary.gap_by_position_type.map((r) => r.position_type))];
  const cell = new Map(summary.gap_by_position_type.map((r) => [`${r.position_type}|${r.competency_id}`, r.mean_gap]));
  const z = types.map((type) => competencyIds.map((id) => cell.get(`${type}|${id}`) ?? null));
  const text = z.map((row) => row.map((v) => (v === null ? "" : num(v))));
  const xLabels = competencyIds.map((id) => names.get(id) || id);
  const yLabels = types.map(humanize);
  const hover = types.map((type, i) => competencyIds.map((id, j) => (z[i][j] === null ? ""
    : `${escapeText(humanize(type))}<br>${escapeText(names.get(id) || id)}<br>${t("col_mean_gap")}: ${num(z[i][j])}`)));
  draw(el, [{
    type: "heatmap", x: xLabels, y: yLabels, z, text, texttemplate: "%{text}", hovertext: hover, hoverinfo: "text",
    colorscale: [[0, "#f7fcf5"], [0.25, "#fde68a"], [0.6, "#f97316"], [1, "#9a3412"]], zmin: 0,
    colorbar: { title: { text: t("axis_gap"), side: "right" }, thickness: 14 }, xgap: 2, ygap: 2,
  }], baseLayout({
    height: Math.max(240, 44 * types.length + 190),
    margin: { l: 10, r: 10, t: 10, b: 10 },
    xaxis: { automargin: true, tickangle: -35, type: "category" },
    yaxis: { automargin: true, autorange: "reversed", type: "category" },
  }));
}

/** Number of employees per JPM band. */
export function jpmChart(el, bands) {
  const order = ["memenuhi_syarat", "masih_memenuhi_syarat", "kurang_memenuhi_syarat"];
  const colors = [COLORS.ok, "#ca8a04", COLORS.gap];
  draw(el, [{
    type: "bar", x: order.map((b) => t(`band_${b}`)), y: order.map((b) => bands[b] ?? 0), marker: { color: colors },
    text: order.map((b) => String(bands[b] ?? 0)), textposition: "auto",
    hovertext: order.map((b) => `${t(`band_${b}`)}: ${bands[b] ?? 0}`), hoverinfo: "text",
  }], baseLayout({
    height: 260, showlegend: false, margin: { l: 10, r: 10, t: 10, b: 10 },
    xaxis: { automargin: true, type: "category" },
    yaxis: { title: { text: t("axis_employees") }, rangemode: "tozero", automargin: true, gridcolor: "#e5e7eb" },
  }));
}

/** Total expected gain against budget, with the chosen budget marked. */
export function curveChart(el, curve, budget, chosen) {
  const points = [...curve].sort((a, b) => a.budget_idr - b.budget_idr);
  const traces = [{
    type: "scatter", mode: "lines+markers", name: t("axis_total_gain"),
    x: points.map((p) => p.budget_idr), y: points.map((p) => p.expected_gain),
    line: { color: COLORS.required, width: 3, shape: "linear" }, marker: { size: 8 },
    hovertext: points.map((p) => `${t("axis_budget")}: ${idr(p.budget_idr)}<br>${t("axis_total_gain")}: ${num(p.expected_gain)}`
      + `<br>${t("plan_total_cost")}: ${idr(p.cost_idr)}`),
    hoverinfo: "text",
  }];
  if (chosen) {
    traces.push({
      type: "scatter", mode: "markers", name: t("plan_curve_point"), x: [budget], y: [chosen.expected_gain],
      marker: { size: 15, symbol: "diamond", color: COLORS.gap },
      hovertext: [`${t("plan_curve_point")}: ${idr(budget)}<br>${t("axis_total_gain")}: ${num(chosen.expected_gain)}`],
      hoverinfo: "text",
    });
  }
  draw(el, traces, baseLayout({
    height: 360, margin: { l: 10, r: 20, t: 30, b: 50 },
    xaxis: { title: { text: t("axis_budget") }, tickformat: ",.0f", rangemode: "tozero", automargin: true,
      gridcolor: "#e5e7eb" },
    yaxis: { title: { text: t("axis_total_gain") }, rangemode: "tozero", automargin: true, gridcolor: "#e5e7eb" },
  }));
}

/** Hover labels are HTML to plotly: escape names that come from data. */
function escapeText(value) {
  return String(value).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
