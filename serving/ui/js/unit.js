// Unit page: heat-map of gaps by competency × position type, JPM bands, 20 JP compliance, the
// trainings most often recommended in the unit and its learning culture beside the city's units
// (GET /v1/units/{unit_id}/summary).
import { api, ApiError, errorMessage, getKey } from "./api.js";
import { chartBox, heatmap, jpmChart } from "./charts.js";
import { fill, h, notice, table } from "./dom.js";
import { day, int, lang, num, pct, t } from "./i18n.js";
import { rememberUnit, unitDatalist } from "./seen.js";

const state = { unitId: "", lang: null, summary: null, error: null };
let root = null;
let nav = null;
let loadToken = 0;

export function mount(container, context) {
  root = container;
  nav = context.navigate;
  const input = h("input", { id: "unit-input", name: "unit_id", type: "text", autocomplete: "off", maxlength: 64,
    required: true, value: state.unitId, "aria-describedby": "unit-help", list: "unit-options" });
  fill(root, h("section", { class: "page", "aria-labelledby": "unit-title" },
    h("h1", { id: "unit-title" }, t("unit_title")),
    h("form", {
      class: "search", role: "search", novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        const unitId = input.value.trim();
        if (unitId) nav(`#/unit/${encodeURIComponent(unitId)}`);
      },
    },
    h("label", { for: "unit-input" }, t("unit_search_label")),
    h("div", { class: "search-row" }, input, h("button", { type: "submit", class: "primary" }, t("unit_search_button"))),
    unitDatalist("unit-options"),
    h("p", { id: "unit-help", class: "help" }, t("unit_search_help"))),
    h("div", { id: "unit-status", "aria-live": "polite" }),
    h("div", { id: "unit-content" })));
}

export function show(unitId) {
  const wanted = unitId || state.unitId;
  const input = root.querySelector("#unit-input");
  if (input && wanted) input.value = wanted;
  const unauthorized = state.error instanceof ApiError && state.error.status === 401;
  if (wanted && getKey() && (wanted !== state.unitId || state.lang !== lang() || unauthorized
      || (!state.summary && !state.error))) {
    load(wanted);
    return;
  }
  renderContent();
}

async function load(unitId) {
  const token = ++loadToken;
  Object.assign(state, { unitId, summary: null, error: null });
  fill(root.querySelector("#unit-status"), notice("busy", t("loading")));
  root.querySelector("#unit-content").replaceChildren();
  try {
    const summary = await api(`/v1/units/${encodeURIComponent(unitId)}/summary`);
    if (token !== loadToken) return;
    state.summary = summary;
    rememberUnit(summary.unit_id, summary.name);
  } catch (error) {
    if (token !== loadToken) return;
    state.error = error;
  }
  state.lang = lang();
  renderContent();
}

function renderContent() {
  const status = root.querySelector("#unit-status");
  const content = root.querySelector("#unit-content");
  status.replaceChildren();
  if (state.error) {
    const unauthorized = state.error instanceof ApiError && state.error.status === 401;
    fill(content, unauthorized ? null : notice("error", errorMessage(state.error)));
    return;
  }
  const s = state.summary;
  if (!s) {
    fill(content, h("p", { class: "empty" }, t("unit_empty")));
    return;
  }
  const jp = s.jp_compliance || {};
  const heat = s.gap_by_position_type.length ? chartBox(t("unit_heatmap_label"), "chart heatmap") : null;
  const jpm = chartBox(t("unit_jpm"), "chart jpm-chart");
  const meeting = jp.employees_meeting_20_jp ?? 0;
  fill(content,
    h("section", { class: "card", "aria-labelledby": "unit-name" },
      h("h2", { id: "unit-name" }, s.name),
      h("p", { class: "meta" }, `${s.unit_id} · ${t("unit_employees", { n: int(s.employees) })} · ${day(s.as_of)}`),
      h("button", { type: "button", class: "secondary", id: "unit-plan",
        onclick: () => nav(`#/rencana/${encodeURIComponent(s.unit_id)}`) }, t("unit_plan"))),
    h("section", { class: "card", "aria-labelledby": "heat-title" },
      h("h2", { id: "heat-title" }, t("unit_heatmap")),
      heat || h("p", { class: "empty" }, t("unit_heatmap_empty"))),
    h("div", { class: "columns" },
      h("section", { class: "card", "aria-labelledby": "jpm-title" },
        h("h2", { id: "jpm-title" }, t("unit_jpm")),
        jpm,
        table(null, [
          { label: t("col_jpm"), rowHeader: true, cell: (b) => t(`band_${b}`) },
          { label: t("col_employees"), numeric: true, cell: (b) => int(s.jpm_bands[b] ?? 0) },
        ], ["memenuhi_syarat", "masih_memenuhi_syarat", "kurang_memenuhi_syarat"], { id: "jpm-table" })),
      h("section", { class: "card", "aria-labelledby": "jp-title" },
        h("h2", { id: "jp-title" }, t("unit_jp", { year: jp.year ?? "" })),
        h("p", { id: "jp-compliance", class: "total" },
          t("unit_jp_value", { n: int(meeting), total: int(s.employees), share: pct(jp.share ?? 0) })),
        h("div", { class: "meter", role: "meter", "aria-valuemin": 0, "aria-valuemax": 100,
          "aria-valuenow": Math.round((jp.share ?? 0) * 100), "aria-label": t("unit_jp", { year: jp.year ?? "" }) },
        h("div", { class: "meter-fill", style: `width: ${Math.max(0, Math.min(100, (jp.share ?? 0) * 100))}%` })))),
    s.learning_culture ? culturePanel(s.learning_culture) : null,
    h("section", { class: "card", "aria-labelledby": "comp-title" },
      h("h2", { id: "comp-title" }, t("unit_competencies")),
      table(null, [
        { label: t("col_competency"), rowHeader: true, cell: (c) => c.name },
        { label: t("col_employees"), numeric: true, cell: (c) => int(c.employees) },
        { label: t("col_mean_gap"), numeric: true, cell: (c) => num(c.mean_gap) },
        { label: t("col_below"), numeric: true, cell: (c) => pct(c.share_below_standard) },
      ], s.competencies, { id: "unit-competencies" })),
    h("section", { class: "card", "aria-labelledby": "top-title" },
      h("h2", { id: "top-title" }, t("unit_top")),
      s.top_trainings.length ? table(null, [
        { label: t("col_training"), rowHeader: true, cell: (r) => [r.title, h("span", { class: "meta" }, ` ${r.training_id}`)] },
        { label: t("col_recommended_to"), numeric: true, cell: (r) => int(r.employees_recommended) },
        { label: t("col_total_gain"), numeric: true, cell: (r) => num(r.total_expected_gain) },
      ], s.top_trainings, { id: "unit-top" }) : h("p", { class: "empty" }, t("unit_top_empty"))));
  if (heat) heatmap(heat, s);
  jpmChart(jpm, s.jpm_bands);
}

