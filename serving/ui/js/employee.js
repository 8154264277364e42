// Employee page: search by NIP → profile (no name, no protected attribute), gaps with intervals and the
// required level, explanations in sentences, recommendations with reasons, and the what-if panel.
import { api, ApiError, errorMessage, getKey } from "./api.js";
import { chartBox, gapChart, whatifChart } from "./charts.js";
import { debounce, fill, h, notice, table } from "./dom.js";
import { day, humanize, idr, int, lang, num, t, upper } from "./i18n.js";
import { rememberUnit } from "./seen.js";

const NIP_RE = /^[0-9]{18}$/;
const MAX_PLAN = 20;
const SHOWN_RECOMMENDATIONS = 5;
const CHANGE_EPS = 1e-6;

// What the page shows; kept across page switches (not across reloads: nothing is stored).
const state = {
  nip: "",
  lang: null, // language the loaded data is in
  profile: null,
  gaps: null,
  recs: null,
  error: null,
  plan: [], // [{training_id, title}]
  position: "",
  whatif: null,
  whatifError: null,
  whatifBusy: false,
};
let root = null;
let loadToken = 0;
let whatifController = null;

export function mount(container) {
  root = container;
  fill(root, h("section", { class: "page", "aria-labelledby": "emp-title" },
    h("h1", { id: "emp-title" }, t("emp_title")),
    searchForm(),
    h("div", { id: "emp-status", "aria-live": "polite" }),
    h("div", { id: "emp-content" })));
}

export function show() {
  // Fetch again when the data is in the other language (the API's sentences) or the key had expired.
  const unauthorized = state.error instanceof ApiError && state.error.status === 401;
  if (state.nip && getKey() && (state.lang !== lang() || unauthorized)) {
    load(state.nip);
    return;
  }
  renderContent();
}

