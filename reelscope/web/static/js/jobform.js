// "Analyse a video" form: upload a file or name a file on the server; POST /api/jobs.

import { api, upload } from "./api.js";
import { errorBox, h, uid } from "./dom.js";
import { toast } from "./main.js";

const DEFAULT_STAGES = ["shots", "keyframes"];
const ORDER = ["shots", "keyframes", "faces", "shot_size"]; // pipeline order for display

/** The form as a <section>; onStarted(job) is called after the server accepted the job. */
export function jobForm(onStarted) {
  const status = h("div.form-status", { "aria-live": "polite" });
  const fileInput = h("input", { type: "file", name: "file", accept: "video/*,.mkv,.mov,.mp4,.avi,.webm,.gif" });
  const pathInput = h("input", { type: "text", name: "path", placeholder: "/srv/videos/film.mp4", spellcheck: "false" });
  const force = h("input", { type: "checkbox", name: "force", id: uid("force") });
  const stagesBox = h("fieldset.stages", h("legend", "Stages"), h("span.hint", "loading stages…"));
  const sourceName = uid("src");
  const radioUpload = h("input", { type: "radio", name: sourceName, value: "upload", id: uid("r"), checked: true });
  const radioPath = h("input", { type: "radio", name: sourceName, value: "path", id: uid("r") });
  const fileId = uid("file");
  const pathId = uid("path");
  fileInput.id = fileId;
  pathInput.id = pathId;
  const fileRow = h("div.field", h("label", { for: fileId }, "Video file"), fileInput);
  const pathRow = h("div.field", { hidden: true },
    h("label", { for: pathId }, "Path on the server"), pathInput,
    h("small.hint", "Must lie in a folder the server allows (reelscope serve --allow)."));
  const syncSource = () => {
    fileRow.hidden = !radioUpload.checked;
    pathRow.hidden = !radioPath.checked;
  };
  radioUpload.addEventListener("change", syncSource);
  radioPath.addEventListener("change", syncSource);

  const submit = h("button.primary", { type: "submit" }, "Start analysis");
  const form = h("form.job-form", { "aria-label": "Analyse a video" },
    h("fieldset.source", h("legend", "Source"),
      h("label.inline", radioUpload, " Upload a file"),
      h("label.inline", radioPath, " A file on the server")),
    fileRow, pathRow, stagesBox,
    h("label.inline", force, " Re-analyse even if already in the archive"),
    h("div.row", submit), status);

  api("stages").then((stages) => {
    stagesBox.replaceChildren(h("legend", "Stages"));
    const rank = (s) => (ORDER.includes(s.name) ? ORDER.indexOf(s.name) : ORDER.length);
    for (const s of [...stages].sort((a, b) => rank(a) - rank(b))) {
      const id = uid("st");
      const hint = uid("sth");
      stagesBox.append(h("div.stage",
        h("input", { type: "checkbox", id, value: s.name, checked: DEFAULT_STAGES.includes(s.name), "aria-describedby": hint }),
        h("label", { for: id }, s.name),
        h("small.hint", { id: hint }, s.description + (s.requires.length && s.requires[0] !== "video" ? ` (needs ${s.requires.join(", ")})` : ""))));
    }
  }).catch((e) => stagesBox.replaceChildren(h("legend", "Stages"), errorBox(e, "stages unavailable")));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const stages = [...stagesBox.querySelectorAll("input:checked")].map((i) => i.value);
    status.replaceChildren();
    if (!stages.length) {
      status.append(errorBox("choose at least one stage"));
      return;
    }
    submit.disabled = true;
    try {
      let job;
      if (radioUpload.checked) {
        const file = fileInput.files[0];
        if (!file) throw new Error("choose a video file to upload");
        const fd = new FormData();
        fd.append("file", file, file.name);
        fd.append("stages", stages.join(","));
        fd.append("force", force.checked ? "true" : "false");
        const bar = h("progress", { max: 1, value: 0, "aria-label": "upload progress" });
        status.append(h("span", "Uploading… "), bar);
        job = await upload("jobs", fd, (x) => (bar.value = x));
      } else {
        const path = pathInput.value.trim();
        if (!path) throw new Error("enter the path of a video file on the server");
        job = await api("jobs", { method: "POST", body: { path, stages, force: force.checked } });
      }
      status.replaceChildren(h("p.ok", `Job ${job.id} for ${job.source} is ${job.status}. `,
        h("a", { href: "/jobs", dataset: { link: "" } }, "Follow it on the Jobs page")));
      toast(`Analysis of ${job.source} started`);
      form.reset();
      syncSource();
      if (onStarted) onStarted(job);
    } catch (err) {
      status.replaceChildren(errorBox(err, "Could not start the analysis"));
    } finally {
      submit.disabled = false;
    }
  });
  return h("section.card.job-card", h("h2", "Analyse a video"), form);
}
