// Video page: player (with the transcript as a captions track), shot timeline coloured by shot
// size, keyframe strip, transcript, characters. Clicking a shot, a keyframe, a transcript line or
// a character's first appearance seeks the player; the current shot and line are highlighted
// while the video plays; ?t=12.3 seeks on load.

import { api, captionsUrl, mediaUrl, videoFileUrl } from "../api.js";
import { clear, emptyState, errorBox, h, loading } from "../dom.js";
import { SIZES, clock, duration, plural, sizeName, topExpression } from "../format.js";
import { navigate, setQuery, setTitle, toast } from "../main.js";
import { curvesPanel, summaryPanel } from "./story.js";
import { textPanel } from "./text.js";

const EPS = 0.001; // seek 1 ms into a shot so its own first frame shows (times are rounded to µs)

export async function render(root, [idText], query) {
  const id = Number(idText);
  root.append(loading());
  let video, characters, curves;
  try {
    [video, characters, curves] = await Promise.all([api(`videos/${id}`), api(`videos/${id}/characters`),
      api(`videos/${id}/curves`).catch(() => [])]);
  } catch (e) {
    clear(root, h("h1", "Video"), errorBox(e, `Could not load video ${id}`),
      h("p", h("a", { href: "/", dataset: { link: "" } }, "Back to the archive")));
    return;
  }
  setTitle(video.filename);
  const shots = video.shots || [];
  const total = Math.max(video.duration || 0, shots.length ? shots[shots.length - 1].end_time : 0) || 1;

  // ---- player -------------------------------------------------------------------------------
  const speech = video.speech && video.speech.available ? video.speech : null;
  const lines = speech ? speech.segments || [] : [];
  const player = h("video#player", { controls: true, preload: "metadata", playsinline: true,
    src: videoFileUrl(id), "aria-label": `Player: ${video.filename}` },
  // captions from the stored transcript (speech stage), shown by default
  lines.length ? h("track", { kind: "captions", src: captionsUrl(id), srclang: speech.language || "und",
    label: `Transcript${speech.language ? ` (${speech.language})` : ""}`, default: true }) : null);
  const playerMsg = h("div.player-msg");
  const nowPanel = h("div.now", { "aria-live": "off" });
  let pendingSeek = null;

  function seek(t, { play = false } = {}) {
    const target = Math.min(Math.max(0, t), total);
    if (player.readyState >= 1) player.currentTime = target;
    else pendingSeek = target; // before metadata: applied on loadedmetadata
    highlight(target);
    if (play) player.play().catch(() => {});
  }
  const shotSeek = (s) => seek(Math.min(s.start_time + EPS, (s.start_time + s.end_time) / 2));

  player.addEventListener("loadedmetadata", () => {
    if (pendingSeek !== null) {
      player.currentTime = pendingSeek;
      pendingSeek = null;
    }
  });
  player.addEventListener("error", () => explainPlayerError(id, playerMsg));
  player.addEventListener("seeked", () => setQuery({ t: player.currentTime.toFixed(2) }));
  player.addEventListener("pause", () => setQuery({ t: player.currentTime.toFixed(2) }));

  // ---- timeline -------------------------------------------------------------------------------
  const segs = shots.map((s) => {
    const size = s.size || "";
    const label = `Shot ${s.index + 1}: ${clock(s.start_time, 2)} to ${clock(s.end_time, 2)}, `
      + `${size ? `${size} (${sizeName(size)})` : "size unknown"}`
      + `${s.transition_in ? `, ${s.transition_in} in` : ""}`;
    const b = h("button.seg", {
      type: "button", title: label, "aria-label": label,
      dataset: { size: size || "none", index: String(s.index), start: String(s.start_time), end: String(s.end_time) },
      style: { left: `${(100 * s.start_time) / total}%`, width: `${(100 * (s.end_time - s.start_time)) / total}%` },
      onclick: () => shotSeek(s),
    }, h("span.seg-label", String(s.index + 1)));
    return b;
  });
  const playhead = h("div.playhead", { "aria-hidden": "true" });
  const timeline = h("div.timeline", { role: "group", "aria-label": "Shots on the timeline" }, segs, playhead);
  // per-video distribution: share of the running time in each shot size (the story view's summary)
  const sized = shots.filter((s) => s.size);
  const sizedTime = sized.reduce((a, s) => a + (s.end_time - s.start_time), 0);
  const share = (code) => {
    if (!sizedTime) return "";
    const t = sized.filter((s) => s.size === code).reduce((a, s) => a + (s.end_time - s.start_time), 0);
    return ` · ${Math.round((100 * t) / sizedTime)}%`;
  };
  const legend = h("ul.legend", { "aria-label": "Shot sizes and their share of the running time" },
    SIZES.map(([code, name]) => h("li", h("span.swatch", { dataset: { size: code } }), `${code} ${name}${share(code)}`)),
    h("li", h("span.swatch", { dataset: { size: "none" } }), "size unknown"));

  // ---- keyframes ----------------------------------------------------------------------------
  const kfButtons = [];
  for (const s of shots) {
    for (const k of s.keyframes || []) {
      const b = h("button.kf", {
        type: "button", dataset: { index: String(s.index) },
        "aria-label": `Keyframe of shot ${s.index + 1} at ${clock(k.time, 2)}`,
        onclick: () => seek(k.time + EPS),
      },
      h("img", { src: mediaUrl(k.image), alt: "", loading: "lazy", width: k.width, height: k.height }),
      h("span.kf-cap", h("b", `#${s.index + 1}`), ` ${clock(k.time)}`,
        s.size ? h("span.size-tag", { dataset: { size: s.size } }, s.size) : null));
      kfButtons.push(b);
    }
  }
  const strip = h("div.kf-strip", { role: "group", "aria-label": "Keyframes" }, kfButtons);

  // ---- characters ---------------------------------------------------------------------------
  const charCards = characters.map((c) => h("li.char-card",
    c.thumbnail ? h("img.face", { src: mediaUrl(c.thumbnail), alt: `Face of ${c.name || "unknown character " + (c.index + 1)}`, loading: "lazy" })
      : h("span.face.placeholder", { "aria-hidden": "true" }),
    h("div.char-body",
      h("div.char-name", c.name ? h("span.name", c.name) : h("span.unknown", "unknown"),
        c.naming !== "unknown" ? h("span.badge", { title: c.match_distance != null ? `distance ${c.match_distance}` : "" }, c.naming) : null),
      h("div.muted", `Screen time ${duration(c.screen_time)}`),
      topExpression(c.expressions) ? h("div.muted", `Mostly ${topExpression(c.expressions)}`) : null,
      h("button.link-button", { type: "button", onclick: () => seek(c.first_time + EPS),
        "aria-label": `Seek to the first appearance of ${c.name || "unknown character " + (c.index + 1)} at ${clock(c.first_time)}` },
      `First seen ${clock(c.first_time)}`))));

  // ---- transcript (speech stage) ----------------------------------------------------------------
  const lineButtons = lines.map((g) => h("li",
    h("button.t-line", { type: "button", dataset: { start: String(g.start_time), end: String(g.end_time) },
      "aria-label": `Seek to ${clock(g.start_time, 1)}: ${g.text}`, onclick: () => seek(g.start_time + EPS) },
    h("span.t-time", clock(g.start_time)),
    g.language && speech.languages && Object.keys(speech.languages).length > 1 ? h("span.badge", g.language) : null,
    h("span.t-text", g.text))));
  const transcriptList = h("ol.transcript", { "aria-label": "Transcript" }, lineButtons);

  // ---- story: curves under the timeline (pages/story.js) ---------------------------------------
  const story = curvesPanel(curves || [], total, (t) => seek(t));
  // ---- on-screen text: marks under the timeline and a list (pages/text.js) ------------------------
  const onScreen = textPanel(video, total, (t) => seek(t));

  // ---- page ---------------------------------------------------------------------------------
  const del = h("button.danger", { type: "button" }, "Delete from archive");
  del.addEventListener("click", async () => {
    if (!confirm(`Delete ${video.filename} and its shots, keyframes and characters from the archive? The source file stays.`)) return;
    try {
      await api(`videos/${id}`, { method: "DELETE" });
      toast(`${video.filename} deleted from the archive`);
      navigate("/");
    } catch (e) {
      toast(e.message, "error");
    }
  });
  const fps = String(video.fps).split("/").map(Number);
  clear(root,
    h("div.page-head",
      h("div", h("p.crumbs", h("a", { href: "/", dataset: { link: "" } }, "Archive"), " / "),
        h("h1", video.filename),
        h("p.summary", `${clock(video.duration)} · ${video.width}×${video.height} · `
          + `${fps[1] ? (fps[0] / fps[1]).toFixed(3).replace(/\.?0+$/, "") : video.fps} fps · `
          + `${plural(shots.length, "shot")} · ${plural((video.transitions || []).length, "transition")} · `
          + `${plural(characters.length, "character")}`)),
      h("div.actions", del)),
    h("section.player-wrap", h("div.player-col", player, playerMsg), nowPanel),
    h("section.card",
      h("div.section-head", h("h2#shots-h", "Shots"), legend),
      shots.length ? [timeline, onScreen.track, axis(total), story.el] : emptyState("No shots stored for this video.",
        "Analyse it with the shots stage.")),
    summaryPanel(id, video, curves || [], (t) => seek(t)),
    onScreen.el,
    h("section.card", h("h2", "Keyframes"),
      kfButtons.length ? strip : emptyState("No keyframes stored.", "Analyse the video with the keyframes stage.")),
    h("section.card#transcript",
      h("div.section-head", h("h2", "Transcript"),
        speech ? h("p.muted", `${plural(lines.length, "line")} · ${speech.language || "language unknown"}`
          + `${speech.model ? ` · ${speech.model}` : ""} · `, h("a", { href: captionsUrl(id), download: "" }, "WebVTT")) : null),
      lines.length ? transcriptList : emptyState(video.speech ? (video.speech.available ? "No speech was found."
        : `No transcript: ${video.speech.reason || "not transcribed"}.`) : "No transcript stored.",
      "Speech is transcribed by the speech stage (reelscope analyze --stages speech).")),
    h("section.card",
      h("div.section-head", h("h2", "Characters"),
        characters.length ? h("a", { href: `/characters?video=${id}`, dataset: { link: "" } }, "Name, merge or split them →") : null),
      characters.length ? h("ul.char-grid", charCards)
        : emptyState("No characters in this video.", "Faces are found by the faces stage (reelscope analyze --stages shots,keyframes,faces).")));

  // ---- current shot --------------------------------------------------------------------------
  let current = -2;
  function shotAt(t) {
    // binary search: the last shot starting at or before t
    let lo = 0;
    let hi = shots.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (shots[mid].start_time <= t + 1e-6) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans >= 0 && t <= shots[ans].end_time + 1e-6 ? ans : -1;
  }
  function highlight(t) {
    playhead.style.left = `${Math.min(100, (100 * t) / total)}%`;
    story.setTime(t);
    if (lines.length) highlightLine(t);
    onScreen.setTime(t);
    const i = shotAt(t);
    if (i === current) return;
    current = i;
    segs.forEach((b, k) => {
      b.classList.toggle("current", k === i);
      if (k === i) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    });
    let first = null;
    for (const b of kfButtons) {
      const on = Number(b.dataset.index) === i;
      b.classList.toggle("current", on);
      if (on && !first) first = b;
    }
    if (first && !player.paused) {
      const left = first.offsetLeft - strip.offsetLeft;
      if (left < strip.scrollLeft || left + first.offsetWidth > strip.scrollLeft + strip.clientWidth) {
        strip.scrollTo({ left: left - 16, behavior: "smooth" });
      }
    }
    showNow(i);
  }
  let currentLine = -2;
  function highlightLine(t) {
    let k = -1;
    for (let j = 0; j < lines.length; j += 1) {
      if (lines[j].start_time <= t + 1e-6 && t < lines[j].end_time + 0.05) { k = j; break; }
    }
    if (k === currentLine) return;
    currentLine = k;
    lineButtons.forEach((li, j) => li.firstChild.classList.toggle("current", j === k));
  }
  function showNow(i) {
    if (i < 0) {
      clear(nowPanel, h("h2", "Current shot"), h("p.muted", shots.length ? "—" : "No shots"));
      return;
    }
    const s = shots[i];
    const kf = (s.keyframes || [])[0];
    clear(nowPanel,
      h("h2", `Shot ${s.index + 1} of ${shots.length}`),
      kf ? h("img.now-kf", { src: mediaUrl(kf.image), alt: `Keyframe of shot ${s.index + 1}` }) : null,
      h("dl.facts",
        h("dt", "Time"), h("dd", `${clock(s.start_time, 2)} – ${clock(s.end_time, 2)}`),
        h("dt", "Frames"), h("dd", `${s.start_frame} – ${s.end_frame} (${s.frame_count})`),
        h("dt", "Timecode"), h("dd", s.start_timecode),
        h("dt", "Size"), h("dd", s.size ? h("span", h("span.size-tag", { dataset: { size: s.size } }, s.size), ` ${sizeName(s.size)}`
          + (s.size_confidence != null ? ` (${Math.round(s.size_confidence * 100)}%)` : "")) : "unknown"),
        h("dt", "In / out"), h("dd", `${s.transition_in || "start"} / ${s.transition_out || "end"}`)));
    // COCO objects tracked in this shot (objects stage): class names, most tracks first
    const objs = ((video.objects || {}).tracks || []).filter((t) => t.shot_index === s.index);
    if (objs.length) {
      const counts = {};
      for (const t of objs) counts[t.label] = (counts[t.label] || 0) + 1;
      const text = Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([l, n]) => (n > 1 ? `${l} ×${n}` : l));
      nowPanel.querySelector("dl.facts").append(h("dt", "Objects"), h("dd.shot-objects", text.join(", ")));
    }
    // later stages' per-shot results: mood, importance, emotion, ImageNet tags (shown when analysed)
    const facts = nowPanel.querySelector("dl.facts");
    if (s.mood) facts.append(h("dt", "Mood"), h("dd.shot-mood", s.mood
      + (s.mood_confidence != null ? ` (${Math.round(s.mood_confidence * 100)}%)` : "")));
    if (s.importance != null) facts.append(h("dt", "Importance"), h("dd.shot-importance", s.importance.toFixed(2)));
    if (s.emotion && s.emotion.dominant && s.emotion.dominant !== "none") {
      facts.append(h("dt", "Emotion"), h("dd.shot-emotion", `${s.emotion.dominant} (valence ${s.emotion.valence.toFixed(2)}, `
        + `arousal ${s.emotion.arousal.toFixed(2)})`));
    }
    const tags = (s.tags || []).filter((t) => t.source === "imagenet").slice(0, 4);
    if (tags.length) {
      facts.append(h("dt", "Tags"), h("dd.shot-tags", ...tags.map((t, k) => h("a", {
        href: `/search?tag=${encodeURIComponent(t.label)}`, title: `${Math.round(t.score * 100)}%` }, (k ? ", " : "") + t.label))));
    }
  }

  let raf = 0;
  const tick = () => {
    highlight(player.currentTime);
    raf = player.paused ? 0 : requestAnimationFrame(tick);
  };
  player.addEventListener("play", () => { if (!raf) raf = requestAnimationFrame(tick); });
  player.addEventListener("timeupdate", () => highlight(player.currentTime));
  player.addEventListener("seeking", () => highlight(player.currentTime));

  const t0 = Number(query.get("t"));
  if (query.has("t") && Number.isFinite(t0)) seek(t0);
  else highlight(0);

  return () => {
    cancelAnimationFrame(raf);
    player.pause();
    player.removeAttribute("src");
    player.load(); // stop streaming when leaving the page
  };
}

function axis(total) {
  const steps = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  const step = steps.find((s) => total / s <= 8) || 7200;
  const ticks = [];
  for (let t = 0; t <= total + 1e-9; t += step) {
    ticks.push(h("span.tick", { style: { left: `${(100 * t) / total}%` } }, clock(t, step < 1 ? 1 : 0)));
  }
  return h("div.axis", { "aria-hidden": "true" }, ticks);
}

async function explainPlayerError(id, box) {
  let msg = "This browser cannot play this video (its codec or container); shots, keyframes and characters below still work.";
  try {
    const res = await fetch(videoFileUrl(id), { headers: { Range: "bytes=0-0" } });
    if (!res.ok) {
      const body = await res.json().catch(() => null);
      msg = `The video cannot be played: ${(body && body.detail) || `HTTP ${res.status}`}`;
    }
  } catch (e) {
    msg = `The video cannot be played: ${e.message}`;
  }
  clear(box, errorBox(msg));
}
