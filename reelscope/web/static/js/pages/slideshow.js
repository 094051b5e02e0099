// Slideshow: pictures (a video's keyframes, a character's best moments, or uploaded images) grouped
// by mood, each group with music of the same mood. Preview the plan, render, play, download.

import { api, mediaUrl, upload } from "../api.js";
import { clear, emptyState, errorBox, field, h, uid } from "../dom.js";
import { clock } from "../format.js";
import { progressLine } from "../jobstatus.js";
import { toast } from "../main.js";

const POLL_MS = 1000;
const ACTIVE = new Set(["queued", "running", "interrupted"]); // jobs of the server's one job runner
const SIZES = [
  ["720p", "Landscape 16:9 · 1280×720"],
  ["1080p", "Landscape 16:9 · 1920×1080"],
  ["9:16@720", "Vertical 9:16 · 720×1280"],
  ["9:16", "Vertical 9:16 · 1080×1920"],
  ["1:1@720", "Square 1:1 · 720×720"],
];
const MOOD_COLOURS = {
  happy: "#f5b700", excited: "#f07b00", intense: "#d1342f", tense: "#8e2f6f",
  sad: "#3d5a98", gloomy: "#4a5560", calm: "#3c8d8a", relaxed: "#6aa84f",
};
const PHASES = { images: "Reading the pictures' moods", music: "Analysing the music", render: "Rendering" };

