// Units met during this session (from employee profiles and unit pages), offered as suggestions in the
// unit fields: the API has no list of units, and a planner should not have to remember codes.
import { h } from "./dom.js";

const KEY = "kompetensi.seenUnits";

function read() {
  try {
    const value = JSON.parse(sessionStorage.getItem(KEY) || "{}");
    return value && typeof value === "object" ? value : {};
  } catch (_) {
    return {};
  }
}

/** Remember that unit `unitId` is called `name`. */
export function rememberUnit(unitId, name) {
  if (!unitId) return;
  const units = read();
  units[unitId] = name || unitId;
  try {
    sessionStorage.setItem(KEY, JSON.stringify(units));
  } catch (_) {
    // Storage disabled: no suggestions.
  }
}

/** A <datalist id=…> of the units seen so far (value = code, label = name). */
export function unitDatalist(id) {
  const units = read();
  return h("datalist", { id }, Object.entries(units).sort((a, b) => a[1].localeCompare(b[1]))
    .map(([unitId, name]) => h("option", { value: unitId }, name)));
}
