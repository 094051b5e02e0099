// Search: text over file and character names, shot size, character, expression, time range.
// The form state lives in the URL (/search?q=...), so a search can be linked and reloaded.

import { api, mediaUrl } from "../api.js";
import { clear, emptyState, errorBox, field, h, loading } from "../dom.js";
import { EXPRESSIONS, SIZES, clock, plural } from "../format.js";
import { setQuery } from "../main.js";

const PAGE = 50;
const KEYS = ["q", "size", "character", "expression", "start", "end"];

export async function render(root, _params, query) {
  const inputs = {
    q: h("input", { type: "search", name: "q", placeholder: "file name or person", autocomplete: "off" }),
    size: h("select", { name: "size" }, h("option", { value: "" }, "any"),
      SIZES.map(([c, n]) => h("option", { value: c }, `${c} — ${n}`))),
    character: h("input", { type: "text", name: "character", placeholder: "name or id", list: "identity-names", autocomplete: "off" }),
    expression: h("select", { name: "expression" }, h("option", { value: "" }, "any"),
      EXPRESSIONS.map((x) => h("option", { value: x }, x))),
    start: h("input", { type: "number", name: "start", min: "0", step: "any", placeholder: "0" }),
    end: h("input", { type: "number", name: "end", min: "0", step: "any", placeholder: "end" }),
  };
  for (const k of KEYS) inputs[k].value = query.get(k) || "";
  const names = h("datalist#identity-names");
  const results = h("div.results");
  const summary = h("p.summary", { "aria-live": "polite" });

  const form = h("form.search-form", { role: "search", "aria-label": "Search the archive" },
    h("div.search-main", field("Search", inputs.q)[0], h("button.primary", { type: "submit" }, "Search")),
    h("div.filters",
      field("Shot size", inputs.size)[0],
      field("Character", inputs.character)[0],
      field("Expression", inputs.expression)[0],
      field("From (s)", inputs.start)[0],
      field("To (s)", inputs.end)[0],
      h("button", { type: "reset" }, "Clear")),
    names);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    run(0);
  });
  form.addEventListener("reset", () => setTimeout(() => {
    setQuery({});
    summary.textContent = "";
    clear(results, intro());
  }));

  root.append(h("div.page-head", h("h1", "Search")), form, summary, results);
  api("identities").then((ids) => names.replaceChildren(...ids.map((i) => h("option", { value: i.name })))).catch(() => {});

  function params() {
    const p = {};
    for (const k of KEYS) {
      const v = inputs[k].value.trim();
      if (v) p[k] = v;
    }
    return p;
  }

  async function run(offset) {
    const p = params();
    setQuery(p, { replace: false });
    if (!Object.keys(p).length) {
      summary.textContent = "";
      clear(results, intro());
      return;
    }
    if (offset === 0) clear(results, loading("Searching…"));
    let page;
    try {
      page = await api("search", { query: { ...p, offset, limit: PAGE } });
    } catch (e) {
      clear(results, errorBox(e, "Search failed"));
      return;
    }
    summary.textContent = plural(page.total, "result");
    if (offset === 0) clear(results);
    results.querySelector(".more")?.remove();
    if (!page.total) {
      results.append(emptyState("Nothing found.", "Loosen a filter or try another name."));
      return;
    }
    let ul = results.querySelector("ul.hits");
    if (!ul) {
      ul = h("ul.hits");
      results.append(ul);
    }
    ul.append(...page.items.map(hit));
    if (offset + page.items.length < page.total) {
      const more = h("button.more", { type: "button" }, `Show more (${page.total - offset - page.items.length} left)`);
      more.addEventListener("click", () => run(offset + PAGE));
      results.append(more);
    }
  }

  function hit(x) {
    const title = x.kind === "character"
      ? `${x.name || "unknown character"} in ${x.filename}`
      : `${x.filename} — shot ${x.shot_index + 1}`;
    const facts = [
      `at ${clock(x.time, 2)} (frame ${x.frame})`,
      x.end_time != null ? `shot ends ${clock(x.end_time, 2)}` : null,
      x.size ? `size ${x.size}` : null,
      x.kind === "shot" && x.name ? `with ${x.name}` : null,
      x.expression ? x.expression : null,
    ].filter(Boolean);
    return h("li.hit", { dataset: { kind: x.kind, video: String(x.video_id), character: x.character_id ?? "" } },
      h("a.hit-link", { href: x.url, dataset: { link: "" } },
        x.image ? h("img.hit-img", { src: mediaUrl(x.image), alt: "", loading: "lazy" })
          : h("span.hit-img.placeholder", { "aria-hidden": "true" }),
        h("span.hit-body",
          h("span.hit-title", h("span.badge", x.kind), " ", title),
          h("span.muted", facts.join(" · ")),
          x.matched.length ? h("span.matched", `matched: ${x.matched.join(", ")}`) : null)));
  }

  function intro() {
    return emptyState("Search the archive.", "Type a file or person name, or choose a shot size, a character, "
      + "an expression or a time range. Every result opens the video at that moment.");
  }

  if (Object.keys(params()).length) await run(0);
  else clear(results, intro());
}
