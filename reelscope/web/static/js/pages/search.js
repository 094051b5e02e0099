// Search: free text read by meaning ("piano", "close-up of Anna smiling": sizes, names and expressions
// become filters, other words match tags and objects), plus filters: shot size, character, expression,
// ImageNet tag, COCO object, time range. Hits are ranked shots (and characters), each with the frame
// that shows the match. The form state lives in the URL (/search?q=...), so a search can be linked.

import { api, mediaUrl } from "../api.js";
import { clear, emptyState, errorBox, field, h, loading } from "../dom.js";
import { EXPRESSIONS, SIZES, clock, plural } from "../format.js";
import { setQuery } from "../main.js";

const PAGE = 50;
const KEYS = ["q", "size", "character", "expression", "tag", "object", "start", "end"];

export async function render(root, _params, query) {
  const inputs = {
    q: h("input", { type: "search", name: "q", placeholder: "e.g. piano, close-up of Anna smiling, a car at night", autocomplete: "off" }),
    size: h("select", { name: "size" }, h("option", { value: "" }, "any"),
      SIZES.map(([c, n]) => h("option", { value: c }, `${c} — ${n}`))),
    character: h("input", { type: "text", name: "character", placeholder: "name or id", list: "identity-names", autocomplete: "off" }),
    expression: h("select", { name: "expression" }, h("option", { value: "" }, "any"),
      EXPRESSIONS.map((x) => h("option", { value: x }, x))),
    tag: h("input", { type: "text", name: "tag", placeholder: "e.g. grand piano", autocomplete: "off" }),
    object: h("input", { type: "text", name: "object", placeholder: "e.g. car", autocomplete: "off" }),
    start: h("input", { type: "number", name: "start", min: "0", step: "any", placeholder: "0" }),
    end: h("input", { type: "number", name: "end", min: "0", step: "any", placeholder: "end" }),
  };
  for (const k of KEYS) inputs[k].value = query.get(k) || "";
  const names = h("datalist#identity-names");
  const results = h("div.results");
  const summary = h("p.summary", { "aria-live": "polite" });
  const reading = h("p.reading");

  const form = h("form.search-form", { role: "search", "aria-label": "Search the archive" },
    h("div.search-main", field("Search", inputs.q)[0], h("button.primary", { type: "submit" }, "Search")),
    h("div.filters",
      field("Shot size", inputs.size)[0],
      field("Character", inputs.character)[0],
      field("Expression", inputs.expression)[0],
      field("Tag", inputs.tag)[0],
      field("Object", inputs.object)[0],
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
    reading.replaceChildren();
    clear(results, intro());
  }));

  root.append(h("div.page-head", h("h1", "Search")), form, summary, reading, results);
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
      reading.replaceChildren();
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
    showReading(page);
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
      x.score != null && x.labels && x.labels.length ? `score ${x.score.toFixed(2)}` : null,
    ].filter(Boolean);
    const labels = (x.labels || []).map((l) =>
      h("span.label-chip", { title: `"${l.concept}" ~ ${l.label}: similarity ${l.similarity.toFixed(2)}, evidence ${l.evidence.toFixed(2)}` },
        `${l.label} ${Math.round(l.evidence * 100)}%`));
    const frames = (x.frames || []).length > 1
      ? h("span.hit-frames", "frames: ", x.frames.map((f) =>
        h("a.frame-chip", { href: `/videos/${x.video_id}?t=${f.time.toFixed(3)}`, dataset: { link: "" } },
          `${clock(f.time, 2)} ${f.label}`)))
      : null;
    // what was said or written in the shot (and the labels), each opening the video there
    const said = (x.evidence || []).filter((e) => e.kind === "transcript" || e.kind === "text");
    const evidence = said.length
      ? h("span.hit-evidence", said.map((e) =>
        h("a.evidence-line", { href: `/videos/${x.video_id}?t=${e.time.toFixed(3)}`, dataset: { link: "", kind: e.kind } },
          h("span.badge", e.kind === "transcript" ? "said" : "on screen"), ` ${clock(e.time, 2)} `,
          h("q", e.text))))
      : null;
    const tagged = (x.evidence || []).filter((e) => e.kind === "pose");
    return h("li.hit", { dataset: { kind: x.kind, video: String(x.video_id), character: x.character_id ?? "" } },
      h("a.hit-link", { href: x.url, dataset: { link: "" } },
        x.image ? h("img.hit-img", { src: mediaUrl(x.image), alt: "", loading: "lazy" })
          : h("span.hit-img.placeholder", { "aria-hidden": "true" }),
        h("span.hit-body",
          h("span.hit-title", h("span.badge", x.kind), " ", title),
          h("span.muted", facts.join(" · ")),
          labels.length ? h("span.labels", labels) : null,
          tagged.length ? h("span.matched", `action: ${tagged.map((e) => e.text).join(", ")}`) : null,
          x.matched.length ? h("span.matched", `matched: ${x.matched.join(", ")}`) : null)),
      evidence, frames);
  }

  // How the free text was read: filters, the labels each word matched, words that matched nothing.
  function showReading(page) {
    const p = page.parsed;
    if (!p) {
      reading.replaceChildren();
      return;
    }
    const parts = [];
    if (p.sizes.length) parts.push(`size ${p.sizes.join(" or ")}`);
    if (p.characters.length) parts.push(`with ${p.characters.join(" and ")}`);
    if (p.expressions.length) parts.push(p.expressions.join(", "));
    if ((p.moods || []).length) parts.push(`mood ${p.moods.join(" or ")}`);
    for (const ph of p.phrases || []) parts.push(`said or written “${ph}”`);
    for (const c of p.concepts) parts.push(`“${c.text}” → ${c.labels.slice(0, 4).map((l) => l.label).join(", ")}`);
    clear(reading,
      parts.length ? `Read as: ${parts.join(" · ")}` : null,
      p.ignored.length ? h("span.muted", ` (no label close to: ${p.ignored.join(", ")})`) : null,
      !page.semantic && p.concepts.length === 0 && page.total === 0
        ? h("span.muted", " — words are matched to exact label names (text model not installed)") : null);
  }

  function intro() {
    return emptyState("Search the archive.", "Describe what you look for (\"piano\", \"close-up of Anna smiling\", "
      + "\"saying 'see you tomorrow'\"), "
      + "type a file or person name, or choose a shot size, a character, an expression, a tag, an object or a time "
      + "range. Every result opens the video at that moment.");
  }

  if (Object.keys(params()).length) await run(0);
  else clear(results, intro());
}
