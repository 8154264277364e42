// The planner UI: hash routes (#/pegawai, #/unit/<id>, #/rencana), the API key dialog, the language switch.
import { api, ApiError, errorMessage, forgetKey, getKey, setKey } from "./api.js";
import { day, lang, setLang, t, translateStatic } from "./i18n.js";
import * as employeePage from "./employee.js";
import * as planPage from "./plan.js";
import * as unitPage from "./unit.js";

const PAGES = { pegawai: employeePage, unit: unitPage, rencana: planPage };
const NAV = { pegawai: "employee", unit: "unit", rencana: "plan" };

const main = document.getElementById("main");
const dialog = document.getElementById("key-dialog");
const keyForm = document.getElementById("key-form");
const keyInput = document.getElementById("key-input");
const keyError = document.getElementById("key-error");
const banner = document.getElementById("banner");
const modelInfo = document.getElementById("model-info");

let active = null; // {name, module, lang}: the page on screen and the language its labels are in

/** The page named in location.hash: "#/unit/SMP-1" → {name: "unit", arg: "SMP-1"}. */
function route() {
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const page = PAGES[name] ? name : "pegawai";
  return { name: page, arg: rest.length ? decodeURIComponent(rest.join("/")) : null };
}

function render() {
  const { name, arg } = route();
  for (const link of document.querySelectorAll("nav a[data-page]")) {
    if (link.dataset.page === NAV[name]) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!active || active.name !== name || active.lang !== lang()) {
    active = { name, module: PAGES[name], lang: lang() };
    active.module.mount(main, { navigate });
  }
  active.module.show(arg);
  document.title = `${t(`nav_${NAV[name]}`)} — ${t("app_title")}`;
}

/** Go to `hash` (e.g. "#/unit/SMP-1"); re-renders even when the hash does not change. */
function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function showBanner(text) {
  banner.textContent = text || "";
  banner.hidden = !text;
}

async function loadModelInfo() {
  try {
    const models = await api("/v1/models", { withLang: false });
    const asOf = models.store?.exported_on || models.models?.[0]?.as_of;
    modelInfo.textContent = t("model_info", { version: models.model_version, date: day(asOf) });
    showBanner("");
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return false;
    modelInfo.textContent = "";
    showBanner(error instanceof ApiError && error.status === 503 ? t("model_missing") : errorMessage(error));
    return true; // the key itself was accepted (or could not be checked); pages show their own errors
  }
}

function askForKey(message = "") {
  keyError.textContent = message;
  keyError.hidden = !message;
  if (dialog.open) return; // several calls failing at once: ask once, keep what is being typed
  keyInput.value = "";
  dialog.showModal();
  keyInput.focus();
}

keyForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = keyInput.value.trim();
  if (!value) return;
  setKey(value);
  keyError.hidden = false;
  keyError.textContent = t("key_checking");
  const accepted = await loadModelInfo();
  if (!accepted) {
    forgetKey();
    keyError.textContent = t("key_invalid");
    keyInput.select();
    return;
  }
  keyError.hidden = true;
  dialog.close();
  render(); // the page fetches what it could not fetch without a key
});

// The dialog cannot be dismissed without a key: the pages need one.
dialog.addEventListener("cancel", (event) => {
  if (!getKey()) event.preventDefault();
});

window.addEventListener("auth-required", (event) => {
  modelInfo.textContent = "";
  askForKey(event.detail?.message || t("key_expired"));
});

document.getElementById("change-key").addEventListener("click", () => {
  forgetKey();
  modelInfo.textContent = "";
  askForKey();
});

const langButton = document.getElementById("lang-switch");
function applyLanguage() {
  translateStatic(document);
  langButton.textContent = t("lang_switch");
  langButton.lang = lang() === "id" ? "en" : "id";
}
langButton.addEventListener("click", () => {
  setLang(lang() === "id" ? "en" : "id");
  applyLanguage();
  if (getKey()) loadModelInfo();
  render(); // the page is rebuilt in the new language and fetches the API's sentences again
});

window.addEventListener("hashchange", render);

setLang(lang());
applyLanguage();
render();
if (getKey()) loadModelInfo();
else askForKey();
