// Characters across the archive and the identity gallery: name, merge, split, undo, add photos.

import { api, mediaUrl, upload } from "../api.js";
import { clear, emptyState, errorBox, field, h, loading, uid } from "../dom.js";
import { clock, duration, plural, topExpression } from "../format.js";
import { setQuery, toast } from "../main.js";

export async function render(root, _params, query) {
  let naming = query.get("naming") || "";
  let videoFilter = query.get("video") || "";
  const selected = new Set(); // character ids in the order they were ticked (merge keeps the first)

  const namingSel = h("select", { name: "naming" },
    [["", "all"], ["unknown", "unknown"], ["named", "named"], ["recognised", "recognised"]]
      .map(([v, t]) => h("option", { value: v, selected: v === naming }, t)));
  const videoSel = h("select", { name: "video" }, h("option", { value: "" }, "all videos"));
  const mergeBtn = h("button.primary", { type: "button", disabled: true }, "Merge selected");
  const undoBtn = h("button", { type: "button" }, "Undo last change");
  const status = h("div.status-line", { "aria-live": "polite" });
  const list = h("div.char-groups");
  const idList = h("div");

  const [namingField] = field("Show", namingSel);
  const [videoField] = field("Video", videoSel);
  namingSel.addEventListener("change", () => { naming = namingSel.value; load(); });
  videoSel.addEventListener("change", () => { videoFilter = videoSel.value; load(); });

  root.append(
    h("div.page-head", h("div", h("h1", "Characters"),
      h("p.summary", "People found in the videos. Name a character once and it is recognised everywhere in the archive."))),
    h("div.toolbar", namingField, videoField, h("div.toolbar-actions", mergeBtn, undoBtn)),
    status, list,
    h("section.card", h("h2", "Identities"),
      h("p.muted", "Named people in the gallery, with the characters recognised as them."), idList, photoForm()));

  function updateMerge() {
    mergeBtn.disabled = selected.size < 2;
    mergeBtn.textContent = selected.size ? `Merge selected (${selected.size})` : "Merge selected";
  }

  function report(err, what) {
    clear(status, errorBox(err, what));
  }

  mergeBtn.addEventListener("click", async () => {
    const ids = [...selected];
    try {
      const c = await api("characters/merge", { method: "POST", body: { ids } });
      selected.clear();
      clear(status, h("p.ok", `Merged ${ids.length} characters into character ${c.id}.`));
      toast("Characters merged");
      await load();
    } catch (e) {
      report(e, "Could not merge");
    }
  });
  undoBtn.addEventListener("click", async () => {
    try {
      const ev = await api("undo", { method: "POST" });
      clear(status, h("p.ok", `Undid the last change (${ev.action}).`));
      toast(`Undid ${ev.action}`);
      await Promise.all([load(), loadIdentities()]);
    } catch (e) {
      report(e, "Nothing undone");
    }
  });

  async function load() {
    setQuery({ naming, video: videoFilter });
    clear(list, loading());
    let chars, videos;
    try {
      [chars, videos] = await Promise.all([
        api("characters", { query: { limit: 1000, naming, video: videoFilter } }),
        api("videos", { query: { limit: 1000 } }),
      ]);
    } catch (e) {
      clear(list, errorBox(e, "Could not load the characters"));
      return;
    }
    const names = new Map(videos.items.map((v) => [v.id, v.filename]));
    clear(videoSel, h("option", { value: "" }, "all videos"),
      videos.items.map((v) => h("option", { value: String(v.id), selected: String(v.id) === videoFilter }, v.filename)));
    for (const id of [...selected]) if (!chars.items.some((c) => c.id === id)) selected.delete(id);
    updateMerge();
    if (!chars.items.length) {
      clear(list, naming || videoFilter
        ? emptyState("No characters match these filters.")
        : emptyState("No characters yet.", "Characters come from the faces stage: analyse a video with "
          + "the stages shots, keyframes and faces."));
      return;
    }
    const groups = new Map();
    for (const c of chars.items) {
      if (!groups.has(c.video_id)) groups.set(c.video_id, []);
      groups.get(c.video_id).push(c);
    }
    const more = chars.total > chars.items.length
      ? h("p.muted", `Showing ${chars.items.length} of ${chars.total}; filter by video to see the rest.`) : null;
    clear(list, more, [...groups].map(([vid, cs]) => h("section.card.char-group",
      h("div.section-head",
        h("h2", h("a", { href: `/videos/${vid}`, dataset: { link: "" } }, names.get(vid) || `video ${vid}`)),
        h("span.muted", plural(cs.length, "character"))),
      h("ul.char-grid.editable", cs.map(card)))));
  }

  function card(c) {
    const who = c.name || `unknown character ${c.index + 1}`;
    const cardStatus = h("div.card-status", { "aria-live": "polite" });
    const check = h("input", { type: "checkbox", id: uid("sel"), checked: selected.has(c.id) });
    check.addEventListener("change", () => {
      if (check.checked) selected.add(c.id);
      else selected.delete(c.id);
      updateMerge();
    });
    const nameInput = h("input", { type: "text", name: "name", value: c.name || "", placeholder: "Name this person",
      maxlength: "256", autocomplete: "off" });
    const [nameField] = field(`Name for ${who}`, nameInput);
    nameField.querySelector("label").classList.add("sr-only");
    const nameForm = h("form.name-form", nameField, h("button.primary", { type: "submit" }, "Name"));
    nameForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = nameInput.value.trim();
      if (!name) {
        clear(cardStatus, errorBox("enter a name first"));
        return;
      }
      try {
        await api(`characters/${c.id}/name`, { method: "POST", body: { name, expected_version: c.version } });
        toast(`Named “${name}”`);
        await Promise.all([load(), loadIdentities()]);
      } catch (err) {
        clear(cardStatus, errorBox(err, "Could not name"));
      }
    });

    let split = null;
    if ((c.tracks || []).length > 1) {
      const boxes = c.tracks.map((t) => {
        const box = h("input", { type: "checkbox", value: String(t.id) });
        return h("label.inline", box, ` track ${t.id}: shot ${t.shot_index + 1}, frames ${t.first_frame}–${t.last_frame} (${t.seconds.toFixed(1)} s)`);
      });
      const go = h("button", { type: "button" }, "Move to a new character");
      go.addEventListener("click", async () => {
        const tracks = [...split.querySelectorAll("input:checked")].map((i) => Number(i.value));
        if (!tracks.length) {
          clear(cardStatus, errorBox("tick the face tracks to move"));
          return;
        }
        try {
          const n = await api(`characters/${c.id}/split`, { method: "POST", body: { tracks } });
          toast(`Split ${plural(tracks.length, "track")} into character ${n.id}`);
          await load();
        } catch (err) {
          clear(cardStatus, errorBox(err, "Could not split"));
        }
      });
      split = h("details.split", h("summary", `Split (${c.tracks.length} face tracks)`),
        h("fieldset", h("legend.sr-only", `Face tracks of ${who}`), boxes), go);
    }

    return h("li.char-card", { dataset: { id: String(c.id) } },
      c.thumbnail ? h("img.face", { src: mediaUrl(c.thumbnail), alt: `Face of ${who}`, loading: "lazy" })
        : h("span.face.placeholder", { "aria-hidden": "true" }),
      h("div.char-body",
        h("div.char-name",
          h("label.select", { for: check.id, title: "Select for merging" }, check, h("span.sr-only", `Select ${who} for merging`)),
          c.name ? h("span.name", c.name) : h("span.unknown", "unknown"),
          c.naming !== "unknown" ? h("span.badge", c.naming) : null, h("span.muted.char-id", `#${c.id}`)),
        h("div.muted", `Screen time ${duration(c.screen_time)}`),
        topExpression(c.expressions) ? h("div.muted", `Mostly ${topExpression(c.expressions)}`) : null,
        h("a", { href: `/videos/${c.video_id}?t=${c.first_time.toFixed(3)}`, dataset: { link: "" } },
          `First seen ${clock(c.first_time)}`)),
      h("div.char-foot", nameForm, split, cardStatus));
  }

  async function loadIdentities() {
    try {
      const ids = await api("identities");
      if (!ids.length) {
        clear(idList, emptyState("No identities yet.", "Name a character above, or add a photo of a person below."));
        return;
      }
      clear(idList, h("div.table-wrap", h("table.data",
        h("caption.sr-only", "Identities"),
        h("thead", h("tr", h("th", { scope: "col" }, "Name"), h("th.num", { scope: "col" }, "Reference faces"),
          h("th.num", { scope: "col" }, "Characters"), h("th.num", { scope: "col" }, "Videos"), h("th", { scope: "col" }, ""))),
        h("tbody", ids.map((i) => h("tr",
          h("td", i.name), h("td.num", String(i.references)), h("td.num", String(i.characters)),
          h("td.num", String(i.videos)),
          h("td", h("a", { href: `/search?character=${encodeURIComponent(i.name)}`, dataset: { link: "" } }, "Find in videos"))))))));
    } catch (e) {
      clear(idList, errorBox(e, "Could not load the identities"));
    }
  }

  function photoForm() {
    const name = h("input", { type: "text", name: "name", maxlength: "256", autocomplete: "off" });
    const file = h("input", { type: "file", name: "file", accept: "image/*" });
    const st = h("div.form-status", { "aria-live": "polite" });
    const form = h("form.photo-form", { "aria-label": "Add a reference photo" },
      h("h3", "Add a reference photo"),
      h("div.row", field("Person's name", name)[0], field("Photo", file)[0],
        h("button", { type: "submit" }, "Add photo")), st);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!name.value.trim() || !file.files[0]) {
        clear(st, errorBox("enter a name and choose a photo"));
        return;
      }
      const fd = new FormData();
      fd.append("name", name.value.trim());
      fd.append("file", file.files[0], file.files[0].name);
      try {
        const ident = await upload("identities/photo", fd);
        clear(st, h("p.ok", `Added a reference face for ${ident.name}.`));
        form.reset();
        await Promise.all([load(), loadIdentities()]);
      } catch (err) {
        clear(st, errorBox(err, "Could not add the photo"));
      }
    });
    return form;
  }

  await Promise.all([load(), loadIdentities()]);
}
