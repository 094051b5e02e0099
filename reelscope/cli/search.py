"""`reelscope search`: free text and filters over the whole archive, ranked shots and frames."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from reelscope.cli.common import ArchiveOpt, DbOpt, fail, open_archive, out, video_of


def _clock(t: float) -> str:
    m, s = divmod(max(t, 0.0), 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:06.3f}" if h else f"{m}:{s:06.3f}"


_SAID = {"transcript": "said", "text": "on screen"}


def _evidence(items: list[dict], most: int = 3) -> str:
    """Lines said or written with their time, then the labels that matched (with theirs)."""
    lines = [f"{_SAID[e['kind']]} {_clock(e['time'])} \u201c{e['text']}\u201d" for e in items if e["kind"] in _SAID]
    lines += [f"{e['kind']} {e['text']} {_clock(e['time'])}" for e in items if e["kind"] not in _SAID]
    return "\n".join(lines[:most])


def search(
    text: Optional[str] = typer.Argument(None, help="Free text, e.g. \"piano\" or \"close-up of Anna smiling\"."),
    size: List[str] = typer.Option([], "--size", help="Shot size: ECU, CU, MS, FS or LS (repeat for any of several)."),
    character: List[str] = typer.Option([], "--character", help="Character id or (part of) a name; repeat to need several."),
    expression: Optional[str] = typer.Option(None, help="Facial expression, e.g. happy."),
    mood: Optional[str] = typer.Option(None, help="The shot's mood, e.g. calm (happy, excited, intense, tense, sad, "
                                       "gloomy, calm, relaxed)."),
    tag: List[str] = typer.Option([], "--tag", help="ImageNet tag the shot must have, e.g. \"grand piano\" (repeatable)."),
    obj: List[str] = typer.Option([], "--object", help="COCO object the shot must show, e.g. car (repeatable)."),
    video: Optional[str] = typer.Option(None, help="Only this video (id, filename, path or fingerprint)."),
    start: Optional[float] = typer.Option(None, min=0, help="From this time (seconds)."),
    end: Optional[float] = typer.Option(None, min=0, help="Up to this time (seconds)."),
    limit: int = typer.Option(20, min=1, max=1000, help="Hits to show."),
    offset: int = typer.Option(0, min=0, help="Skip this many hits (paging)."),
    exact: bool = typer.Option(False, "--exact", help="Match words to label names exactly (no text embeddings)."),
    clip_model: Optional[Path] = typer.Option(None, "--clip-model", help="A CLIP-like ONNX model folder: rank frames by "
                                              "image-text similarity too (default: $REELSCOPE_CLIP_MODEL)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (hits, how the text was read)."),
    archive: Optional[Path] = ArchiveOpt,
    db: Optional[str] = DbOpt,
):
    """Search the archive by text, tags, objects, characters, shot size and time; ranked hits."""
    from reelscope.search import SearchQuery, search as run
    from reelscope.errors import ReelscopeError

    if not (text or size or character or expression or mood or tag or obj or video or start is not None or end is not None):
        fail("give some text or a filter (--size, --character, --expression, --tag, --object, --video, --start, --end)")
    if clip_model is not None and not clip_model.is_dir():
        fail(f"{clip_model}: no such CLIP model folder")
    arch = open_archive(archive, db)
    vid = video_of(arch, video).id if video else None
    query = SearchQuery(text=text, sizes=[s.upper() for s in size], characters=character, expression=expression, mood=mood,
                        tags=tag, objects=obj, video=vid, start=start, end=end, semantic=not exact,
                        clip_model=str(clip_model) if clip_model else None)
    try:
        res = run(arch, query, limit=limit, offset=offset)
    except (ValueError, ReelscopeError) as e:
        fail(str(e))
    finally:
        arch.close()
    if as_json:
        out.print_json(data=res.as_dict())
        return
    for note in res.notes:
        out.print(f"[dim]{note}[/dim]", highlight=False)
    if res.parsed and (res.parsed["sizes"] or res.parsed["characters"] or res.parsed["expressions"] or res.parsed["concepts"]
                       or res.parsed["phrases"] or res.parsed["moods"]):
        p = res.parsed
        read = [f"size {', '.join(p['sizes'])}" if p["sizes"] else "", f"character {', '.join(p['characters'])}" if p["characters"] else "",
                f"expression {', '.join(p['expressions'])}" if p["expressions"] else "",
                f"mood {', '.join(p['moods'])}" if p["moods"] else ""]
        read += [f"said or written \u201c{x}\u201d" for x in p["phrases"]]
        read += [f"{c['text']} → {', '.join(x['label'] for x in c['labels'][:4])}" for c in p["concepts"]]
        out.print("read as: " + "; ".join(x for x in read if x), highlight=False)
    if not res.items:
        out.print("nothing found")
        return
    t = Table("#", "score", "video", "shot", "at", "frame", "size", "why", "evidence")
    for k, h in enumerate(res.items, start=res.offset + 1):
        who = f" {h['name']}" if h.get("name") else ""
        t.add_row(str(k), "" if h["score"] is None else f"{h['score']:.2f}", f"{h['filename']} ({h['video_id']})",
                  "" if h["shot_index"] is None else str(h["shot_index"] + 1), _clock(h["time"]), str(h["frame"]),
                  h.get("size") or "", (h["kind"] + who + ": " if h["kind"] != "shot" else "") + ", ".join(h["matched"]),
                  _evidence(h.get("evidence") or []))
    out.print(t)
    out.print(f"{len(res.items)} of {res.total} hits" + (f" (from {res.offset + 1})" if res.offset else ""), highlight=False)