export async function render(root, _params, query) {
  let stopped = false;
  let timer = 0;
  let job = null;
  const localThumbs = new Map(); // uploaded file name -> object URL

  const status = h("div.form-status", { "aria-live": "polite" });
  const planBox = h("div", { "aria-live": "polite" });
  const resultBox = h("div");

  // ---- the form -------------------------------------------------------------------------------
  const srcName = uid("src");
  const radios = ["keyframes", "character", "upload"].map((v, i) =>
    h("input", { type: "radio", name: srcName, value: v, id: uid("r"), checked: i === 0 }));
  const videoSel = h("select", { name: "video" }, h("option", { value: "" }, "loading videos…"));
  const charSel = h("select", { name: "character" });
  const files = h("input", { type: "file", name: "files", multiple: true, accept: "image/*" });
  const musicSel = h("select", { name: "music" }, h("option", { value: "" }, "loading music folders…"));
  const musicText = h("input", { type: "text", name: "music-path", placeholder: "/srv/music", spellcheck: "false" });
  const length = h("input", { type: "number", name: "length", min: 1, max: 3600, step: 1, value: 60 });
  const perImage = h("input", { type: "number", name: "per-image", min: 1, max: 120, step: 0.5, placeholder: "4" });
  const sizeSel = h("select", { name: "size" }, SIZES.map(([v, t]) => h("option", { value: v }, t)));
  const orderSel = h("select", { name: "order" },
    h("option", { value: "mood" }, "Mood neighbours"), h("option", { value: "time" }, "Time"),
    h("option", { value: "faces" }, "Faces first"));
  const fitSel = h("select", { name: "fit" },
    h("option", { value: "cover" }, "Fill the frame"), h("option", { value: "contain" }, "Show all (letterbox)"));

  const [videoRow] = field("Video", videoSel);
  const [charRow] = field("Character", charSel, "Their largest, most expressive moments.");
  const [filesRow] = field("Images", files, "Unreadable images are skipped and listed.");
  const [musicRow] = field("Music folder on the server", musicSel);
  const [musicTextRow] = field("Music folder on the server", musicText,
    "A folder under one the server allows (reelscope serve --allow).");
  const previewBtn = h("button", { type: "button" }, "Preview plan");
  const renderBtn = h("button.primary", { type: "submit" }, "Render");
  const form = h("form.job-form", { "aria-label": "Make a slideshow" },
    h("fieldset.source", h("legend", "Pictures"),
      h("label.inline", radios[0], " A video's keyframes"),
      h("label.inline", radios[1], " A character's moments"),
      h("label.inline", radios[2], " Upload images")),
    videoRow, charRow, filesRow, musicRow, musicTextRow,
    h("div.row", field("Length (s)", length)[0], field("Per picture (s)", perImage)[0]),
    field("Size", sizeSel)[0], h("div.row", field("Order", orderSel)[0], field("Fit", fitSel)[0]),
    h("div.row", previewBtn, renderBtn), status);

  const mode = () => radios.find((r) => r.checked).value;
  const sync = () => {
    videoRow.hidden = mode() === "upload";
    charRow.hidden = mode() !== "character";
    filesRow.hidden = mode() !== "upload";
  };
  radios.forEach((r) => r.addEventListener("change", sync));
  sync();

  root.append(
    h("div.page-head", h("div", h("h1", "Slideshow"),
      h("p.summary", "Pictures grouped by mood, each group with music of the same mood. Pictures fade in and out "
        + "and the music's volume follows the same curve."))),
    h("div.two-col", h("section.main-col", planBox, resultBox), h("section.card", h("h2", "Make a slideshow"), form)));

  // ---- choices from the server ------------------------------------------------------------------
  async function loadVideos() {
    try {
      const page = await api("videos", { query: { limit: 1000 } });
      clear(videoSel, page.items.length ? null : h("option", { value: "" }, "no videos in the archive"),
        page.items.map((v) => h("option", { value: v.id }, `${v.filename} (${v.shots} shots)`)));
      const want = query.get("video");
      if (want) videoSel.value = want;
      await loadCharacters();
    } catch (e) {
      clear(videoSel, h("option", { value: "" }, "videos unavailable"));
      status.append(errorBox(e, "Could not list the videos"));
    }
  }
  async function loadCharacters() {
    clear(charSel);
    if (!videoSel.value) return;
    try {
      const chars = await api(`videos/${encodeURIComponent(videoSel.value)}/characters`);
      clear(charSel, chars.length ? null : h("option", { value: "" }, "no characters (run the faces stage)"),
        chars.map((c) => h("option", { value: c.id }, `${c.name || `Character ${c.index}`} · ${c.screen_time.toFixed(1)} s`)));
    } catch (e) {
      clear(charSel, h("option", { value: "" }, "characters unavailable"));
    }
  }
  videoSel.addEventListener("change", loadCharacters);
  async function loadMusic() {
    try {
      const folders = await api("slideshows/music-folders");
      clear(musicSel, folders.map((f) => h("option", { value: f.path }, `${f.path} (${f.tracks} tracks)`)));
      musicRow.hidden = !folders.length;
      musicTextRow.hidden = Boolean(folders.length);
    } catch (e) {
      musicRow.hidden = true;
      musicTextRow.hidden = false;
    }
  }
  files.addEventListener("change", () => {
    for (const url of localThumbs.values()) URL.revokeObjectURL(url);
    localThumbs.clear();
    for (const f of files.files) localThumbs.set(f.name, URL.createObjectURL(f));
  });

  // ---- submit ---------------------------------------------------------------------------------
  function options(renderNow) {
    const music = musicRow.hidden ? musicText.value.trim() : musicSel.value;
    if (!music) throw new Error("choose a music folder");
    const o = { music, order: orderSel.value, size: sizeSel.value, fit: fitSel.value, render: renderNow };
    if (length.value) o.length = Number(length.value);
    if (perImage.value) o.per_image = Number(perImage.value);
    if (mode() !== "upload") {
      if (!videoSel.value) throw new Error("choose a video");
      o.video_id = Number(videoSel.value);
      if (mode() === "character") {
        if (!charSel.value) throw new Error("choose a character");
        o.character = charSel.value;
      }
    }
    return o;
  }

  async function start(renderNow) {
    clear(status);
    clear(resultBox);
    try {
      const o = options(renderNow);
      previewBtn.disabled = renderBtn.disabled = true;
      if (mode() === "upload") {
        if (!files.files.length) throw new Error("choose images to upload");
        const fd = new FormData();
        for (const f of files.files) fd.append("files", f, f.name);
        fd.append("options", JSON.stringify(o));
        const bar = h("progress", { max: 1, value: 0, "aria-label": "upload progress" });
        status.append(h("span", "Uploading… "), bar);
        job = await upload("slideshows", fd, (x) => (bar.value = x));
      } else {
        job = await api("slideshows", { method: "POST", body: o });
      }
      toast(renderNow ? "Slideshow started" : "Planning the slideshow");
      poll();
    } catch (e) {
      clear(status, errorBox(e, "Could not start the slideshow"));
      previewBtn.disabled = renderBtn.disabled = false;
    }
  }
  previewBtn.addEventListener("click", () => start(false));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (job && job.status === "planned") renderPlanned();
    else start(true);
  });

  async function renderPlanned() {
    try {
      renderBtn.disabled = previewBtn.disabled = true;
      job = await api(`slideshows/${job.id}/render`, { method: "POST", body: { size: sizeSel.value, fit: fitSel.value } });
      poll();
    } catch (e) {
      clear(status, errorBox(e, "Could not render"));
      renderBtn.disabled = previewBtn.disabled = false;
    }
  }

  // ---- progress, plan, result -------------------------------------------------------------------
  async function poll() {
    clearTimeout(timer);
    if (!job || stopped) return;
    try {
      job = await api(`slideshows/${encodeURIComponent(job.id)}`);
    } catch (e) {
      clear(status, errorBox(e, "Lost track of the slideshow (retrying)"));
      timer = setTimeout(poll, POLL_MS * 3);
      return;
    }
    if (stopped) return;
    showStatus();
    if (job.plan) showPlan(job.plan);
    if (ACTIVE.has(job.status)) {
      timer = setTimeout(poll, POLL_MS);
      return;
    }
    previewBtn.disabled = renderBtn.disabled = false;
    renderBtn.textContent = job.status === "planned" ? "Render this plan" : "Render";
    if (job.status === "done") showResult();
  }

  function showStatus() {
    const p = job.progress || {};
    const bar = h("progress", { max: 100, "aria-label": "slideshow progress" });
    if (job.status === "running") bar.value = p.percent || 0;
    const cancel = h("button.danger.small", { type: "button" }, "Cancel");
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      try {
        job = await api(`slideshows/${job.id}/cancel`, { method: "POST" });
        showStatus();
      } catch (e) {
        toast(e.message, "error");
      }
    });
    const active = ACTIVE.has(job.status);
    clear(status,
      h("p", h("span.status", { class: job.status }, job.status),
        active ? ` ${progressLine({ ...job, progress: { ...p, stage: PHASES[p.phase] || p.phase } })}` : "",
        job.status === "planned" ? " — look at the plan, then render it (any size)." : ""),
      active ? h("div.row", bar, cancel) : null,
      job.status === "planned" ? h("div.row", cancel) : null,
      job.error ? errorBox(job.error) : null);
  }

  function thumbOf(slot) {
    if (slot.thumbnail) return mediaUrl(slot.thumbnail);
    return localThumbs.get(slot.name) || null;
  }

  function showPlan(plan) {
    const groups = plan.groups.map((g) => {
      const colour = MOOD_COLOURS[g.mood] || "#888";
      return h("section.card.mood-group", { dataset: { mood: g.mood }, style: { borderLeft: `6px solid ${colour}` } },
        h("div.section-head",
          h("h3", { style: { margin: 0 } }, h("span.badge", g.mood), ` ${clock(g.start)} – ${clock(g.end)}`),
          h("span.muted.track", `♪ ${g.track.name} (${g.track.mood}${g.track.tempo ? `, ${Math.round(g.track.tempo)} BPM` : ""})`
            + (g.beat_aligned ? " · cuts on the beat" : ""))),
        h("div.kf-strip", g.slots.map((s) => {
          const src = thumbOf(s);
          return h("figure.kf", { style: { margin: 0 } },
            src ? h("img", { src, alt: s.name, loading: "lazy" }) : h("div", { style: { height: "94px", background: "#e4e7ec" } }),
            h("figcaption.kf-cap", h("b", clock(s.start)), ` ${s.mood} · ${s.name}`));
        })));
    });
    const skipped = plan.errors && plan.errors.length
      ? h("details.card", h("summary", `${plan.errors.length} input(s) skipped`), h("ul", plan.errors.map((e) => h("li", e))))
      : null;
    clear(planBox,
      h("div.section-head", h("h2", "Plan"),
        h("span.muted", `${plan.images} pictures · ${clock(plan.duration)} · ${plan.groups.length} mood group(s)`
          + (plan.dropped.length ? ` · ${plan.dropped.length} left out to fit` : ""))),
      skipped, groups);
  }

  function showResult() {
    const url = job.video_url;
    clear(resultBox, h("section.card",
      h("h2", "Slideshow"),
      h("video", { controls: true, src: url, preload: "metadata", style: { width: "100%", maxHeight: "70vh", background: "#000" } }),
      h("p.row", h("a", { href: `${url}?download=true`, download: `slideshow-${job.id}.mp4` }, "Download mp4"),
        job.result ? h("span.muted", `${job.result.width}×${job.result.height}, ${job.result.duration.toFixed(1)} s, `
          + `rendered in ${job.result.seconds.toFixed(1)} s`) : null)));
  }

  clear(planBox, emptyState("No plan yet.", "Choose pictures and a music folder, then preview the plan or render."));
  await Promise.all([loadVideos(), loadMusic()]);
  return () => {
    stopped = true;
    clearTimeout(timer);
    for (const url of localThumbs.values()) URL.revokeObjectURL(url);
  };
}
