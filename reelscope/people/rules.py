"""Label rules between detectors.

The seed system's rule: **when an object detector and the face module both report a person,
the face module's identity wins.** It lives in one function, ``merge_person_labels``.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from reelscope.vision.detections import Detections


def _face_identity(data: dict) -> Any:
    """A face's identity: a named ``identity`` first, else its ``character`` (cluster), else None."""
    ident = data.get("identity")
    return ident if ident is not None else data.get("character")


def merge_person_labels(object_dets: Detections, face_dets: Detections, *, person_class_id: int = 0,
                        containment: float = 0.8,
                        class_names: Sequence[str] | Mapping[int, str] | None = None) -> list[dict]:
    """One label per object detection, the face module's identity winning over "person".

    A face belongs to a person box when at least ``containment`` of the face box's area lies
    inside it. Each face goes to at most one person box and each person box takes at most one
    face: pairs are taken greedily by containment (highest first), ties broken by how well the
    face is centred horizontally in the person box, then by face size. A person box whose face
    carries an identity (``face_dets.data[i]["identity"]``, else ``["character"]``) is labeled
    with it; every other detection keeps its class (its name from ``class_names`` if given,
    else the class id).

    Returns, per object detection, ``{"label", "source": "face" | "object", "class_id",
    "face_index"}``; ``face_index`` is the index into ``face_dets`` of the face matched to a
    person box (also when that face has no identity), else None.
    """
    def class_label(c: int) -> Any:
        if class_names is None:
            return c
        if isinstance(class_names, Mapping):
            return class_names.get(c, c)
        return class_names[c] if 0 <= c < len(class_names) else c

    out = [{"label": class_label(int(c)), "source": "object", "class_id": int(c), "face_index": None}
           for c in object_dets.class_ids]
    persons = np.flatnonzero(object_dets.class_ids == person_class_id)
    if not len(persons) or not len(face_dets):
        return out
    p = object_dets.xyxy[persons].astype(np.float64)
    f = face_dets.xyxy.astype(np.float64)
    iw = np.clip(np.minimum(p[:, None, 2], f[None, :, 2]) - np.maximum(p[:, None, 0], f[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(p[:, None, 3], f[None, :, 3]) - np.maximum(p[:, None, 1], f[None, :, 1]), 0, None)
    face_area = np.maximum(face_dets.areas.astype(np.float64), 1e-9)
    contained = iw * ih / face_area[None, :]  # (persons, faces): share of each face inside each box
    p_cx, p_w = (p[:, 0] + p[:, 2]) / 2, np.maximum(p[:, 2] - p[:, 0], 1e-9)
    f_cx = (f[:, 0] + f[:, 2]) / 2
    off_centre = np.abs(f_cx[None, :] - p_cx[:, None]) / p_w[:, None]
    pairs = [(a, b) for a, b in zip(*np.nonzero(contained >= containment))]
    pairs.sort(key=lambda ab: (-round(float(contained[ab]), 6), float(off_centre[ab]), -float(face_area[ab[1]])))
    used_p: set[int] = set()
    used_f: set[int] = set()
    for a, b in pairs:
        if a in used_p or b in used_f:
            continue
        used_p.add(a)
        used_f.add(b)
        k = int(persons[a])
        out[k]["face_index"] = int(b)
        ident = _face_identity(face_dets.data[b])
        if ident is not None:
            out[k].update(label=ident, source="face")
    return out
