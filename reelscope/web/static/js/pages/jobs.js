// Jobs: analyses running on the server, polled every second; cancel; start a new one.

import { api } from "../api.js";
import { clear, emptyState, errorBox, h } from "../dom.js";
import { date } from "../format.js";
import { jobForm } from "../jobform.js";
import { toast } from "../main.js";

const POLL_MS = 1000;
const ACTIVE = new Set(["queued", "running"]);

export async function render(root) {
  const body = h("div.jobs");
  const problem = h("div", { "aria-live": "polite" });
  const rows = new Map(); // job id -> {tr, parts}
  let tbody = null;
  let timer = 0;
  let stopped = false;

  root.append(
    h("div.page-head", h("div", h("h1", "Jobs"), h("p.summary", "Analyses on this server, newest first. Updated every second."))),
    h("div.two-col", h("section.main-col", problem, body), jobForm(() => poll())));

  function row(job) {
    const parts = {
      status: h("span.status"),
      bar: h("progress", { max: 1, value: 0 }),
      progressText: h("span.muted.progress-text"),
      result: h("td"),
      cancel: h("button.danger.small", { type: "button" }, "Cancel"),
      times: h("td.muted"),
    };
    parts.bar.setAttribute("aria-label", `Progress of ${job.source}`);
    parts.cancel.setAttribute("aria-label", `Cancel the analysis of ${job.source}`);
    parts.cancel.addEventListener("click", async () => {
      parts.cancel.disabled = true;
      try {
        const j = await api(`jobs/${encodeURIComponent(job.id)}/cancel`, { method: "POST" });
        toast(`Cancelling ${j.source}`);
        update(j);
      } catch (e) {
        toast(e.message, "error");
        parts.cancel.disabled = false;
      }
    });
    const tr = h("tr", { dataset: { job: job.id } },
      h("td", h("div.job-source", job.source), h("div.muted", `${job.stages.join(", ")}${job.force ? " · forced" : ""}`),
        h("div.muted.mono", job.id)),
      h("td", parts.status),
      h("td.progress-cell", parts.bar, parts.progressText),
      parts.times, parts.result, h("td", parts.cancel));
    return { tr, parts };
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
    const frac = job.status === "done" ? 1 : job.progress.total ? job.progress.done / job.progress.total : 0;
    if (job.status === "queued" || (job.status === "running" && !job.progress.total)) p.bar.removeAttribute("value");
    else p.bar.value = frac;
    p.progressText.textContent = job.status === "running"
      ? `${job.progress.stage || "starting"}${job.progress.total ? ` ${job.progress.done}/${job.progress.total} (${Math.round(frac * 100)}%)` : ""}`
      : job.status === "done" ? "100%" : "";
    p.times.textContent = `${date(job.created_at)}${job.started_at && job.finished_at ? ` · took ${seconds(job)}` : ""}`;
    clear(p.result,
      job.video_id ? h("a", { href: `/videos/${job.video_id}`, dataset: { link: "" } },
        job.outcome === "skipped" ? "Open video (already analysed)" : "Open video") : null,
      job.error ? h("span.error-text", job.error) : null);
    p.cancel.hidden = !ACTIVE.has(job.status);
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
            h("caption.sr-only", "Analysis jobs"),
            h("thead", h("tr", h("th", { scope: "col" }, "Video"), h("th", { scope: "col" }, "Status"),
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
