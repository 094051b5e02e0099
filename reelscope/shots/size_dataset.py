"""Shot-size training data: build a frame dataset from videos, review it, generate ECUs.

A dataset is a folder::

    manifest.json             every item: video, shot, frame, time, label, source, history
    unlabelled/<id>.jpg       frames nobody (and no classifier) has labelled yet
    ECU/ CU/ MS/ FS/ LS/      frames by label, at the dataset resolution (default 224x224)
    rejected/<id>.jpg         frames a reviewer threw out (never used for training)
    _frames/<id>.jpg          the same frames at source resolution (long side <= 640), which
                              the ECU generator crops from so its crops stay sharp

Items come from the middle frame of each shot (the seed's method), or from an explicit list
of labelled frames (``add_frames``: the by-eye set). ``source`` says who set the label:
``auto`` (a classifier's proposal, or no label yet), ``human`` (a person), ``generated``
(an ECU crop made by ``generate_ecus`` from a CU item, named ``gen_<parent id>``).
Every step is resumable: done items are skipped, and the manifest is rewritten atomically.

The ECU generator (``generate_ecu``) is the seed's: in a close-up, detect faces and take the
largest; crop a box of a fixed ratio of the input (same aspect ratio) whose centre is the
candidate of a regular grid of crop centres (n x n, all keeping the crop inside the image)
nearest the face centre; with no face, use the weighted centroid c = sum s(p) p / sum s(p) of
a saliency map s instead of the face centre. The crop is resized to the dataset resolution.
"""
from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import cv2
import numpy as np

from reelscope.media.image import cap_side

CLASSES = ("ECU", "CU", "MS", "FS", "LS")
UNLABELLED = "unlabelled"
REJECTED = "rejected"
FOLDERS = CLASSES + (UNLABELLED, REJECTED)
SOURCES = ("auto", "human", "generated")
FRAMES_DIR = "_frames"
MANIFEST = "manifest.json"
FORMAT = "reelscope-shot-size-dataset"
FITS = ("stretch", "pad", "crop")

Progress = Callable[[int, int], None]


# ---- images --------------------------------------------------------------------------------

def fit_image(rgb: np.ndarray, size: tuple[int, int], fit: str = "stretch") -> np.ndarray:
    """``rgb`` resized to ``size`` (width, height): ``stretch`` (whole frame, aspect changed,
    the seed's way), ``pad`` (whole frame letterboxed on black) or ``crop`` (centre crop)."""
    w, h = int(size[0]), int(size[1])
    ih, iw = rgb.shape[:2]
    interp = cv2.INTER_AREA if iw >= w and ih >= h else cv2.INTER_LINEAR
    if fit == "stretch":
        return cv2.resize(rgb, (w, h), interpolation=interp)
    if fit == "crop":
        s = max(w / iw, h / ih)
        cw, ch = min(iw, round(w / s)), min(ih, round(h / s))
        x, y = (iw - cw) // 2, (ih - ch) // 2
        return cv2.resize(rgb[y:y + ch, x:x + cw], (w, h), interpolation=interp)
    if fit == "pad":
        s = min(w / iw, h / ih)
        nw, nh = max(1, round(iw * s)), max(1, round(ih * s))
        out = np.zeros((h, w, 3), np.uint8)
        x, y = (w - nw) // 2, (h - nh) // 2
        out[y:y + nh, x:x + nw] = cv2.resize(rgb, (nw, nh), interpolation=interp)
        return out
    raise ValueError(f"unknown fit {fit!r}; choose one of {', '.join(FITS)}")


def read_rgb(path: str | Path) -> np.ndarray:
    """RGB of an image file (reelscope.media.image.read_image, pixel limit included); ValueError
    naming the file for anything unreadable."""
    from reelscope.errors import MediaError
    from reelscope.media.image import read_image

    try:
        return read_image(path)
    except MediaError as e:
        raise ValueError(str(e)) from None


def write_rgb(path: str | Path, rgb: np.ndarray, quality: int = 95) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"{path}: JPEG encoding failed")
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, path)


# ---- the ECU generator ---------------------------------------------------------------------

