// Archive list: the videos with duration, shots and characters; filter by name; start an analysis.

import { api, mediaUrl } from "../api.js";
import { clear, emptyState, errorBox, field, h, loading } from "../dom.js";
import { clock, date, plural } from "../format.js";
import { jobForm } from "../jobform.js";
import { setQuery } from "../main.js";

const PAGE = 50;

export async function render(root, _params, query) {
  let q = query.get("q") || "";
  let offset = Math.max(0, Number(query.get("offset")) || 0);
  const list = h("div.video-list");
  const summary = h("p.summary", { "aria-live": "polite" });
  const search = h("input", { type: "search", name: "q", value: q, placeholder: "part of the file name" });
  const [searchField] = field("Filter by file name", search);
  const filter = h("form.filter-bar", { role: "search" }, searchField, h("button", { type: "submit" }, "Filter"));
  filter.addEventListener("submit", (e) => {
    e.preventDefault();
    q = search.value.trim();
    offset = 0;
    load();
  });

  root.append(
    h("div.page-head", h("h1", "Archive"), summary),
    h("div.two-col", h("section.main-col", filter, list), jobForm(() => setTimeout(load, 200))),
  );

  async function load() {
    setQuery({ q, offset: offset || "" });
    clear(list, loading());
    let page;
    try {
      page = await api("videos", { query: { q, offset, limit: PAGE } });
    } catch (e) {
      clear(list, errorBox(e, "Could not load the archive"));
      return;
    }
    summary.textContent = q ? `${plural(page.total, "video")} matching “${q}”` : plural(page.total, "video");
    if (!page.items.length) {
      clear(list, q
        ? emptyState("No video matches this filter.", "Try another part of the file name.")
        : emptyState("The archive is empty.", "Analyse a video with the form on this page, or run "
          + "“reelscope analyze film.mp4” on the server."));
      return;
    }
    const rows = page.items.map((v) => {
      const href = `/videos/${v.id}`;
      return h("tr",
        h("td.thumb-cell", v.thumbnail
          ? h("a", { href, dataset: { link: "" }, tabindex: "-1", "aria-hidden": "true" },
            h("img.thumb", { src: mediaUrl(v.thumbnail), alt: "", loading: "lazy" }))
          : h("span.thumb.placeholder", { "aria-hidden": "true" })),
        h("td", h("a.video-link", { href, dataset: { link: "" } }, v.filename),
          h("div.muted.video-meta", `${v.width}×${v.height} · ${fpsText(v.fps)} fps`)),
        h("td.num", clock(v.duration)),
        h("td.num", String(v.shots)),
        h("td.num", String(v.characters)),
        h("td.muted.col-added", date(v.created_at)));
    });
    const table = h("table.data.videos-table",
      h("caption.sr-only", "Videos in the archive"),
      h("thead", h("tr", h("th.thumb-cell", { scope: "col" }, h("span.sr-only", "Thumbnail")), h("th", { scope: "col" }, "File"),
        h("th.num", { scope: "col" }, "Duration"), h("th.num", { scope: "col" }, "Shots"),
        h("th.num", { scope: "col" }, "Characters"), h("th.col-added", { scope: "col" }, "Added"))),
      h("tbody", rows));
    clear(list, h("div.table-wrap", table), pager(page));
  }

  function pager(page) {
    if (page.total <= page.limit) return null;
    const prev = h("button", { type: "button", disabled: offset === 0 }, "← Previous");
    const next = h("button", { type: "button", disabled: offset + page.limit >= page.total }, "Next →");
    prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load(); });
    next.addEventListener("click", () => { offset += PAGE; load(); });
    return h("nav.pager", { "aria-label": "Pages" }, prev,
      h("span", `${offset + 1}–${Math.min(offset + page.limit, page.total)} of ${page.total}`), next);
  }

  await load();
}

function fpsText(fps) {
  const [n, d] = String(fps).split("/").map(Number);
  if (!d) return fps;
  const x = n / d;
  return Number.isInteger(x) ? String(x) : x.toFixed(3).replace(/0+$/, "");
}
