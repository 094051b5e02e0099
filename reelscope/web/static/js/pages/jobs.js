// Jobs: every long operation of the server (analyses, summaries, slideshows), polled every second:
// overall progress, current stage and time left; one sentence for a failure (the traceback behind
// "Details"); cancel, resume; start a new analysis.

import { api } from "../api.js";
import { clear, emptyState, errorBox, h } from "../dom.js";
import { date } from "../format.js";
import { jobForm } from "../jobform.js";
import { KIND_NAMES, progressLine } from "../jobstatus.js";
import { toast } from "../main.js";

const POLL_MS = 1000;

export async function render(root) {
  const body = h("div.jobs");
  const problem = h("div", { "aria-live": "polite" });
  const rows = new Map(); // job id -> {tr, parts, key}
  let tbody = null;
  let timer = 0;
  let stopped = false;

  root.append(
    h("div.page-head", h("div", h("h1", "Jobs"),
      h("p.summary", "Analyses, summaries and slideshows on this server, newest first. Updated every second; "
        + "jobs survive a restart of the server."))),
    h("div.two-col", h("section.main-col", problem, body), jobForm(() => poll())));

  async function act(job, what, button) {
    button.disabled = true;
    try {
      const j = await api(`jobs/${encodeURIComponent(job.id)}/${what}`, { method: "POST" });
      toast(what === "cancel" ? `Cancelling ${j.source}` : `${j.source} queued again`);
      update(j);
    } catch (e) {
      toast(e.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  function row(job) {
    const parts = {
      status: h("span.status"),
      bar: h("progress", { max: 100, value: 0 }),
      progressText: h("span.muted.progress-text"),
      result: h("td.job-result"),
      cancel: h("button.danger.small", { type: "button" }, "Cancel"),
      resume: h("button.small", { type: "button" }, "Resume"),
      times: h("td.muted"),
      note: h("div.muted.job-note"),
    };
    const kind = KIND_NAMES[job.kind] || job.kind;
    parts.bar.setAttribute("aria-label", `Progress of ${kind.toLowerCase()} ${job.source}`);
    parts.cancel.setAttribute("aria-label", `Cancel ${kind.toLowerCase()} of ${job.source}`);
    parts.resume.setAttribute("aria-label", `Resume ${kind.toLowerCase()} of ${job.source}`);
    parts.cancel.addEventListener("click", () => act(job, "cancel", parts.cancel));
    parts.resume.addEventListener("click", () => act(job, "resume", parts.resume));
    const what = job.kind === "analysis" ? `${job.stages.join(", ")}${job.force ? " · forced" : ""}` : null;
    const tr = h("tr", { dataset: { job: job.id, kind: job.kind } },
      h("td", h("div.job-kind.muted", kind), h("div.job-source", job.source), what ? h("div.muted", what) : null,
        parts.note, h("div.muted.mono", job.id)),
      h("td", parts.status),
      h("td.progress-cell", parts.bar, parts.progressText),
      parts.times, parts.result, h("td.job-actions", parts.cancel, parts.resume));
    return { tr, parts, key: "" };
  }

  function resultOf(job) {
    if (job.status === "failed") {
      return [h("p.error-text.job-error", job.error || "Failed."),
        job.detail ? h("details.job-detail", h("summary", "Details"), h("pre", job.detail)) : null];
    }
    if (job.status !== "done") return [];
    const r = job.result || {};
    if (job.kind === "analysis" && job.video_id) {
      return h("a", { href: `/videos/${job.video_id}`, dataset: { link: "" } },
        job.outcome === "skipped" ? "Open video (already analysed)" : "Open video");
    }
    if (job.kind === "summary" && job.video_id) {
      return [h("a", { href: `/videos/${job.video_id}`, dataset: { link: "" } }, "Open video"),
        job.url && r.media ? [" · ", h("a", { href: job.url }, `Play summary ${r.summary_id}`)] : null];
    }
    if (job.kind === "slideshow" && job.url) return h("a", { href: job.url }, "Play slideshow");
    return [];
  }

  function update(job) {
    let r = rows.get(job.id);
    if (!r) {
      r = row(job);
      rows.set(job.id, r);
    }
    const p = r.parts;
    p.status.textContent = job.status;
    p.status.className = `status ${job.status}`;
    // a bar only where it tells something: running (overall %), interrupted (where it stopped)
    p.bar.hidden = !["running", "interrupted", "queued"].includes(job.status);
    if (job.status === "queued") p.bar.removeAttribute("value");
    else p.bar.value = job.progress.percent || 0;
    p.progressText.textContent = progressLine(job);
    p.note.textContent = job.note || "";
    p.note.hidden = !job.note;
    const took = job.started_at && job.finished_at ? ` · took ${seconds(job)}` : "";
    p.times.textContent = `${date(job.created_at)}${took}`;
    const key = `${job.status}|${job.url}|${job.error}|${Boolean(job.detail)}`;
    if (key !== r.key) { // rebuilt only when it changes: an open "Details" stays open
      r.key = key;
      clear(p.result, resultOf(job));
    }
    p.cancel.hidden = !job.can_cancel;
    p.resume.hidden = !job.can_resume;
  }

  async function poll() {
    clearTimeout(timer);
    try {
      const jobs = await api("jobs");
      if (stopped) return;
      clear(problem);
      if (!jobs.length) {
        rows.clear();
        tbody = null;
        clear(body, emptyState("No jobs yet.", "Start an analysis with the form on this page or on the Archive page."));
      } else {
        if (!tbody) {
          tbody = h("tbody");
          clear(body, h("div.table-wrap", h("table.data.jobs-table",
            h("caption.sr-only", "Jobs"),
            h("thead", h("tr", h("th", { scope: "col" }, "Job"), h("th", { scope: "col" }, "Status"),
              h("th", { scope: "col" }, "Progress"), h("th", { scope: "col" }, "Submitted"),
              h("th", { scope: "col" }, "Result"), h("th", { scope: "col" }, h("span.sr-only", "Actions")))),
            tbody)));
        }
        const seen = new Set();
        jobs.forEach((j, i) => {
          update(j);
          seen.add(j.id);
          const tr = rows.get(j.id).tr;
          if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null); // keeps focus on kept rows
        });
        for (const [id, r] of rows) {
          if (!seen.has(id)) {
            r.tr.remove();
            rows.delete(id);
          }
        }
      }
    } catch (e) {
      if (stopped) return;
      clear(problem, errorBox(e, "Could not load the jobs (retrying)"));
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  }

  await poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function seconds(job) {
  const s = (new Date(job.finished_at) - new Date(job.started_at)) / 1000;
  return Number.isFinite(s) ? `${s.toFixed(1)} s` : "";
}
