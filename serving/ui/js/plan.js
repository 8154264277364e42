// Plan page: a budget and options → POST /v1/plans → allocation table (CSV download), totals and the
// budget curve (total expected gain against budget).
import { api, ApiError, errorMessage } from "./api.js";
import { chartBox, curveChart } from "./charts.js";
import { fill, h, notice, table } from "./dom.js";
import { idr, int, num, parseIdr, pct, t } from "./i18n.js";
import { unitDatalist } from "./seen.js";

const SHOWN_ROWS = 200; // the table shows the first rows; the CSV has them all
const CURVE_FACTORS = [0.25, 0.5, 0.75, 1, 1.5, 2];
const CSV_COLUMNS = ["nip", "unit_id", "training_id", "title", "expected_gain", "cost_idr", "hours_jp"];
const CSV_REQUIRED = new Set(["nip", "training_id", "expected_gain", "cost_idr", "hours_jp"]);
const MAX_CURVE_POINTS = 12;

const state = {
  form: { budget: "", units: "", maxTrainings: "2", maxJp: "", jpPriority: false, curve: true, horizon: "12",
    include: "", exclude: "", excludeTrainings: "" },
  result: null,
  budget: null,
  error: null,
  busy: false,
};
let root = null;
let controller = null;

export function mount(container) {
  root = container;
  fill(root, h("section", { class: "page", "aria-labelledby": "plan-title" },
    h("h1", { id: "plan-title" }, t("plan_title")),
    h("p", { class: "help" }, t("plan_intro")),
    planForm(),
    h("div", { id: "plan-status", "aria-live": "polite" }),
    h("div", { id: "plan-content" })));
}

export function show(unitId) {
  if (unitId) {
    state.form.units = unitId; // arriving from a unit page: plan for that unit
    const input = root.querySelector("#plan-units");
    if (input) input.value = unitId;
  }
  renderContent();
}

function field(id, label, control, help = null) {
  return h("div", { class: "field" }, h("label", { for: id }, label), control, help);
}

function check(id, label, checked) {
  return h("div", { class: "field check" },
    h("input", { id, type: "checkbox", checked }), h("label", { for: id }, label));
}

function planForm() {
  const f = state.form;
  const budgetError = h("p", { id: "plan-budget-error", class: "error", role: "alert", hidden: true });
  const budget = h("input", { id: "plan-budget", name: "budget_idr", type: "text", inputmode: "numeric",
    autocomplete: "off", required: true, value: f.budget, placeholder: "250.000.000",
    "aria-describedby": "plan-budget-error" });
  // Show the amount with thousands separators once the planner leaves the field.
  budget.addEventListener("blur", () => {
    const value = parseIdr(budget.value);
    if (value !== null) budget.value = int(value);
  });
  const form = h("form", {
    class: "plan-form", novalidate: true,
    onsubmit: (event) => {
      event.preventDefault();
      readForm(form);
      const value = parseIdr(state.form.budget);
      if (value === null) {
        budgetError.textContent = t("plan_budget_invalid");
        budgetError.hidden = false;
        budget.setAttribute("aria-invalid", "true");
        budget.focus();
        return;
      }
      budgetError.hidden = true;
      budget.removeAttribute("aria-invalid");
      run(value);
    },
  },
  h("div", { class: "form-grid" },
    field("plan-budget", t("plan_budget"), budget, budgetError),
    field("plan-units", t("plan_units"), h("input", { id: "plan-units", type: "text", autocomplete: "off",
      value: f.units, list: "plan-unit-options" }), unitDatalist("plan-unit-options")),
    field("plan-max-trainings", t("plan_max_trainings"), h("input", { id: "plan-max-trainings", type: "number",
      min: 1, max: 20, step: 1, value: f.maxTrainings })),
    field("plan-max-jp", t("plan_max_jp"), h("input", { id: "plan-max-jp", type: "number", min: 1, max: 10000,
      step: 1, value: f.maxJp }))),
  check("plan-jp-priority", t("plan_jp_priority"), f.jpPriority),
  check("plan-curve", t("plan_curve"), f.curve),
  h("details", { class: "advanced" },
    h("summary", {}, t("plan_advanced")),
    h("div", { class: "form-grid" },
      field("plan-horizon", t("plan_horizon"), h("input", { id: "plan-horizon", type: "number", min: 1, max: 60,
        step: 1, value: f.horizon })),
      field("plan-exclude-trainings", t("plan_exclude_trainings"), h("input", { id: "plan-exclude-trainings",
        type: "text", autocomplete: "off", value: f.excludeTrainings })),
      field("plan-include", t("plan_include"), h("textarea", { id: "plan-include", rows: 3 }, f.include)),
      field("plan-exclude", t("plan_exclude"), h("textarea", { id: "plan-exclude", rows: 3 }, f.exclude)))),
  h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary", id: "plan-submit" },
    t("plan_submit"))));
  return form;
}

