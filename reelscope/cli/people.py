"""CLI for characters, the identity gallery and labeling (registered on the main app)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer
from rich.table import Table

from reelscope.cli.common import ArchiveOpt, DbOpt, err, fail, open_archive, out, video_of

people = typer.Typer(help="Characters, identities and labeling.", no_args_is_help=True)
label = typer.Typer(help="Labeling workflow: single images, or clusters of unknown faces.", no_args_is_help=True)
UserOpt = typer.Option("", "--user", help="Who is labeling (recorded in the label log).")


def _gallery(archive, db, user="", threshold: Optional[float] = None):
    from reelscope.archive.gallery import DEFAULT_THRESHOLD, Gallery

    return Gallery(open_archive(archive, db), threshold=threshold or DEFAULT_THRESHOLD, user=user)


def _guard(fn, *a, **k):
    from reelscope.errors import ReelscopeError

    try:
        return fn(*a, **k)
    except ReelscopeError as e:
        fail(str(e))


@people.command("list")
def characters(video: Optional[str] = typer.Argument(None, help="Video (id, filename, path); omit for all."),
               archive: Optional[Path] = ArchiveOpt, db: Optional[str] = DbOpt,
               as_json: bool = typer.Option(False, "--json")):
    """Characters with screen time, first/last appearance, name and expressions."""
    g = _gallery(archive, db)
    vid = video_of(g.archive, video).id if video else None
    chars = g.characters(vid)
    rows = [{"id": c.id, "video_id": c.video_id, "index": c.idx, "name": c.identity.name if c.identity else None,
             "naming": c.naming, "match_distance": c.match_distance, "screen_time": round(c.screen_time, 2),
             "first_time": round(c.first_time, 2), "last_time": round(c.last_time, 2),
             "expressions": {k: round(v, 2) for k, v in sorted(c.expressions.items(), key=lambda kv: -kv[1])},
             "thumbnail": c.thumbnail} for c in chars]
    if as_json:
        out.print_json(data=rows)
        return
    t = Table("id", "video", "#", "name", "how", "screen s", "first s", "last s", "top expressions")
    for r in rows:
        top = ", ".join(f"{k} {v:.0%}" for k, v in list(r["expressions"].items())[:3])
        t.add_row(str(r["id"]), str(r["video_id"]), str(r["index"]), r["name"] or "?", r["naming"],
                  f"{r['screen_time']:.1f}", f"{r['first_time']:.1f}", f"{r['last_time']:.1f}", top)
    out.print(t)


@people.command("name")
def name(character: int, person: str, archive: Optional[Path] = ArchiveOpt, db: Optional[str] = DbOpt,
         user: str = UserOpt):
    """Name a character; every matching character in the archive is then recognised."""
    g = _gallery(archive, db, user)
    c = _guard(g.name, character, person)
    named = [x for x in g.characters() if x.identity_id == c.identity_id]
    err.print(f"character {character} is {person}; {person} now appears as {len(named)} character(s) "
              f"in {len({x.video_id for x in named})} video(s)")


@people.command("merge")
def merge(characters: List[int], archive: Optional[Path] = ArchiveOpt, db: Optional[str] = DbOpt,
          user: str = UserOpt):
    """Merge characters of one video into the first one given."""
    c = _guard(_gallery(archive, db, user).merge, characters)
    err.print(f"merged into character {c.id}")


@people.command("split")
def split(character: int, tracks: List[int] = typer.Option(..., "--track", help="Track id to move (repeat)."),
          archive: Optional[Path] = ArchiveOpt, db: Optional[str] = DbOpt, user: str = UserOpt):
    """Move some face tracks of a character into a new character."""
    c = _guard(_gallery(archive, db, user).split, character, tracks)
    err.print(f"new character {c.id}")


@people.command("undo")
def undo(archive: Optional[Path] = ArchiveOpt, db: Optional[str] = DbOpt, user: str = UserOpt):
    """Undo the most recent naming, photo, merge or split."""
    ev = _guard(_gallery(archive, db, user).undo)
    err.print(f"undid {ev.action} (event {ev.id})")


@people.command("identities")
def identities(archive: Optional[Path] = ArchiveOpt, db: Optional[str] = DbOpt):
    """The gallery: identities with their reference count and where they appear."""
    g = _gallery(archive, db)
    chars = g.characters()
    t = Table("id", "name", "references", "characters", "videos")
    with g.archive.session() as s:
        from reelscope.archive import schema as sc

        for i in g.identities():
            refs = s.query(sc.IdentityReference).filter_by(identity_id=i.id).count()
            mine = [c for c in chars if c.identity_id == i.id]
            t.add_row(str(i.id), i.name, str(refs), str(len(mine)), str(len({c.video_id for c in mine})))
    out.print(t)


@people.command("add-photo")
def add_photo(person: str, photos: List[Path], archive: Optional[Path] = ArchiveOpt, db: Optional[str] = DbOpt,
              user: str = UserOpt, detector: str = typer.Option("blazeface")):
    """Add reference photos of a person (the largest face of each photo is used)."""
    from reelscope.errors import MediaError
    from reelscope.people.photos import PhotoFaces

    faces = PhotoFaces(detector, expressions=False)
    embs, bad = [], 0
    for p in photos:
        try:
            d = faces.from_file(p)
        except MediaError as e:
            err.print(f"error: {e}", highlight=False)
            bad += 1
            continue
        if not len(d):
            err.print(f"error: {p}: no face found", highlight=False)
            bad += 1
            continue
        embs.append(d.embeddings[int(np.argmax(d.areas))])
    if embs:
        _guard(_gallery(archive, db, user).add_photo, person, embs, ",".join(map(str, photos)))
        err.print(f"{person}: {len(embs)} reference face(s) added")
    if bad:
        raise typer.Exit(1)


@label.command("image")
def label_image(photo: Path, names: List[str] = typer.Option([], "--name", help="Confirm: FACE=NAME (repeat)."),
                archive: Optional[Path] = ArchiveOpt, db: Optional[str] = DbOpt, user: str = UserOpt,
                detector: str = typer.Option("blazeface")):
    """Single-image mode: propose names for known faces and boxes for new ones; --name 0=Anna confirms."""
    from reelscope.errors import MediaError
    from reelscope.people.photos import PhotoFaces

    g = _gallery(archive, db, user)
    try:
        d = PhotoFaces(detector).from_file(photo)
    except MediaError as e:
        fail(str(e))
    idents = {i.id: i.name for i in g.identities()}
    proposals = []
    for k in range(len(d)):
        ident, dist = g.match(d.embeddings[k])
        ex = d.data[k].get("expression") or {}
        proposals.append({"face": k, "box": [round(float(v), 1) for v in d.boxes[k]],
                          "proposed_name": idents.get(ident), "distance": None if not np.isfinite(dist) else round(dist, 3),
                          "expression": ex.get("label") if isinstance(ex, dict) else ex})
    confirm = {}
    for item in names:
        k, _, person = item.partition("=")
        if not k.isdigit() or not person or int(k) >= len(d):
            fail(f"--name {item!r}: use FACE=NAME with FACE one of 0..{len(d) - 1}")
        confirm[int(k)] = person
    for k, person in confirm.items():
        _guard(g.add_photo, person, [d.embeddings[k]], f"{photo}#face{k}")
        proposals[k]["confirmed_name"] = person
    out.print_json(data={"image": str(photo), "faces": proposals})


@label.command("clusters")
def label_clusters(names: List[str] = typer.Option([], "--name", help="Name a cluster: CLUSTER=NAME (repeat)."),
                   threshold: float = typer.Option(0.35, help="Distance threshold for grouping (normalised embeddings)."),
                   archive: Optional[Path] = ArchiveOpt, db: Optional[str] = DbOpt, user: str = UserOpt):
    """Clustering mode: group unknown characters across the archive; --name 2=Anna names a whole group."""
    from reelscope.archive.gallery import from_blob
    from reelscope.people.clustering import cluster

    g = _gallery(archive, db, user)
    unknown = [c for c in g.characters() if c.naming == "unknown"]
    if not unknown:
        out.print_json(data={"clusters": []})
        return
    labels = cluster(np.stack([from_blob(c.embedding) for c in unknown]), "agglomerative", threshold)
    groups: dict[int, list] = {}
    for c, lab in zip(unknown, labels):
        groups.setdefault(int(lab), []).append(c)
    for item in names:
        k, _, person = item.partition("=")
        if not k.isdigit() or int(k) not in groups or not person:
            fail(f"--name {item!r}: use CLUSTER=NAME with CLUSTER one of {sorted(groups)}")
        first, *rest = groups[int(k)]
        _guard(g.name, first.id, person)
        for c in rest:  # named by a person as part of the group
            if g.character(c.id).naming != "named":
                _guard(g.name, c.id, person)
    data = [{"cluster": k, "characters": [{"id": c.id, "video_id": c.video_id, "thumbnail": c.thumbnail,
                                           "screen_time": round(c.screen_time, 2)} for c in cs]}
            for k, cs in sorted(groups.items(), key=lambda kv: -len(kv[1]))]
    out.print_json(data={"clusters": data, "named": names})
