"""CLI output for the objects stage: a per-shot summary of object tracks under `reelscope show`."""
from __future__ import annotations

from collections import Counter

from rich.table import Table

from reelscope.cli.common import out


def object_summary(objects: dict | None) -> dict[int, list[tuple[str, int, float]]]:
    """Shot index -> [(label, tracks, best mean score)], most tracks first."""
    per_shot: dict[int, Counter] = {}
    best: dict[tuple[int, str], float] = {}
    for t in (objects or {}).get("tracks", []):
        per_shot.setdefault(t["shot_index"], Counter())[t["label"]] += 1
        key = (t["shot_index"], t["label"])
        best[key] = max(best.get(key, 0.0), t["score"])
    return {k: [(label, n, best[(k, label)]) for label, n in c.most_common()] for k, c in sorted(per_shot.items())}


def print_objects(data: dict) -> None:
    """Print the objects table of a video_dict (nothing when the objects stage has not run)."""
    objects = data.get("objects")
    if objects is None:
        return
    summary = object_summary(objects)
    n = len(objects.get("tracks", []))
    out.print(f"[bold]objects[/bold]: {n} tracks in {len(summary)} of {len(data.get('shots', []))} shots")
    if not summary:
        return
    t = Table("shot", "objects (tracks, best score)")
    for shot, items in summary.items():
        t.add_row(str(shot + 1), ", ".join(f"{label} x{k} ({score:.2f})" if k > 1 else f"{label} ({score:.2f})"
                                           for label, k, score in items))
    out.print(t)