function readForm(form) {
  const value = (id) => form.querySelector(`#${id}`).value;
  Object.assign(state.form, {
    budget: value("plan-budget"), units: value("plan-units"), maxTrainings: value("plan-max-trainings"),
    maxJp: value("plan-max-jp"), jpPriority: form.querySelector("#plan-jp-priority").checked,
    curve: form.querySelector("#plan-curve").checked, horizon: value("plan-horizon"),
    include: value("plan-include"), exclude: value("plan-exclude"), excludeTrainings: value("plan-exclude-trainings"),
  });
}

const list = (text, separator) => String(text || "").split(separator).map((s) => s.trim()).filter(Boolean);
const whole = (text) => (String(text).trim() === "" ? null : Number.parseInt(text, 10));

/** The POST /v1/plans body from the form (optional fields only when the planner set them). */
export function planBody(budget, f) {
  const body = { budget_idr: budget };
  const units = list(f.units, /[,;\s]+/);
  if (units.length) body.unit_ids = units;
  const maxTrainings = whole(f.maxTrainings);
  if (Number.isFinite(maxTrainings)) body.max_trainings_per_employee = maxTrainings;
  const maxJp = whole(f.maxJp);
  if (Number.isFinite(maxJp)) body.max_jp_per_employee = maxJp;
  if (f.jpPriority) body.jp_priority = true;
  const horizon = whole(f.horizon);
  if (Number.isFinite(horizon)) body.horizon_months = horizon;
  const include = list(f.include, /[\s,;]+/);
  if (include.length) body.include_nips = include;
  const exclude = list(f.exclude, /[\s,;]+/);
  if (exclude.length) body.exclude_nips = exclude;
  const excludeTrainings = list(f.excludeTrainings, /[,;\s]+/);
  if (excludeTrainings.length) body.exclude_training_ids = excludeTrainings;
  if (f.curve && budget > 0) {
    const points = CURVE_FACTORS.map((factor) => Math.round((budget * factor) / 1000) * 1000).filter((b) => b > 0);
    body.curve_budgets = [...new Set(points)].slice(0, MAX_CURVE_POINTS);
  }
  return body;
}

async function run(budget) {
  controller?.abort();
  const mine = new AbortController();
  controller = mine;
  Object.assign(state, { busy: true, error: null, result: null, budget });
  const submit = root.querySelector("#plan-submit");
  if (submit) submit.disabled = true;
  renderContent();
  try {
    const result = await api("/v1/plans", { method: "POST", body: planBody(budget, state.form), signal: mine.signal });
    if (controller !== mine) return;
    state.result = result;
  } catch (error) {
    if (error.name === "AbortError" || controller !== mine) return;
    state.error = error;
  } finally {
    if (controller === mine) {
      state.busy = false;
      const button = root.querySelector("#plan-submit");
      if (button) button.disabled = false;
      renderContent();
    }
  }
}

