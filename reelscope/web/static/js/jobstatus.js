// How a job reads to people (one vocabulary for the Jobs page and the pages that start jobs),
// and following one job until it ends.

import { api } from "./api.js";

export const ENDED = new Set(["done", "failed", "cancelled"]);
export const KIND_NAMES = { analysis: "Analysis", summary: "Summary", slideshow: "Slideshow", batch: "Batch" };

/** 75 -> "1 min 15 s"; null when unknown. */
export function eta(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return null;
  const s = Math.max(0, Math.round(Number(seconds)));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s - m * 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** "42% · faces · about 1 min 10 s left", or what a job that is not running is waiting for. */
export function progressLine(job) {
  const p = job.progress || {};
  const pct = `${Math.floor(p.percent || 0)}%`;
  switch (job.status) {
    case "queued":
      return job.attempts ? `queued again (was at ${pct})` : "waiting for a worker";
    case "running": {
      const left = eta(p.eta_seconds);
      return [pct, p.stage || "starting", left ? `about ${left} left` : null].filter(Boolean).join(" · ");
    }
    case "interrupted":
      return `interrupted at ${pct}${p.stage ? ` (${p.stage})` : ""}`;
    case "planned":
      return "planned: render it when ready";
    case "done":
      return "100%";
    case "cancelled":
      return p.percent ? `stopped at ${pct}` : "";
    default:
      return "";
  }
}

/** Poll a job every `ms` until it ends; onUpdate(job) on every poll. Resolves to the ended job. */
export async function follow(jobId, onUpdate, { ms = 1000, signal } = {}) {
  for (;;) {
    const job = await api(`jobs/${encodeURIComponent(jobId)}`, { signal });
    if (onUpdate) onUpdate(job);
    if (ENDED.has(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
}
