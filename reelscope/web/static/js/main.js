// The web app shell: client-side routing, the API token box, the toast and the footer.
// Each page module exports render(root, params, query) and may return a cleanup function.

import { api, getToken, setToken, syncCookie } from "./api.js";
import { clear, errorBox, h } from "./dom.js";

const ROUTES = [
  { nav: "archive", pattern: /^\/$/, load: () => import("./pages/archive.js"), title: "Archive" },
  { nav: "archive", pattern: /^\/videos\/(\d+)\/?$/, load: () => import("./pages/video.js"), title: "Video" },
  { nav: "characters", pattern: /^\/characters\/?$/, load: () => import("./pages/characters.js"), title: "Characters" },
  { nav: "search", pattern: /^\/search\/?$/, load: () => import("./pages/search.js"), title: "Search" },
  { nav: "jobs", pattern: /^\/jobs\/?$/, load: () => import("./pages/jobs.js"), title: "Jobs" },
  { nav: "slideshow", pattern: /^\/slideshow\/?$/, load: () => import("./pages/slideshow.js"), title: "Slideshow" },
];

const view = document.getElementById("view");
let cleanup = null;
let renderSeq = 0;

export function navigate(url, { replace = false } = {}) {
  const target = new URL(url, location.origin);
  if (target.origin !== location.origin) {
    location.href = target.href;
    return;
  }
  if (replace) history.replaceState(null, "", target);
  else history.pushState(null, "", target);
  route();
}

/** Update the query string of the current page without re-rendering it (filters, seek time). */
export function setQuery(params, { replace = true } = {}) {
  const url = new URL(location.href);
  url.search = "";
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  if (url.href === location.href) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
}

export function setTitle(text) {
  document.title = text ? `${text} · reelscope` : "reelscope";
}

let toastTimer = null;
/** A short message at the top of the page (also read by screen readers). */
export function toast(message, kind = "ok") {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = `toast show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.className = "toast"), kind === "error" ? 8000 : 4000);
}

async function route() {
  const seq = ++renderSeq;
  if (cleanup) {
    try {
      cleanup();
    } catch (e) {
      console.error(e);
    }
    cleanup = null;
  }
  const path = location.pathname;
  const match = ROUTES.map((r) => [r, r.pattern.exec(path)]).find(([, m]) => m);
  for (const a of document.querySelectorAll("[data-nav]")) {
    const on = match && a.dataset.nav === match[0].nav;
    a.classList.toggle("active", Boolean(on));
    if (on) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (!match) {
    setTitle("Not found");
    clear(view, h("h1", "Page not found"), h("p", `There is no page at ${path}.`), h("a", { href: "/", dataset: { link: "" } }, "Back to the archive"));
    return;
  }
  const [r, m] = match;
  setTitle(r.title);
  clear(view);
  try {
    const mod = await r.load();
    if (seq !== renderSeq) return; // the user navigated on meanwhile
    const out = await mod.render(view, m.slice(1), new URLSearchParams(location.search));
    if (seq !== renderSeq) {
      if (typeof out === "function") out();
      return;
    }
    cleanup = typeof out === "function" ? out : null;
  } catch (e) {
    console.error(e);
    if (seq === renderSeq) view.append(errorBox(e, "This page failed"));
  }
}

// ---- links: same-origin <a data-link> (and plain app links) navigate without reloading -----------
document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.origin);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/") || url.pathname.startsWith("/docs")
      || url.pathname.startsWith("/static/")) return;
  e.preventDefault();
  if (url.href === location.href) return;
  navigate(url);
  view.focus({ preventScroll: true });
  window.scrollTo(0, 0);
});
window.addEventListener("popstate", route);

// ---- the API token box -----------------------------------------------------------------------
function showTokenState() {
  const set = Boolean(getToken());
  const el = document.getElementById("token-state");
  el.textContent = set ? "set" : "not set";
  el.classList.toggle("on", set);
}

document.getElementById("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = document.getElementById("token-input");
  setToken(input.value);
  input.value = "";
  showTokenState();
  document.getElementById("settings").open = false;
  toast(getToken() ? "API token saved in this browser" : "API token removed");
});
document.getElementById("token-clear").addEventListener("click", () => {
  setToken("");
  showTokenState();
  toast("API token removed");
});

async function health() {
  const el = document.getElementById("health");
  try {
    const hs = await api("health");
    el.textContent = `reelscope ${hs.version} · ${hs.database}`;
  } catch (e) {
    el.textContent = `server unavailable: ${e.message}`;
  }
}

syncCookie();
showTokenState();
health();
route();