def grid_centres(width: int, height: int, crop_w: int, crop_h: int, grid: int | tuple[int, int] = 5) -> np.ndarray:
    """Candidate crop centres (gy, gx, 2) as (x, y): a regular ``grid`` over the centres that
    keep a ``crop_w`` x ``crop_h`` box inside a ``width`` x ``height`` image."""
    gx, gy = (grid, grid) if isinstance(grid, int) else grid
    if gx < 1 or gy < 1:
        raise ValueError(f"grid must be >= 1, got {grid}")
    xs = np.linspace(crop_w / 2, width - crop_w / 2, gx) if gx > 1 else np.array([width / 2])
    ys = np.linspace(crop_h / 2, height - crop_h / 2, gy) if gy > 1 else np.array([height / 2])
    return np.stack(np.meshgrid(xs, ys), axis=-1)


def saliency_map(rgb: np.ndarray, method: str = "spectral_residual") -> np.ndarray:
    """A float32 saliency map in 0..1 (HxW) from OpenCV's static saliency (contrib)."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if method == "spectral_residual":
        algo = cv2.saliency.StaticSaliencySpectralResidual_create()
    elif method == "fine_grained":
        algo = cv2.saliency.StaticSaliencyFineGrained_create()
    else:
        raise ValueError(f"unknown saliency method {method!r}; use spectral_residual or fine_grained")
    ok, sal = algo.computeSaliency(bgr)
    if not ok:
        raise RuntimeError("saliency computation failed")
    sal = np.asarray(sal, np.float32)
    if sal.max() > 1.0:
        sal = sal / 255.0
    if sal.shape[:2] != rgb.shape[:2]:
        sal = cv2.resize(sal, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip(sal, 0, None)


def saliency_centroid(sal: np.ndarray) -> tuple[float, float]:
    """The weighted centroid c = sum s(p) p / sum s(p) as (x, y) in pixel coordinates
    (pixel centres at integer + 0.5); the image centre for an all-zero map."""
    h, w = sal.shape[:2]
    total = float(sal.sum())
    if total <= 0 or not np.isfinite(total):
        return w / 2.0, h / 2.0
    ys, xs = np.mgrid[0:h, 0:w]
    return float((sal * (xs + 0.5)).sum() / total), float((sal * (ys + 0.5)).sum() / total)


_DETECTORS: dict[str, Any] = {}


def _face_boxes(rgb: np.ndarray, detector) -> np.ndarray:
    """(N, 4) xywh face boxes from a detector name, a FaceDetector, or a callable returning
    Detections or boxes."""
    if detector is None or isinstance(detector, str):
        name = detector or "blazeface"
        if name not in _DETECTORS:
            from reelscope.vision.face_detect import make_face_detector
            _DETECTORS[name] = make_face_detector(name)
        detector = _DETECTORS[name]
    out = detector.detect(rgb) if hasattr(detector, "detect") else detector(rgb)
    boxes = getattr(out, "boxes", out)
    return np.asarray(boxes, np.float32).reshape(-1, 4)


def generate_ecu(image: np.ndarray, *, ratio: float = 0.5, grid: int | tuple[int, int] = 5,
                 size: tuple[int, int] | None = None, detector=None,
                 saliency: str = "spectral_residual", background: str | None = "mean",
                 fit: str = "stretch") -> tuple[np.ndarray, dict]:
    """An extreme close-up made from a close-up ``image`` (RGB), the seed's way.

    Faces are detected (``detector``: a backend name, default BlazeFace, a FaceDetector or a
    callable) and the largest (box area) is the subject; without a face the weighted centroid
    of a ``saliency`` map is. The crop is ``ratio`` of the input's width and height, centred
    on the ``grid`` x ``grid`` candidate nearest the subject's centre, and resized to ``size``
    (width, height; default the input's size) with ``fit``.

    Saliency: s is OpenCV's map (``spectral_residual`` or ``fine_grained``) less its mean,
    clipped at 0 (``background='mean'``): the raw maps respond weakly everywhere, and over a
    whole frame that diffuse response outweighs the salient region and drags the centroid
    to the middle (measured: a 90 px bright disc in a noisy 1280x720 frame, centroid 230 px
    off with the raw map, 1 px with the floor). ``background=None`` uses the raw map.

    Returns (crop, info): info has ``method`` ('face' | 'saliency'), ``centre`` (x, y),
    ``candidate`` (x, y), ``candidate_index`` (col, row), ``box`` [x, y, w, h] in input
    pixels, ``face`` (the chosen face box or None), ``faces`` (count), ``ratio``, ``grid``.
    """
    from reelscope.vision.face_detect import as_rgb

    rgb = as_rgb(image)
    h, w = rgb.shape[:2]
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    cw, ch = max(1, round(w * ratio)), max(1, round(h * ratio))
    boxes = _face_boxes(rgb, detector)
    boxes = boxes[(boxes[:, 2] > 0) & (boxes[:, 3] > 0)]
    face = None
    if len(boxes):
        face = boxes[int(np.argmax(boxes[:, 2] * boxes[:, 3]))]
        centre = (float(face[0] + face[2] / 2), float(face[1] + face[3] / 2))
        method = "face"
    else:
        sal = saliency_map(rgb, saliency)
        if background == "mean":
            sal = np.clip(sal - sal.mean(), 0, None)
        elif background is not None:
            raise ValueError(f"unknown background {background!r} (mean or None)")
        centre = saliency_centroid(sal)
        method = "saliency"
    cands = grid_centres(w, h, cw, ch, grid)
    d2 = ((cands - np.array(centre, np.float64)) ** 2).sum(-1)
    row, col = np.unravel_index(int(np.argmin(d2)), d2.shape)
    cx, cy = cands[row, col]
    x0 = int(round(cx - cw / 2))
    y0 = int(round(cy - ch / 2))
    x0, y0 = min(max(x0, 0), w - cw), min(max(y0, 0), h - ch)
    crop = rgb[y0:y0 + ch, x0:x0 + cw]
    crop = fit_image(crop, size or (w, h), fit)
    info = {"method": method, "centre": [round(centre[0], 2), round(centre[1], 2)],
            "candidate": [round(float(cx), 2), round(float(cy), 2)], "candidate_index": [int(col), int(row)],
            "box": [x0, y0, cw, ch], "face": None if face is None else [round(float(v), 1) for v in face],
            "faces": int(len(boxes)), "ratio": ratio, "grid": list(cands.shape[1::-1]),
            "saliency": saliency if method == "saliency" else None,
            "background": background if method == "saliency" else None}
    return crop, info


# ---- the manifest --------------------------------------------------------------------------

def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _user(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): still record something
        return "unknown"


def manifest_path(out_dir: str | Path) -> Path:
    return Path(out_dir) / MANIFEST


def load_manifest(out_dir: str | Path) -> dict:
    p = manifest_path(out_dir)
    if not p.is_file():
        raise FileNotFoundError(f"{out_dir}: not a shot-size dataset (no {MANIFEST})")
    m = json.loads(p.read_text())
    if m.get("format") != FORMAT:
        raise ValueError(f"{p}: not a reelscope shot-size dataset manifest")
    return m


def _new_manifest(size: tuple[int, int], fit: str) -> dict:
    return {"format": FORMAT, "version": 1, "classes": list(CLASSES), "size": [int(size[0]), int(size[1])],
            "fit": fit, "created": _now(), "videos": {}, "items": []}


def _open_manifest(out_dir: Path, size: tuple[int, int], fit: str) -> dict:
    if manifest_path(out_dir).is_file():
        m = load_manifest(out_dir)
        if tuple(m["size"]) != tuple(size) or m["fit"] != fit:
            raise ValueError(f"{out_dir}: dataset was built at {m['size'][0]}x{m['size'][1]} ({m['fit']}); "
                             f"asked for {size[0]}x{size[1]} ({fit}): use another folder")
        return m
    out_dir.mkdir(parents=True, exist_ok=True)
    return _new_manifest(size, fit)


def save_manifest(out_dir: str | Path, manifest: dict) -> None:
    """Write the manifest atomically (a killed run never leaves half a file)."""
    out_dir = Path(out_dir)
    manifest["updated"] = _now()
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".manifest.", suffix=".part")
    with os.fdopen(fd, "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, manifest_path(out_dir))


def _index(manifest: dict) -> dict[str, dict]:
    return {it["id"]: it for it in manifest["items"]}


def folder_of(label: str | None) -> str:
    return label if label in FOLDERS else UNLABELLED


def item_path(out_dir: str | Path, item: dict) -> Path:
    return Path(out_dir) / item["file"]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "video"


def item_id(stem: str, fingerprint: str, shot: int | None, frame: int) -> str:
    s = f"-s{shot:04d}" if shot is not None else ""
    return f"{_slug(stem)}-{fingerprint[:6]}{s}-f{frame:06d}"


# ---- building ------------------------------------------------------------------------------

def _classify(classifier, rgb: np.ndarray) -> tuple[str | None, float | None]:
    fn = getattr(classifier, "classify", classifier)
    res = fn(rgb)
    label, conf = (res[0], res[1]) if isinstance(res, (tuple, list)) else (getattr(res, "label"), getattr(res, "confidence", None))
    if label not in CLASSES:
        raise ValueError(f"classifier proposed {label!r}, not one of {', '.join(CLASSES)}")
    return label, None if conf is None else float(conf)


def _decode_frames(path: Path, info, wanted: Iterable[int]) -> dict[int, tuple[np.ndarray, float]]:
    from reelscope.media.decode import FrameSpec, iter_frames

    want = set(int(f) for f in wanted)
    got: dict[int, tuple[np.ndarray, float]] = {}
    if not want:
        return got
    last = max(want)
    spec = FrameSpec("rgb")
    for fr in iter_frames(path, (spec,), rotation=info.rotation, fps=info.fps):
        if fr.index in want:
            got[fr.index] = (fr[spec], fr.time)
        if fr.index >= last:
            break
    return got


def _add_items(out_dir: Path, manifest: dict, path: Path, info, wanted: list[dict], *, classifier,
               keep_frames: int, quality: int) -> tuple[int, int]:
    """Decode and store the ``wanted`` items of one video (dicts with id, shot, frame, label,
    source); returns (added, missing frames)."""
    index = _index(manifest)
    todo = [w for w in wanted if not (w["id"] in index and item_path(out_dir, index[w["id"]]).is_file())]
    if not todo:
        return 0, 0
    frames = _decode_frames(path, info, (w["frame"] for w in todo))
    size, fit = tuple(manifest["size"]), manifest["fit"]
    added = 0
    for w in todo:
        if w["frame"] not in frames:
            continue
        rgb, t = frames[w["frame"]]
        label, source, conf = w.get("label"), w.get("source", "auto"), None
        if label is None and classifier is not None:
            label, conf = _classify(classifier, rgb)
            source = "auto"
        rel = f"{folder_of(label)}/{w['id']}.jpg"
        write_rgb(out_dir / rel, fit_image(rgb, size, fit), quality)
        item = {"id": w["id"], "file": rel, "video": str(path), "fingerprint": info.fingerprint,
                "shot": w.get("shot"), "frame": int(w["frame"]), "time": round(float(t), 6),
                "width": int(rgb.shape[1]), "height": int(rgb.shape[0]),
                "label": label, "source": source, "confidence": conf,
                "history": [{"label": label, "source": source, "by": w.get("by") or ("classifier" if conf is not None else None),
                             "at": _now()}]}
        if keep_frames:
            item["frame_file"] = f"{FRAMES_DIR}/{w['id']}.jpg"
            write_rgb(out_dir / item["frame_file"], cap_side(rgb, keep_frames), quality)
        old = index.get(w["id"])
        if old is not None:
            manifest["items"].remove(old)
        manifest["items"].append(item)
        index[w["id"]] = item
        added += 1
    return added, sum(1 for w in todo if w["frame"] not in frames)


def build_dataset(videos: Sequence[str | Path], out_dir: str | Path, size: tuple[int, int] = (224, 224), *,
                  classifier=None, detector: str = "fast", fit: str = "stretch", keep_frames: int = 640,
                  quality: int = 95, progress: Callable[[str, int, int], None] | None = None,
                  on_error: Callable[[str, Exception], None] | None = None) -> dict:
    """Add the middle frame of every shot of ``videos`` to the dataset in ``out_dir``.

    Shots come from the boundary ``detector`` (fast, transnetv2, hybrid). With a
    ``classifier`` (callable or object with ``classify(rgb) -> (label, confidence)``) each
    frame is filed under the proposed label (source ``auto``), else under ``unlabelled/``.
    Resumable: a video whose items are all stored is skipped without decoding; a failing
    video is reported through ``on_error`` (default: raised) and the others go on.
    Returns a summary: {"added", "skipped_videos", "failed", "items"}.
    """
    from reelscope.media.info import probe
    from reelscope.shots.backends import make_detector
    from reelscope.shots.run import detect
    from reelscope.shots.types import shots_from_transitions

    if fit not in FITS:
        raise ValueError(f"unknown fit {fit!r}; choose one of {', '.join(FITS)}")
    out_dir = Path(out_dir)
    manifest = _open_manifest(out_dir, size, fit)
    summary = {"added": 0, "skipped_videos": 0, "failed": [], "items": 0}
    for n, v in enumerate(videos):
        path = Path(v)
        try:
            info = probe(path)
            key = str(path.resolve())
            rec = manifest["videos"].get(key)
            index = _index(manifest)
            if rec and rec.get("fingerprint") == info.fingerprint and rec.get("complete") and all(
                    i in index and item_path(out_dir, index[i]).is_file() for i in rec.get("items", [])):
                summary["skipped_videos"] += 1
                continue
            det = make_detector(detector)
            res = detect(path, info, [det])
            shots = shots_from_transitions(res.transitions[det.name], res.frame_count)
            wanted = [{"id": item_id(path.stem, info.fingerprint, s.index, s.middle), "shot": s.index,
                       "frame": s.middle, "label": None, "source": "auto"} for s in shots]
            added, _ = _add_items(out_dir, manifest, path, info, wanted, classifier=classifier,
                                  keep_frames=keep_frames, quality=quality)
            manifest["videos"][key] = {"fingerprint": info.fingerprint, "frames": res.frame_count,
                                       "fps": str(info.fps), "shots": len(shots), "detector": detector,
                                       "items": [w["id"] for w in wanted], "complete": True}
            save_manifest(out_dir, manifest)
            summary["added"] += added
        except Exception as e:  # skip-and-log per video (a batch job must not abort on one file)
            if on_error is None:
                raise
            on_error(str(path), e)
            summary["failed"].append(str(path))
        if progress:
            progress(str(path), n + 1, len(videos))
    save_manifest(out_dir, manifest)
    summary["items"] = len(manifest["items"])
    return summary


def add_frames(entries: Sequence[dict], out_dir: str | Path, size: tuple[int, int] = (224, 224), *,
               root: str | Path | None = None, fit: str = "stretch", keep_frames: int = 640,
               quality: int = 95, by: str = "by-eye", source: str = "human") -> dict:
    """Add explicitly listed frames (``{"video", "frame", "label", "shot"?}``, e.g. a by-eye
    labelled set) with their labels (``source``, default human). Relative video paths are
    taken from ``root``. Resumable like ``build_dataset``."""
    from reelscope.media.info import probe

    out_dir = Path(out_dir)
    manifest = _open_manifest(out_dir, size, fit)
    by_video: dict[Path, list[dict]] = {}
    for e in entries:
        p = Path(e["video"])
        if not p.is_absolute() and root is not None:
            p = Path(root) / p
        if e.get("label") is not None and e["label"] not in FOLDERS:
            raise ValueError(f"{e}: label must be one of {', '.join(CLASSES)}")
        by_video.setdefault(p, []).append(e)
    summary = {"added": 0, "missing": 0}
    for path, es in by_video.items():
        info = probe(path)
        wanted = [{"id": item_id(path.stem, info.fingerprint, e.get("shot"), int(e["frame"])), "shot": e.get("shot"),
                   "frame": int(e["frame"]), "label": e.get("label"), "source": source if e.get("label") else "auto",
                   "by": by} for e in es]
        added, missing = _add_items(out_dir, manifest, path, info, wanted, classifier=None,
                                    keep_frames=keep_frames, quality=quality)
        summary["added"] += added
        summary["missing"] += missing
        save_manifest(out_dir, manifest)
    save_manifest(out_dir, manifest)
    summary["items"] = len(manifest["items"])
    return summary


# ---- review --------------------------------------------------------------------------------

def list_items(out_dir: str | Path, label: str | None = None, source: str | None = None) -> list[dict]:
    """Items of the dataset, optionally only those with ``label`` ('unlabelled' for none) and
    ``source``."""
    items = load_manifest(out_dir)["items"]
    if label is not None:
        items = [it for it in items if folder_of(it["label"]) == label]
    if source is not None:
        items = [it for it in items if it["source"] == source]
    return items


def counts(out_dir: str | Path) -> dict[str, dict[str, int]]:
    """{label folder: {source: count}}."""
    out: dict[str, dict[str, int]] = {}
    for it in load_manifest(out_dir)["items"]:
        d = out.setdefault(folder_of(it["label"]), {})
        d[it["source"]] = d.get(it["source"], 0) + 1
    return out


def _find(manifest: dict, ref: str) -> dict:
    """An item by id, by file name, or by a unique prefix of its id."""
    ref = Path(ref).name
    ref = ref[:-4] if ref.endswith(".jpg") else ref
    index = _index(manifest)
    if ref in index:
        return index[ref]
    hits = [it for i, it in index.items() if i.startswith(ref)]
    if len(hits) == 1:
        return hits[0]
    raise KeyError(f"no dataset item {ref!r}" if not hits else f"{ref!r} matches {len(hits)} items; be more specific")


def relabel(out_dir: str | Path, item: str, label: str | None, *, by: str | None = None) -> dict:
    """Give ``item`` (id, file name or unique id prefix) a new ``label`` (a class,
    'unlabelled'/None or 'rejected'): the image moves to that folder and the manifest records
    who and when. A person's label is source 'human' (generated items stay 'generated')."""
    out_dir = Path(out_dir)
    label = None if label in (None, UNLABELLED) else label
    if label is not None and label not in FOLDERS:
        raise ValueError(f"label must be one of {', '.join(FOLDERS)}, got {label!r}")
    manifest = load_manifest(out_dir)
    it = _find(manifest, item)
    old_file = item_path(out_dir, it)
    new_rel = f"{folder_of(label)}/{it['id']}.jpg"
    if new_rel != it["file"]:
        (out_dir / new_rel).parent.mkdir(parents=True, exist_ok=True)
        if old_file.is_file():
            shutil.move(str(old_file), str(out_dir / new_rel))
    previous = it["label"]
    it.update({"file": new_rel, "label": label, "confidence": None,
               "source": "generated" if it["source"] == "generated" else "human"})
    it.setdefault("history", []).append({"label": label, "previous": previous, "source": it["source"],
                                         "by": _user(by), "at": _now()})
    save_manifest(out_dir, manifest)
    return it


def accept(out_dir: str | Path, items: Sequence[str] | None = None, *, label: str | None = None,
           by: str | None = None) -> int:
    """Confirm classifier proposals as human labels: the given items, or every 'auto' item
    (with ``label``: of that label). Returns how many were confirmed."""
    out_dir = Path(out_dir)
    manifest = load_manifest(out_dir)
    chosen = [_find(manifest, i) for i in items] if items else [
        it for it in manifest["items"] if it["source"] == "auto" and it["label"] is not None
        and (label is None or it["label"] == label)]
    who, when = _user(by), _now()
    for it in chosen:
        if it["label"] is None or it["source"] != "auto":
            continue
        it["source"] = "human"
        it.setdefault("history", []).append({"label": it["label"], "previous": it["label"], "source": "human",
                                             "by": who, "at": when, "accepted": True})
    save_manifest(out_dir, manifest)
    return len(chosen)


def contact_sheet(out_dir: str | Path, label: str, path: str | Path, *, cols: int = 8, thumb: int = 160) -> int:
    """A JPEG grid of the items under ``label`` with their ids, for reviewing by eye."""
    items = list_items(out_dir, label)
    if not items:
        return 0
    rows = (len(items) + cols - 1) // cols
    th = thumb + 14
    sheet = np.full((rows * th, cols * thumb, 3), 255, np.uint8)
    for k, it in enumerate(items):
        r, c = divmod(k, cols)
        try:
            img = cv2.resize(read_rgb(item_path(out_dir, it)), (thumb, thumb), interpolation=cv2.INTER_AREA)
        except ValueError:
            continue
        sheet[r * th:r * th + thumb, c * thumb:(c + 1) * thumb] = img
        cv2.putText(sheet, it["id"][-22:], (c * thumb + 2, r * th + thumb + 11), cv2.FONT_HERSHEY_PLAIN, 0.7,
                    (0, 0, 0), 1, cv2.LINE_AA)
    write_rgb(path, sheet, 90)
    return len(items)


# ---- ECUs for a dataset --------------------------------------------------------------------

def _source_image(out_dir: Path, it: dict) -> np.ndarray:
    """The item's frame at source resolution if kept, else its dataset image brought back to
    the source aspect ratio (undoing a stretch)."""
    ff = it.get("frame_file")
    if ff and (out_dir / ff).is_file():
        return read_rgb(out_dir / ff)
    img = read_rgb(item_path(out_dir, it))
    w, h = it.get("width"), it.get("height")
    if w and h:
        s = img.shape[0] / h
        img = cv2.resize(img, (max(1, round(w * s)), img.shape[0]), interpolation=cv2.INTER_LINEAR)
    return img


def generate_ecus(out_dir: str | Path, *, ratio: float = 0.5, grid: int = 5, detector=None,
                  saliency: str = "spectral_residual", from_label: str = "CU",
                  sources: Sequence[str] = ("human", "auto"), overwrite: bool = False,
                  quality: int = 95, progress: Progress | None = None) -> dict:
    """Make one generated ECU (``ECU/gen_<parent id>.jpg``, source 'generated', ``parent``
    the CU item) from every ``from_label`` item of the dataset; resumable (existing crops are
    kept unless ``overwrite``). Returns {"generated", "skipped", "face", "saliency"}."""
    out_dir = Path(out_dir)
    manifest = load_manifest(out_dir)
    size, fit = tuple(manifest["size"]), manifest["fit"]
    index = _index(manifest)
    parents = [it for it in manifest["items"] if it["label"] == from_label and it["source"] in sources]
    stats = {"generated": 0, "skipped": 0, "removed": 0, "face": 0, "saliency": 0}
    # crops whose parent is gone or no longer a close-up (relabelled since) are stale
    live = {it["id"] for it in parents}
    for it in [it for it in manifest["items"] if it["source"] == "generated" and it.get("parent") not in live]:
        item_path(out_dir, it).unlink(missing_ok=True)
        manifest["items"].remove(it)
        index.pop(it["id"], None)
        stats["removed"] += 1
    for k, it in enumerate(parents):
        gid = f"gen_{it['id']}"
        old = index.get(gid)
        if old is not None and not overwrite and item_path(out_dir, old).is_file():
            stats["skipped"] += 1
            continue
        crop, info = generate_ecu(_source_image(out_dir, it), ratio=ratio, grid=grid, size=size, detector=detector,
                                  saliency=saliency, fit=fit)
        label = old["label"] if old is not None and old["label"] == REJECTED else "ECU"
        rel = f"{folder_of(label)}/{gid}.jpg"
        write_rgb(out_dir / rel, crop, quality)
        item = {"id": gid, "file": rel, "video": it.get("video"), "fingerprint": it.get("fingerprint"),
                "shot": it.get("shot"), "frame": it.get("frame"), "time": it.get("time"),
                "label": label, "source": "generated", "confidence": None, "parent": it["id"], "ecu": info,
                "history": [{"label": label, "source": "generated", "by": "generate_ecus", "at": _now()}]}
        if old is not None:
            manifest["items"].remove(old)
        manifest["items"].append(item)
        index[gid] = item
        stats["generated"] += 1
        stats[info["method"]] += 1
        if progress:
            progress(k + 1, len(parents))
        if stats["generated"] % 25 == 0:
            save_manifest(out_dir, manifest)
    save_manifest(out_dir, manifest)
    return stats


__all__ = ["CLASSES", "FOLDERS", "SOURCES", "fit_image", "grid_centres", "saliency_map", "saliency_centroid",
           "generate_ecu", "build_dataset", "add_frames", "list_items", "counts", "relabel", "accept",
           "contact_sheet", "generate_ecus", "load_manifest", "save_manifest", "item_path", "read_rgb", "write_rgb"]