function searchForm() {
  const input = h("input", {
    id: "nip-input", name: "nip", type: "text", inputmode: "numeric", autocomplete: "off", maxlength: 18,
    pattern: "[0-9]{18}", required: true, "aria-describedby": "nip-help nip-error", value: state.nip,
    placeholder: "19XXXXXXXXXXXXXXXX",
  });
  const error = h("p", { id: "nip-error", class: "error", role: "alert", hidden: true });
  return h("form", {
    class: "search", role: "search", novalidate: true,
    onsubmit: (event) => {
      event.preventDefault();
      const nip = input.value.replace(/\s/g, "");
      if (!NIP_RE.test(nip)) {
        error.textContent = t("emp_nip_invalid");
        error.hidden = false;
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      error.hidden = true;
      input.removeAttribute("aria-invalid");
      if (nip !== state.nip) resetWhatif();
      load(nip);
    },
  },
  h("label", { for: "nip-input" }, t("emp_search_label")),
  h("div", { class: "search-row" }, input, h("button", { type: "submit", class: "primary" }, t("emp_search_button"))),
  h("p", { id: "nip-help", class: "help" }, t("emp_search_help")),
  error);
}

function resetWhatif() {
  whatifController?.abort();
  whatifController = null;
  Object.assign(state, { plan: [], position: "", whatif: null, whatifError: null, whatifBusy: false });
}

async function load(nip) {
  const token = ++loadToken;
  Object.assign(state, { nip, error: null, profile: null, gaps: null, recs: null, whatif: null, whatifError: null });
  const status = root.querySelector("#emp-status");
  if (status) fill(status, notice("busy", t("loading")));
  root.querySelector("#emp-content")?.replaceChildren();
  try {
    const path = `/v1/employees/${encodeURIComponent(nip)}`;
    const [profile, gaps, recs] = await Promise.all([
      api(path, { withLang: false }),
      api(`${path}/gaps`),
      api(`${path}/recommendations`, { query: { limit: MAX_PLAN } }),
    ]);
    if (token !== loadToken) return;
    Object.assign(state, { profile, gaps, recs, lang: lang() });
    rememberUnit(profile.unit.unit_id, profile.unit.name);
  } catch (error) {
    if (token !== loadToken) return;
    state.error = error;
    state.lang = lang();
  }
  renderContent();
  if (!state.error && (state.plan.length || state.position)) runWhatif();
}

function renderContent() {
  const status = root.querySelector("#emp-status");
  const content = root.querySelector("#emp-content");
  if (!status || !content) return;
  status.replaceChildren();
  if (state.error) {
    const unauthorized = state.error instanceof ApiError && state.error.status === 401;
    fill(content, unauthorized ? null : notice("error", errorMessage(state.error)));
    return;
  }
  if (!state.profile) {
    fill(content, h("p", { class: "empty" }, t("emp_empty")));
    return;
  }
  fill(content,
    profileCard(state.profile),
    gapsSection(state.gaps),
    h("div", { class: "columns" }, recommendationsSection(state.recs), whatifSection()));
  const chart = content.querySelector("#gap-chart");
  if (chart && state.gaps.competencies.length) gapChart(chart, state.gaps.competencies);
  renderWhatifResult();
}

// -------------------------------------------------------------------------------------------------
// Profile
// -------------------------------------------------------------------------------------------------
function profileCard(p) {
  const jp = p.jp;
  const jpText = `${t("emp_jp_value", { done: int(jp.completed_jp), right: int(jp.right_jp) })} · ${
    jp.meets_right ? t("emp_jp_met") : t("emp_jp_not_met", { n: int(jp.remaining_jp) })}`;
  const fact = (label, value) => h("div", { class: "fact" }, h("dt", {}, label), h("dd", {}, value));
  return h("section", { class: "card profile", "aria-labelledby": "profile-title" },
    h("h2", { id: "profile-title" }, `${t("emp_profile")} · NIP ${p.nip}`),
    h("dl", { class: "facts" },
      fact(t("emp_unit"), [p.unit.name || p.unit.unit_id, " ",
        h("a", { href: `#/unit/${encodeURIComponent(p.unit.unit_id)}`, class: "small-link" }, t("emp_open_unit"))]),
      fact(t("emp_position"), p.position.title || p.position.position_id),
      fact(t("emp_position_type"), humanize(p.position.position_type)),
      fact(t("emp_grade"), p.grade),
      fact(t("emp_employment"), upper(p.employment)),
      fact(t("emp_education"), upper(p.education)),
      fact(t("emp_years"), p.years_of_service === null ? "–" : t("emp_years_value", { n: p.years_of_service })),
      fact(t("emp_jp", { year: jp.year }), h("span", { class: jp.meets_right ? "ok" : "warn" }, jpText))));
}

// -------------------------------------------------------------------------------------------------
// Gaps and explanations
// -------------------------------------------------------------------------------------------------
function gapsSection(gaps) {
  const comps = gaps.competencies;
  const section = h("section", { class: "card", "aria-labelledby": "gaps-title" },
    h("h2", { id: "gaps-title" }, t("gaps_title")),
    h("p", { class: "help" }, `${t("gaps_intro", { months: gaps.horizon_months })} (${day(gaps.as_of)})`),
    h("p", { class: "total", id: "gaps-total" }, t("gaps_total", { value: num(gaps.total_gap) })));
  if (!comps.length) {
    section.append(h("p", { class: "empty" }, t("gaps_none")));
    return section;
  }
  section.append(
    chartBox(t("gaps_chart_label"), "chart gap-chart"),
    table(null, [
      { label: t("col_competency"), rowHeader: true, cell: (c) => [c.name,
        c.thin_evidence ? h("span", { class: "badge warn", title: t("thin_evidence_help") }, t("thin_evidence")) : null] },
      { label: t("col_current"), numeric: true, cell: (c) => (c.current_level === null ? t("never_assessed") : num(c.current_level)) },
      { label: t("col_predicted"), numeric: true, cell: (c) => num(c.predicted_level) },
      { label: t("col_interval"), numeric: true, cell: (c) => `${num(c.lower)}–${num(c.upper)}` },
      { label: t("col_required"), numeric: true, cell: (c) => String(c.required_level) },
      { label: t("col_gap"), numeric: true, cell: (c) => h("span", { class: c.gap > 0.005 ? "gap" : "ok" }, num(c.gap)) },
      { label: t("col_jpm"), cell: (c) => `${num(c.jpm, 1)}% · ${t(`band_${c.jpm_band}`)}` },
    ], comps, { id: "gaps-table" }),
    h("h3", {}, t("why")),
    h("div", { class: "explanations" }, explanationList(comps)));
  section.querySelector(".gap-chart").id = "gap-chart";
  return section;
}

function explanationList(comps) {
  // The largest gap is explained open; the others one click (or Enter) away.
  const largest = comps.reduce((best, c) => (c.gap > (best?.gap ?? -1) ? c : best), null);
  return comps.map((c) => {
    const explanation = c.explanation;
    const summary = h("summary", {}, t("why_title", { name: c.name, value: num(c.predicted_level) }),
      c.gap > 0.005 ? h("span", { class: "gap" }, ` · ${t("col_gap")} ${num(c.gap)}`) : null);
    const body = explanation ? [
      h("ul", { class: "contributions" }, explanation.contributions.map((item) => h("li", {
        class: item.contribution >= 0 ? "up" : "down",
      }, item.text))),
      h("p", { class: "help" }, t("base_value", { value: num(explanation.base_value) })),
      explanation.evidence.length ? [h("h4", {}, t("evidence")),
        h("ul", { class: "evidence" }, explanation.evidence.map((e) => h("li", {}, e.text)))] : null,
    ] : h("p", { class: "help" }, "–");
    return h("details", { class: "explanation", open: c === largest && c.gap > 0.005, "data-competency": c.competency_id },
      summary, body);
  });
}

// -------------------------------------------------------------------------------------------------
// Recommendations
// -------------------------------------------------------------------------------------------------
function recommendationsSection(recs) {
  const items = recs.items.slice(0, SHOWN_RECOMMENDATIONS);
  const section = h("section", { class: "card", "aria-labelledby": "recs-title" },
    h("h2", { id: "recs-title" }, t("recs_title")));
  if (!items.length) {
    section.append(h("p", { class: "empty" }, recs.message || t("recs_empty")));
    return section;
  }
  section.append(h("ol", { class: "recommendations" }, items.map((item) => {
    const inPlan = state.plan.some((p) => p.training_id === item.training_id);
    return h("li", { class: "rec", "data-training": item.training_id },
      h("h3", {}, item.title),
      h("p", { class: "meta" }, `${item.provider} · ${humanize(item.format)} · ${item.training_id}`),
      h("dl", { class: "rec-facts" },
        h("dt", {}, t("rec_gain")),
        h("dd", {}, `${num(item.expected_gain)} (${num(item.lower)}–${num(item.upper)})`),
        h("dt", {}, t("rec_cost")), h("dd", { class: "cost" }, idr(item.cost_idr)),
        h("dt", {}, t("rec_jp")), h("dd", {}, `${int(item.hours_jp)} JP`)),
      item.thin_evidence ? h("span", { class: "badge warn", title: t("thin_evidence_help") }, t("thin_evidence")) : null,
      h("ul", { class: "reasons" }, item.reasons.map((reason) => h("li", {}, reason))),
      h("button", {
        type: "button", class: "secondary add-to-whatif", disabled: inPlan,
        "aria-label": `${t("rec_add")}: ${item.title}`,
        onclick: () => addTraining(item.training_id, item.title),
      }, inPlan ? t("rec_added") : t("rec_add")));
  })));
  return section;
}

// -------------------------------------------------------------------------------------------------
// What-if
// -------------------------------------------------------------------------------------------------
function trainingTitle(trainingId) {
  return state.recs?.items.find((i) => i.training_id === trainingId)?.title || trainingId;
}

function whatifSection() {
  const options = (state.recs?.items || []).filter((i) => !state.plan.some((p) => p.training_id === i.training_id));
  const select = h("select", { id: "whatif-select", name: "training" },
    h("option", { value: "" }, t("whatif_pick_none")),
    options.map((i) => h("option", { value: i.training_id }, `${i.title} — ${idr(i.cost_idr)}, ${int(i.hours_jp)} JP`)));
  const code = h("input", { id: "whatif-code", name: "training_code", type: "text", autocomplete: "off",
    maxlength: 64, placeholder: "PLT-…" });
  const message = h("p", { id: "whatif-message", class: "error", role: "alert", hidden: true });
  const addForm = h("form", {
    class: "whatif-add", novalidate: true,
    onsubmit: (event) => {
      event.preventDefault();
      const id = (code.value.trim() || select.value).trim();
      if (!id) return;
      const problem = addTraining(id, trainingTitle(id));
      if (problem) {
        message.textContent = problem;
        message.hidden = false;
      }
    },
  },
  h("div", { class: "field" }, h("label", { for: "whatif-select" }, t("whatif_pick")), select),
  h("div", { class: "field" }, h("label", { for: "whatif-code" }, t("whatif_code")), code),
  h("button", { type: "submit", class: "secondary", id: "whatif-add" }, t("whatif_add")),
  message);

  const position = h("input", { id: "whatif-position", name: "position_id", type: "text", autocomplete: "off",
    maxlength: 64, value: state.position, placeholder: state.profile?.position.position_id || "" });
  const positionForm = h("form", {
    class: "whatif-position", novalidate: true,
    onsubmit: (event) => {
      event.preventDefault();
      const value = position.value.trim();
      state.position = value === state.profile?.position.position_id ? "" : value;
      markPending();
      renderWhatifResult();
      scheduleWhatif();
    },
  },
  h("label", { for: "whatif-position" }, t("whatif_position")),
  h("div", { class: "search-row" }, position,
    h("button", { type: "submit", class: "secondary" }, t("whatif_position_apply"))));

  return h("section", { class: "card whatif", "aria-labelledby": "whatif-title" },
    h("h2", { id: "whatif-title" }, t("whatif_title")),
    h("p", { class: "help" }, t("whatif_intro")),
    h("h3", {}, t("whatif_plan")),
    state.plan.length
      ? h("ul", { class: "plan-chips", id: "whatif-plan" }, state.plan.map((p) => h("li", { class: "chip" },
        h("span", {}, p.title),
        h("button", { type: "button", class: "chip-remove", "aria-label": t("whatif_remove", { title: p.title }),
          title: t("whatif_remove", { title: p.title }), onclick: () => removeTraining(p.training_id) }, "×"))))
      : h("p", { class: "empty", id: "whatif-plan" }, t("whatif_plan_empty")),
    addForm,
    positionForm,
    h("div", { id: "whatif-result", "aria-live": "polite" }));
}

/** Add a training to the scenario; returns a message when it cannot be added. */
function addTraining(trainingId, title) {
  if (state.plan.some((p) => p.training_id === trainingId)) return t("whatif_already");
  if (state.plan.length >= MAX_PLAN) return t("whatif_max");
  state.plan = [...state.plan, { training_id: trainingId, title }];
  markPending();
  rerenderPanels();
  document.getElementById("whatif-select")?.focus();
  scheduleWhatif();
  return null;
}

function removeTraining(trainingId) {
  state.plan = state.plan.filter((p) => p.training_id !== trainingId);
  markPending();
  rerenderPanels();
  document.getElementById("whatif-add")?.focus();
  scheduleWhatif();
}

/** Rebuild the recommendations and what-if panels (the chart and the gaps stay as they are). */
function rerenderPanels() {
  const columns = root.querySelector(".columns");
  if (!columns) return;
  fill(columns, recommendationsSection(state.recs), whatifSection());
  renderWhatifResult();
}

const scheduleWhatif = debounce(() => runWhatif(), 150);

/** The scenario changed: never show the previous result while the new one is being computed. */
function markPending() {
  whatifController?.abort();
  whatifController = null; // the aborted call must not touch the state any more
  Object.assign(state, { whatif: null, whatifError: null, whatifBusy: true });
}

async function runWhatif() {
  whatifController?.abort();
  if (!state.plan.length && !state.position) {
    Object.assign(state, { whatif: null, whatifError: null, whatifBusy: false });
    renderWhatifResult();
    return;
  }
  const controller = new AbortController();
  whatifController = controller;
  state.whatifBusy = true;
  renderWhatifResult();
  try {
    const body = { nip: state.nip, plan: state.plan.map((p) => p.training_id), horizon_months: state.gaps.horizon_months };
    if (state.position) body.position_id = state.position;
    const result = await api("/v1/whatif", { method: "POST", body, signal: controller.signal });
    if (whatifController !== controller) return; // the scenario changed meanwhile
    Object.assign(state, { whatif: result, whatifError: null });
  } catch (error) {
    if (error.name === "AbortError" || whatifController !== controller) return;
    Object.assign(state, { whatif: null, whatifError: error });
    // A training the server does not know is taken out again, so the next change still computes.
    if (error instanceof ApiError && error.slug === "unknown-training") {
      const code = /training (\S+)$/.exec(error.problem.detail || "");
      if (code) state.plan = state.plan.filter((p) => p.training_id !== code[1]);
      rerenderPanels();
    } else if (error instanceof ApiError && error.slug === "unknown-position") {
      state.position = ""; // the typed code stays in the field, to be corrected
    }
  } finally {
    if (whatifController === controller) {
      state.whatifBusy = false;
      renderWhatifResult();
    }
  }
}

function renderWhatifResult() {
  const box = root?.querySelector("#whatif-result");
  if (!box) return;
  if (state.whatifBusy) {
    fill(box, notice("busy", t("computing")));
    box.setAttribute("aria-busy", "true");
    return;
  }
  box.removeAttribute("aria-busy");
  if (state.whatifError) {
    fill(box, notice("error", errorMessage(state.whatifError)));
    return;
  }
  const result = state.whatif;
  if (!result) {
    fill(box, h("p", { class: "empty" }, t("whatif_empty")));
    return;
  }
  const names = new Map([...result.baseline.competencies, ...result.scenario.competencies]
    .map((c) => [c.competency_id, c.name]));
  const gapBefore = new Map(result.baseline.competencies.map((c) => [c.competency_id, c.gap]));
  const gapAfter = new Map(result.scenario.competencies.map((c) => [c.competency_id, c.gap]));
  const rows = result.delta
    .filter((d) => Math.abs(d.gap_change) > CHANGE_EPS || Math.abs(d.predicted_level_change) > CHANGE_EPS)
    .map((d) => ({
      id: d.competency_id, name: names.get(d.competency_id) || d.competency_id,
      level: d.predicted_level_change, before: gapBefore.get(d.competency_id) ?? 0,
      after: gapAfter.get(d.competency_id) ?? 0,
    }));
  const change = result.total_gap_after - result.total_gap_before;
  const chart = rows.length ? chartBox(t("whatif_chart_label"), "chart whatif-chart") : null;
  fill(box,
    h("dl", { class: "totals" },
      h("div", {}, h("dt", {}, `${t("whatif_total")} · ${t("whatif_before")}`),
        h("dd", { id: "whatif-before" }, num(result.total_gap_before))),
      h("div", {}, h("dt", {}, `${t("whatif_total")} · ${t("whatif_after")}`),
        h("dd", { id: "whatif-after" }, num(result.total_gap_after))),
      h("div", {}, h("dt", {}, t("whatif_change")),
        h("dd", { id: "whatif-change", class: change < -CHANGE_EPS ? "ok" : change > CHANGE_EPS ? "gap" : "" },
          `${change > 0 ? "+" : ""}${num(change)}`))),
    h("ul", { class: "summary" }, result.summary.map((line) => h("li", {}, line))),
    rows.length ? [chart, h("div", { class: "table-scroll" }, table(null, [
      { label: t("col_competency"), rowHeader: true, cell: (r) => r.name },
      { label: t("col_level_change"), numeric: true, cell: (r) => `${r.level > 0 ? "+" : ""}${num(r.level)}` },
      { label: t("col_gap_before"), numeric: true, cell: (r) => num(r.before) },
      { label: t("col_gap_after"), numeric: true, cell: (r) => num(r.after) },
    ], rows, { id: "whatif-table" }))] : h("p", { class: "empty" }, t("whatif_no_change")));
  if (chart) whatifChart(chart, rows);
}
