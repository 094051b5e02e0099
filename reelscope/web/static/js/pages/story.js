// Story panels of the video page: the importance and emotion curves under the shot timeline
// (plain SVG on the timeline's time axis; click to seek), and the Summary panel (make a highlight
// summary of N seconds on the server, play it, jump to its segments in the main player).

import { api } from "../api.js";
import { clear, emptyState, errorBox, h } from "../dom.js";
import { clock, plural } from "../format.js";
import { follow, progressLine } from "../jobstatus.js";

const NS = "http://www.w3.org/2000/svg";
const W = 1000; // viewBox width: time maps to 0..W
const H = 100;

export const SERIES = [
  { name: "importance", label: "Importance", color: "#d9480f", lo: 0, hi: 1 },
  { name: "emotion.arousal", label: "Arousal", color: "#2f80ed", lo: 0, hi: 1 },
  { name: "emotion.valence", label: "Valence", color: "#2b8a3e", lo: -1, hi: 1 },
];

function svg(tag, attrs = {}) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** Polyline point lists of a curve (a gap where a value is null). */
function paths(curve, spec, total) {
  const out = [];
  let cur = [];
  curve.values.forEach((v, i) => {
    if (v === null || v === undefined || !Number.isFinite(v)) {
      if (cur.length) out.push(cur);
      cur = [];
      return;
    }
    const t = curve.t0 + (i + 0.5) * curve.step;
    const x = Math.min(W, (W * t) / total);
    const y = H - (H * (Math.min(spec.hi, Math.max(spec.lo, v)) - spec.lo)) / (spec.hi - spec.lo);
    cur.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  });
  if (cur.length) out.push(cur);
  return out;
}

/**
 * The curves chart: { el, setTime(t) }. `curves` as /api/videos/{id}/curves answers them;
 * `seek(t)` is called when the chart is clicked.
 */
export function curvesPanel(curves, total, seek) {
  const byName = Object.fromEntries(curves.map((c) => [c.name, c]));
  const shown = SERIES.filter((s) => byName[s.name] && byName[s.name].values.length);
  if (!shown.length) {
    return { el: h("p.muted.curves-empty", "No emotion or importance curves yet: analyse with the importance stage "
      + "(reelscope analyze VIDEO --stages importance)."), setTime() {} };
  }
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", class: "curves-svg",
    role: "img", "aria-label": `Curves over time: ${shown.map((s) => s.label).join(", ")}` });
  chart.append(svg("line", { x1: 0, x2: W, y1: H / 2, y2: H / 2, class: "curves-mid" }));
  const groups = {};
  for (const spec of shown) {
    const g = svg("g", { "data-curve": spec.name });
    for (const pts of paths(byName[spec.name], spec, total)) {
      g.append(svg("polyline", { points: pts.join(" "), fill: "none", stroke: spec.color, "stroke-width": 2,
        "vector-effect": "non-scaling-stroke", "stroke-linejoin": "round" }));
    }
    groups[spec.name] = g;
    chart.append(g);
  }
  const head = svg("line", { x1: 0, x2: 0, y1: 0, y2: H, class: "curves-head" });
  chart.append(head);
  chart.addEventListener("click", (e) => {
    const r = chart.getBoundingClientRect();
    if (r.width > 0) seek(((e.clientX - r.left) / r.width) * total);
  });
  const legend = h("ul.legend.curves-legend", { "aria-label": "Curves" }, shown.map((spec) => {
    const box = h("input", { type: "checkbox", checked: true, "aria-label": `Show ${spec.label}`,
      onchange: () => { groups[spec.name].style.display = box.checked ? "" : "none"; } });
    box.checked = true;
    return h("li", h("label", box, h("span.swatch", { style: { background: spec.color } }), ` ${spec.label}`
      + (spec.name === "emotion.valence" ? " (−1…1, midline 0)" : " (0…1)")));
  }));
  const el = h("div.curves", h("div.curves-chart", chart), legend);
  return {
    el,
    setTime(t) {
      const x = Math.min(W, Math.max(0, (W * t) / total)).toFixed(1);
      head.setAttribute("x1", x);
      head.setAttribute("x2", x);
    },
  };
}

