// Building DOM nodes from text: everything that comes from the API is set as text, never parsed as HTML.

/**
 * h("p", {class: "x", onclick: fn, "aria-label": "…"}, "text", node, [more], null)
 * Attributes: `class`, `text`, `on<event>` handlers, booleans (true → present, false/null → absent),
 * anything else as an attribute. Children: strings, numbers, nodes, arrays of them; null/false skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace the content of `el` with `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A table: `columns` = [{label, cell: row => node|string, numeric?}], one <tr> per row. */
export function table(caption, columns, rows, attrs = {}) {
  return h("table", { class: "data", ...attrs },
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.numeric ? "num" : null },
      c.label)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c, i) => (i === 0 && c.rowHeader
      ? h("th", { scope: "row" }, c.cell(row))
      : h("td", { class: c.numeric ? "num" : null }, c.cell(row))))))));
}

/** A status line that screen readers announce: kind = info | error | busy. */
export function notice(kind, text) {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/** Debounce `fn` by `ms` milliseconds. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
