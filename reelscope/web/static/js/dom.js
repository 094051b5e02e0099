// Tiny DOM helpers. Text from the API always goes in through textContent (never innerHTML).

/**
 * h("a.button", {href: "/x", onclick: fn}, "text", child) -> element.
 * The tag may carry .classes and one #id; attributes starting with "on" become listeners;
 * `dataset`/`style` objects are merged; null/false/undefined attributes and children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const [name, ...rest] = tag.split(/(?=[.#])/);
  const el = document.createElement(name || "div");
  for (const part of rest) {
    if (part[0] === ".") el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs instanceof Node || typeof attrs !== "object" || Array.isArray(attrs) || attrs === null) {
    children.unshift(attrs);
    attrs = {};
  }
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k === "class") el.className = [el.className, v].filter(Boolean).join(" ");
    else if (k === "checked" || k === "selected") el.setAttribute(k, ""); // the default too: form.reset() keeps it
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replace the children of el. */
export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** An error box showing an ApiError's message (the API's "detail"). */
export function errorBox(err, prefix = "") {
  const msg = err && err.message ? err.message : String(err);
  return h("div.error", { role: "alert" }, prefix ? `${prefix}: ${msg}` : msg);
}

export function emptyState(title, text = "", ...extra) {
  return h("div.empty", h("p.empty-title", title), text ? h("p", text) : null, ...extra);
}

export function loading(text = "Loading…") {
  return h("p.loading", { role: "status" }, text);
}

/** A unique id for label/input pairs. */
let seq = 0;
export function uid(prefix = "f") {
  seq += 1;
  return `${prefix}-${seq}`;
}

/** A labelled form field: returns [wrapper, input]. */
export function field(label, input, hint = "") {
  if (!input.id) input.id = uid("in");
  const wrap = h("div.field", h("label", { for: input.id }, label), input, hint ? h("small.hint", hint) : null);
  return [wrap, input];
}
