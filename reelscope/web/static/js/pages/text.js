// On-screen text panel of the video page (text stage): the spans as marks on a track under the
// shot timeline and as a list with their times; clicking either seeks the player to the span's
// start. Spans on screen at the player's time are highlighted.

import { emptyState, h } from "../dom.js";
import { clock, plural } from "../format.js";

const EPS = 0.001;

/** { el, track, setTime(t) } for `video.text` (export schema) on a timeline of `total` seconds. */
export function textPanel(video, total, seek) {
  const text = video.text;
  if (!text) {
    const el = h("section.card.text-panel", h("h2", "On-screen text"),
      emptyState("No on-screen text analysed.", "Read it with the text stage (reelscope analyze VIDEO --stages text)."));
    return { el, track: null, setTime() {} };
  }
  if (text.disabled) {
    return { el: h("section.card.text-panel", h("h2", "On-screen text"),
      emptyState("On-screen text was switched off for this video (text.enabled=false).")), track: null, setTime() {} };
  }
  const spans = text.spans || [];
  const marks = spans.map((s, i) => h("button.text-mark", {
    type: "button", title: `${clock(s.start_time, 2)}–${clock(s.end_time, 2)}: ${s.text}`,
    "aria-label": `On-screen text "${s.text}" from ${clock(s.start_time)}; seek`,
    dataset: { index: String(i) },
    style: { left: `${(100 * s.start_time) / total}%`, width: `${(100 * Math.max(0, s.end_time - s.start_time)) / total}%`,
      top: `${(i % 3) * 6 + 1}px` },
    onclick: () => seek(s.start_time + EPS),
  }));
  const track = spans.length ? h("div.text-track", { role: "group", "aria-label": "On-screen text on the timeline" }, marks) : null;
  const items = spans.map((s, i) => h("li.text-span", { dataset: { index: String(i) } },
    h("button.link-button.text-time", { type: "button", onclick: () => seek(s.start_time + EPS),
      "aria-label": `Seek to ${clock(s.start_time)}, where "${s.text}" appears` },
    `${clock(s.start_time)}–${clock(s.end_time)}`),
    h("span.text-words", s.text),
    h("span.muted.text-meta", `${s.shot_index != null ? `shot ${s.shot_index + 1} · ` : ""}${Math.round(s.score * 100)}%`)));
  const el = h("section.card.text-panel",
    h("div.section-head", h("h2", "On-screen text"), h("span.muted", plural(spans.length, "span"))),
    spans.length ? h("ol.text-list", items) : emptyState("No on-screen text was read in this video."));
  let shown = "";
  function setTime(t) {
    const on = spans.map((s, i) => (s.start_time <= t + 1e-6 && t < s.end_time - 1e-6 ? i : -1)).filter((i) => i >= 0);
    const key = on.join(",");
    if (key === shown) return;
    shown = key;
    const set = new Set(on);
    marks.forEach((m, i) => m.classList.toggle("current", set.has(i)));
    items.forEach((m, i) => m.classList.toggle("current", set.has(i)));
  }
  return { el, track, setTime };
}