function renderContent() {
  const status = root.querySelector("#plan-status");
  const content = root.querySelector("#plan-content");
  if (!status || !content) return;
  if (state.busy) {
    fill(status, notice("busy", t("computing")));
    content.setAttribute("aria-busy", "true");
    content.replaceChildren();
    return;
  }
  status.replaceChildren();
  content.removeAttribute("aria-busy");
  if (state.error) {
    const e = state.error;
    if (e instanceof ApiError && e.status === 401) content.replaceChildren();
    // No /v1/plans on this server (an older API): a 404 without an engine problem type.
    else if (e instanceof ApiError && (e.status === 404 || e.status === 405) && !e.slug.startsWith("unknown-")) {
      fill(content, notice("error", t("err_plans_missing")));
    } else fill(content, notice("error", errorMessage(e)));
    return;
  }
  const r = state.result;
  if (!r) {
    fill(content, h("p", { class: "empty" }, t("plan_empty")));
    return;
  }
  const totals = r.totals || {};
  const allocations = r.allocations || [];
  const statusLabel = t(`status_${r.status}`);
  const statusText = [statusLabel === `status_${r.status}` ? r.status : statusLabel, t("plan_solver_time", { seconds: num(r.solve_seconds ?? 0, 1) })];
  if (r.optimality_gap !== null && r.optimality_gap !== undefined) statusText.push(t("plan_gap", { gap: pct(r.optimality_gap, 2) }));
  const curve = r.curve && r.curve.length ? chartBox(t("plan_curve_label"), "chart curve-chart") : null;
  const tile = (id, label, value, sub = null) => h("div", { class: "tile" },
    h("dt", {}, label), h("dd", { id }, value), sub ? h("dd", { class: "sub" }, sub) : null);
  fill(content,
    h("section", { class: "card", "aria-labelledby": "plan-result-title" },
      h("h2", { id: "plan-result-title" }, `${t("plan_allocations")} · ${idr(state.budget)}`),
      h("p", { class: "meta", id: "plan-solver" }, `${t("plan_status")}: ${statusText.join(" · ")}`),
      r.scope ? h("p", { class: "meta", id: "plan-scope" }, t("plan_scope", { employees: int(r.scope.employees),
        units: int(r.scope.units), candidates: int(r.scope.candidates) })) : null,
      r.unmet_include_nips?.length ? notice("error", t("plan_unmet", { n: int(r.unmet_include_nips.length),
        nips: r.unmet_include_nips.join(", ") })) : null,
      h("dl", { class: "tiles" },
        tile("plan-total-cost", t("plan_total_cost"), idr(totals.cost_idr),
          state.budget > 0 ? t("plan_of_budget", { share: pct((totals.cost_idr ?? 0) / state.budget) }) : null),
        tile("plan-total-gain", t("plan_total_gain"), num(totals.expected_gain)),
        tile("plan-total-employees", t("plan_total_employees"), int(totals.employees)),
        tile("plan-total-standard", t("plan_total_standard"), int(totals.employees_reaching_standard)),
        totals.employees_reaching_20_jp !== undefined
          ? tile("plan-total-jp", t("plan_total_jp"), int(totals.employees_reaching_20_jp)) : null,
        totals.budget_left_idr !== undefined
          ? tile("plan-budget-left", t("plan_budget_left"), idr(totals.budget_left_idr)) : null),
      r.notes?.length ? h("details", { class: "advanced" }, h("summary", {}, t("plan_notes")),
        h("ul", { class: "help" }, r.notes.map((note) => h("li", { lang: "en" }, note)))) : null),
    curve ? h("section", { class: "card", "aria-labelledby": "curve-title" },
      h("h2", { id: "curve-title" }, t("plan_curve_title")), curve) : null,
    h("section", { class: "card", "aria-labelledby": "alloc-title" },
      h("div", { class: "card-head" },
        h("h2", { id: "alloc-title" }, t("plan_allocations")),
        allocations.length ? h("button", { type: "button", class: "secondary", id: "plan-download",
          onclick: () => download(allocations, state.budget) }, t("plan_download")) : null),
      allocations.length ? [
        allocations.length > SHOWN_ROWS
          ? h("p", { class: "help" }, t("plan_shown", { shown: int(SHOWN_ROWS), total: int(allocations.length) })) : null,
        h("div", { class: "table-scroll" }, table(null, [
          { label: t("col_nip"), rowHeader: true, cell: (a) => a.nip },
          { label: t("col_training"), cell: (a) => (a.title ? [a.title, h("span", { class: "meta" }, ` ${a.training_id}`)]
            : a.training_id) },
          { label: t("col_expected_gain"), numeric: true, cell: (a) => num(a.expected_gain) },
          { label: t("col_cost"), numeric: true, cell: (a) => idr(a.cost_idr) },
          { label: t("col_jp"), numeric: true, cell: (a) => int(a.hours_jp) },
        ], allocations.slice(0, SHOWN_ROWS), { id: "plan-table" }))]
        : h("p", { class: "empty" }, t("plan_allocations_empty"))));
  if (curve) {
    const chosen = { expected_gain: totals.expected_gain ?? 0 };
    curveChart(curve, r.curve, state.budget, chosen);
  }
}

/** The allocation as CSV (the API's field names, one row per training given to an employee). */
export function allocationCsv(allocations) {
  const quote = (value) => {
    const text = value === null || value === undefined ? "" : String(value);
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  // The API's fields, in a fixed order; unit_id and title when the server sends them.
  const columns = CSV_COLUMNS.filter((c) => CSV_REQUIRED.has(c) || allocations.some((a) => c in a));
  const lines = [columns.join(",")];
  for (const a of allocations) lines.push(columns.map((c) => quote(a[c])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

function download(allocations, budget) {
  const blob = new Blob([allocationCsv(allocations)], { type: "text/csv;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: `rencana-pelatihan-${budget}.csv`, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