// -- learning culture ------------------------------------------------------------------------------
// Aggregates only (the API never sends a value per person). The table carries every number; the bar
// beside each row repeats them as a picture (the city's 25th–75th percentile band, its median and this
// unit), so it is hidden from screen readers.

function cultureRows(c) {
  const rows = [
    { key: "completion", label: t("culture_completion", { months: c.completion_months }), figure: c.completion_rate },
    { key: "no_training", label: t("culture_no_training", { months: c.no_training_months }),
      figure: c.no_training_share, lowerIsBetter: true },
  ];
  for (const y of c.jp_compliance) {
    rows.push({ key: `jp-${y.year}`, figure: y.figure,
      label: t(y.complete ? "culture_jp_year" : "culture_jp_year_so_far", { jp: c.jp_right, year: y.year }) });
  }
  return rows;
}

function cultureBar(f) {
  const city = f.city;
  if (city.median === null && f.value === null) return null;
  const at = (share) => `${Math.max(0, Math.min(100, share * 100))}%`;
  return h("div", { class: "range-bar", "aria-hidden": "true" },
    city.p25 !== null ? h("div", { class: "range-band", style: `left: ${at(city.p25)}; width: calc(${at(city.p75)} - ${at(city.p25)})` }) : null,
    city.median !== null ? h("div", { class: "range-median", style: `left: ${at(city.median)}` }) : null,
    f.value !== null ? h("div", { class: "range-unit", style: `left: ${at(f.value)}` }) : null);
}

function culturePanel(c) {
  const value = (r) => (r.figure.value === null
    ? [h("span", { class: "meta" }, t("culture_hidden")), h("span", { class: "visually-hidden" }, ` ${r.figure.suppressed_reason ?? ""}`)]
    : pct(r.figure.value));
  const range = (r) => (r.figure.city.median === null ? "–"
    : `${pct(r.figure.city.p25, 0)} · ${pct(r.figure.city.median, 0)} · ${pct(r.figure.city.p75, 0)}`);
  const standing = (r) => (r.figure.city.unit_percentile === null ? "–"
    : t("culture_percentile_value", { p: int(r.figure.city.unit_percentile), n: int(r.figure.city.units) }));
  const hidden = cultureRows(c).some((r) => r.figure.value === null);
  return h("section", { class: "card", id: "learning-culture", "aria-labelledby": "culture-title" },
    h("h2", { id: "culture-title" }, t("culture_title")),
    h("p", { class: "meta", id: "culture-note" }, c.note),
    table(t("culture_caption"), [
      { label: t("col_indicator"), rowHeader: true,
        cell: (r) => [r.label, r.lowerIsBetter ? h("span", { class: "meta" }, ` (${t("culture_lower_better")})`) : null] },
      { label: t("col_this_unit"), numeric: true, cell: value },
      { label: t("col_city_range"), numeric: true, cell: range },
      { label: t("col_city_position"), numeric: true, cell: standing },
      { label: t("col_city_bar"), cell: (r) => cultureBar(r.figure) },
    ], cultureRows(c), { id: "culture-table" }),
    h("p", { class: "help" }, t("culture_legend")),
    hidden ? h("p", { class: "help", id: "culture-hidden-note" }, t("culture_hidden_note", { n: c.min_cell })) : null);
}