/** The Summary card: make a summary of N seconds, play it, list earlier ones. */
export function summaryPanel(videoId, video, curves, seekMain) {
  const hasImportance = curves.some((c) => c.name === "importance");
  const dur = Number(video.duration) || 0;
  const input = h("input#summary-seconds", { type: "number", min: "1", step: "1", max: String(Math.max(1, Math.floor(dur))),
    value: String(Math.max(1, Math.min(60, Math.round(dur * 0.15)))), "aria-label": "Summary length in seconds" });
  const make = h("button.primary#summary-make", { type: "submit" }, "Make summary");
  const status = h("p.status-line", { role: "status" });
  const player = h("video#summary-player", { controls: true, preload: "metadata", playsinline: true, hidden: true,
    "aria-label": "Summary player" });
  const segList = h("ol.summary-segments");
  const list = h("ul.summary-list");

  function show(s) {
    player.hidden = !s.url;
    if (s.url) player.src = s.url;
    clear(segList, (s.segments || []).map((sg, k) => h("li", h("button.link-button", { type: "button",
      onclick: () => seekMain(sg.start_time + 0.001),
      "aria-label": `Segment ${k + 1}: shot ${sg.shot + 1} from ${clock(sg.start_time)} in the video` },
    `${clock(sg.start_time)}–${clock(sg.end_time)}`), ` shot ${sg.shot + 1} · importance ${Number(sg.score).toFixed(2)}`)));
  }
  function renderList(items) {
    clear(list, items.map((s) => h("li", h("button.link-button", { type: "button", onclick: () => show(s) },
      `Summary ${s.id}: ${s.seconds.toFixed(1)} s`), ` · ${plural(s.segments.length, "segment")}`
      + ` · asked ${s.params && s.params.length ? s.params.length : `${s.target_seconds.toFixed(0)} s`}`)));
  }
  async function refresh() {
    try {
      const items = await api(`videos/${videoId}/summaries`);
      renderList(items);
      if (items.length && player.hidden) show(items[items.length - 1]);
    } catch (e) {
      clear(list, errorBox(e, "Could not load summaries"));
    }
  }
  const form = h("form.summary-form", {
    onsubmit: async (e) => {
      e.preventDefault();
      const secs = Number(input.value);
      if (!Number.isFinite(secs) || secs <= 0) {
        clear(status, errorBox("Enter a length in seconds"));
        return;
      }
      make.disabled = true;
      clear(status, `Making a ${secs} s summary…`);
      try {
        // a job on the server (it shows on the Jobs page too): follow it, then load what it made
        const job = await api(`videos/${videoId}/summaries`, { method: "POST", body: { length: `${secs}s` } });
        const ended = await follow(job.id, (j) => clear(status, `Making a ${secs} s summary: ${progressLine(j)}`));
        if (ended.status !== "done") throw new Error(ended.error || `the summary job was ${ended.status}`);
        const s = await api(`summaries/${ended.result.summary_id}`);
        clear(status, `Summary ${s.id}: ${plural(s.segments.length, "segment")}, ${s.seconds.toFixed(1)} s.`);
        show(s);
        refresh();
      } catch (err) {
        clear(status, errorBox(err, "Could not make the summary"));
      } finally {
        make.disabled = false;
      }
    },
  }, h("label", { for: "summary-seconds" }, "Length (seconds)"), input, make);
  if (!hasImportance) {
    return h("section.card.summary-card", h("h2", "Summary"),
      emptyState("No importance stored for this video.", "Highlight summaries need the importance stage: "
        + "reelscope analyze VIDEO --stages importance."));
  }
  refresh();
  return h("section.card.summary-card", h("h2", "Summary"),
    h("p.muted", "Keyshots chosen by importance (emotion, motion, faces, shot size, novelty) under the length, "
      + "joined with short crossfades."),
    form, status, h("div.summary-body", player, segList), h("h3", "Summaries of this video"), list);
}
