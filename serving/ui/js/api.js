// Calls to the HTTP API with the planner's key (kept in sessionStorage only), and error messages a
// person can act on.
import { lang, t } from "./i18n.js";

const KEY = "kompetensi.apiKey";

export function getKey() {
  try {
    return sessionStorage.getItem(KEY);
  } catch (_) {
    return null;
  }
}

export function setKey(value) {
  sessionStorage.setItem(KEY, value);
}

export function forgetKey() {
  try {
    sessionStorage.removeItem(KEY);
  } catch (_) {
    // nothing stored
  }
}

/** An answer other than 2xx: `status` 0 when the server could not be reached; `problem` is RFC 9457. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  /** The problem type's last part, e.g. "unknown-employee". */
  get slug() {
    const type = String(this.problem.type || "");
    return type.includes(":") ? type.slice(type.lastIndexOf(":") + 1) : type;
  }
}

/**
 * GET/POST `path` (e.g. "/v1/models") with the key; `query` values that are null are left out; the
 * language of the sentences is always the UI's. On 401 the key is forgotten and `auth-required` fires.
 */
export async function api(path, { method = "GET", body = undefined, query = {}, signal = undefined,
  withLang = true } = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") params.set(name, String(value));
  }
  if (withLang) params.set("lang", lang());
  const search = params.toString();
  const url = search ? `${path}?${search}` : path;
  const headers = { Accept: "application/json" };
  const key = getKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit",
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { detail: String(err) });
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch (_) {
    payload = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, payload);
    if (response.status === 401) {
      forgetKey();
      window.dispatchEvent(new CustomEvent("auth-required", { detail: { message: t("key_expired") } }));
    }
    throw error;
  }
  return payload;
}

// 404 of a known kind → a specific sentence (the API's own detail is English and technical).
const NOT_FOUND = {
  "unknown-employee": "err_nip_not_found",
  "unknown-unit": "err_unit_not_found",
  "unknown-training": "err_training_not_found",
  "unknown-position": "err_position_not_found",
};

/** What to tell a person about `error` (an ApiError or anything thrown). */
export function errorMessage(error) {
  if (!(error instanceof ApiError)) return t("err_500");
  const { status } = error;
  if (status === 0) return t("err_network");
  if (status === 404) {
    const key = NOT_FOUND[error.slug];
    if (!key) return t("err_404");
    // Name the training, position or unit the server did not know (its detail ends with the code); a
    // NIP is never repeated back.
    const code = /(?:training|position|unit) (\S+)$/.exec(error.problem.detail || "");
    return code && error.slug !== "unknown-employee" ? `${t(key)} (${code[1]})` : t(key);
  }
  if (status === 422) {
    const fields = (error.problem.errors || []).map((e) => e.field).filter(Boolean);
    return t("err_422", { fields: fields.length ? [...new Set(fields)].join(", ") : "?" });
  }
  if (status === 401 || status === 403 || status === 503) return t(`err_${status}`);
  return t("err_500");
}
