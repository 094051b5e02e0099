"""The slideshow timeline: which image shows when, with which track, and how everything fades.

Pure planning (no pixels, no audio): :func:`build_timeline` takes images with their moods and
analysed music tracks and returns a :class:`Timeline`:

- images are grouped by mood; small groups join their nearest neighbour on the mood circle;
- groups follow each other around the circle (neighbours follow neighbours, the walk starts
  after the largest gap), or by time; within a group by time / face prominence / name;
- each group gets the track whose mood is nearest (circular distance, then valence/arousal,
  then the least used); a track shorter than its group loops, a longer one is cut;
- slots get equal shares of ``length`` (or ``per_image`` seconds each); when a group's track
  has a clear beat, cut times snap to the beat nearest to the nominal cut;
- ONE envelope curve per slot (raised-cosine fade in, hold, raised-cosine fade out) drives
  both the picture (:meth:`Timeline.picture_gain`: brightness, fading through black) and the
  music (:meth:`Timeline.audio_gain` = floor + (1 - floor) * picture gain). The floor is 0 at
  the start, at the end and wherever the track changes, so the music is silent exactly where
  the picture is black and a new track always starts from silence; between two images of one
  track the music dips to ``music_floor`` while the picture passes through black.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from reelscope.errors import ReelscopeError
from reelscope.mood.circle import MOODS, circular_distance, mood_index, mood_va

ORDERS = ("mood", "time", "faces")
LOOP_CROSSFADE = 0.5  # seconds of overlap where a looping track meets its own start


@dataclass
class PlanImage:
    """One picture to place: a stable key, a display name and what the plan sorts by."""
    key: str
    name: str
    mood: str
    confidence: float = 0.0
    valence: float = 0.0
    arousal: float = 0.0
    time: float | None = None  # seconds in its source video (or capture time); None: unknown
    faces: float = 0.0  # face prominence 0..1 (area share of the largest faces)
    path: str | None = None
    thumbnail: str | None = None  # archive media path for previews
    focus: tuple[float, float] | None = None  # (x, y) 0..1: keep this point in view when cropping

    def to_dict(self) -> dict:
        return {"key": self.key, "name": self.name, "mood": self.mood, "confidence": round(self.confidence, 4),
                "valence": round(self.valence, 4), "arousal": round(self.arousal, 4), "time": self.time,
                "faces": round(self.faces, 4), "path": self.path, "thumbnail": self.thumbnail,
                "focus": list(self.focus) if self.focus else None}


@dataclass
class PlanTrack:
    """What the plan needs of an analysed music track (reelscope.mood.music.MusicAnalysis)."""
    path: str
    duration: float
    mood: str
    valence: float = 0.0
    arousal: float = 0.0
    energy: float = 0.0
    tempo: float | None = None
    beats: list[float] = field(default_factory=list)
    beat_strength: float = 0.0
    confidence: float = 0.0

    @property
    def name(self) -> str:
        return Path(self.path).name

    @classmethod
    def of(cls, a) -> "PlanTrack":
        """From a MusicAnalysis (or anything with its fields)."""
        if isinstance(a, cls):
            return a
        return cls(path=str(a.path), duration=float(a.duration), mood=str(a.mood),
                   valence=float(getattr(a, "valence", 0.0) or 0.0), arousal=float(getattr(a, "arousal", 0.0) or 0.0),
                   energy=float(getattr(a, "energy", 0.0) or 0.0), tempo=getattr(a, "tempo", None),
                   beats=[float(b) for b in (getattr(a, "beats", None) or getattr(a, "beat_times", None) or [])],
                   beat_strength=float(getattr(a, "beat_strength", 0.0) or 0.0),
                   confidence=float(getattr(a, "confidence", 0.0) or 0.0))

    def to_dict(self) -> dict:
        return {"path": self.path, "name": self.name, "duration": round(self.duration, 3), "mood": self.mood,
                "valence": round(self.valence, 4), "arousal": round(self.arousal, 4), "energy": round(self.energy, 4),
                "tempo": self.tempo, "beat_strength": round(self.beat_strength, 4), "confidence": self.confidence}


@dataclass
class Slot:
    image: int  # index into Timeline.images
    group: int  # index into Timeline.groups
    start: float
    end: float
    fade_in: float
    fade_out: float
    on_beat: bool = False  # its end was snapped to a beat

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Group:
    mood: str
    track: int  # index into Timeline.tracks
    start: float
    end: float
    images: list[int]  # indices into Timeline.images, in showing order
    track_offset: float = 0.0  # seconds into the (looped) track at the group's start
    beat_aligned: bool = False


@dataclass
class Timeline:
    images: list[PlanImage]
    tracks: list[PlanTrack]
    groups: list[Group]
    slots: list[Slot]
    duration: float
    music_floor: float
    loop_crossfade: float = LOOP_CROSSFADE
    dropped: list[int] = field(default_factory=list)  # images left out to fit the length

    # ---- the one envelope ----------------------------------------------------------------
    def _slot_index(self, t: np.ndarray) -> np.ndarray:
        starts = np.array([s.start for s in self.slots])
        return np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(self.slots) - 1)

    def picture_gain(self, t) -> np.ndarray:
        """Brightness factor 0..1 at times ``t`` (seconds): each slot's fade in, hold, fade out."""
        t = np.asarray(t, dtype=np.float64)
        k = self._slot_index(t)
        start = np.array([s.start for s in self.slots])[k]
        end = np.array([s.end for s in self.slots])[k]
        fin = np.array([s.fade_in for s in self.slots])[k]
        fout = np.array([s.fade_out for s in self.slots])[k]
        g = raised_cosine((t - start) / fin) * raised_cosine((end - t) / fout)
        return np.where((t < 0) | (t > self.duration), 0.0, g)

    def audio_gain(self, t) -> np.ndarray:
        """Music gain 0..1 at times ``t``: ``floor + (1 - floor) * picture_gain`` where the floor
        is 0 at slot edges that start/end the show or change the track, ``music_floor`` elsewhere."""
        t = np.asarray(t, dtype=np.float64)
        g = self.picture_gain(t)
        k = self._slot_index(t)
        mid = np.array([(s.start + s.end) / 2 for s in self.slots])[k]
        floor_in = np.array([self._edge_floor(i, "in") for i in range(len(self.slots))])[k]
        floor_out = np.array([self._edge_floor(i, "out") for i in range(len(self.slots))])[k]
        floor = np.where(t < mid, floor_in, floor_out)
        return floor + (1.0 - floor) * g

    def _edge_floor(self, i: int, side: str) -> float:
        j = i - 1 if side == "in" else i + 1
        if j < 0 or j >= len(self.slots):
            return 0.0
        a, b = self.groups[self.slots[i].group], self.groups[self.slots[j].group]
        return self.music_floor if a.track == b.track else 0.0

    def cuts(self) -> list[dict]:
        """Every boundary between two slots: time, and whether the track changes there."""
        out = []
        for a, b in zip(self.slots, self.slots[1:]):
            ga, gb = self.groups[a.group], self.groups[b.group]
            out.append({"time": a.end, "track_change": ga.track != gb.track, "on_beat": a.on_beat,
                        "fade_out": a.fade_out, "fade_in": b.fade_in})
        return out

    def to_dict(self) -> dict:
        """The plan as JSON (the preview of the web app and the API)."""
        groups = []
        for gi, g in enumerate(self.groups):
            slots = [s for s in self.slots if s.group == gi]
            groups.append({"index": gi, "mood": g.mood, "start": round(g.start, 3), "end": round(g.end, 3),
                           "track": {**self.tracks[g.track].to_dict(), "index": g.track},
                           "track_offset": round(g.track_offset, 3), "beat_aligned": g.beat_aligned,
                           "slots": [{"image": s.image, **self.images[s.image].to_dict(), "start": round(s.start, 3),
                                      "end": round(s.end, 3), "fade_in": round(s.fade_in, 3),
                                      "fade_out": round(s.fade_out, 3), "on_beat": s.on_beat} for s in slots]})
        return {"duration": round(self.duration, 3), "music_floor": self.music_floor, "images": len(self.slots),
                "dropped": [self.images[i].to_dict() for i in self.dropped], "groups": groups,
                "cuts": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in c.items()} for c in self.cuts()]}


def raised_cosine(x) -> np.ndarray:
    """0 at x <= 0, 1 at x >= 1, a half cosine between (zero slope at both ends: no clicks)."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


# ---- building ---------------------------------------------------------------------------------
def build_timeline(images: Sequence[PlanImage], tracks: Sequence, *, length: float | None = None,
                   per_image: float | None = None, order: str = "mood", min_slot: float = 2.0,
                   min_group_seconds: float = 8.0, beat_threshold: float = 0.3, music_floor: float = 0.35,
                   fade: float | None = None) -> Timeline:
    """Plan a slideshow of ``images`` over ``tracks`` (MusicAnalysis or PlanTrack).

    ``length``: total seconds (exact); images are left out (the least confident of each mood,
    in proportion) when each would get less than ``min_slot``. ``per_image``: seconds per
    image (default 4; with ``length`` it sets how many images fit). ``fade``: seconds of each
    fade (default: a fifth of the slot, 0.3..1.2 s).
    """
    if order not in ORDERS:
        raise ReelscopeError(f"unknown order {order!r}; use one of {', '.join(ORDERS)}")
    images = list(images)
    if not images:
        raise ReelscopeError("no usable images for the slideshow")
    plan_tracks = [PlanTrack.of(t) for t in tracks]
    plan_tracks = [t for t in plan_tracks if t.duration > 2 * LOOP_CROSSFADE + 0.1]
    if not plan_tracks:
        raise ReelscopeError("no usable music tracks for the slideshow")
    for im in images:
        mood_index(im.mood)  # validates
    if length is not None and length <= 0:
        raise ReelscopeError(f"slideshow length must be positive, got {length}")
    if per_image is not None and per_image <= 0:
        raise ReelscopeError(f"seconds per image must be positive, got {per_image}")

    n_all = len(images)
    if length is not None:
        n = min(n_all, max(1, int(round(length / per_image)) if per_image else int(length // min_slot)))
        d = length / n
    else:
        d = per_image or 4.0
        n = n_all
    keep = _select(images, n)
    dropped = [i for i in range(n_all) if i not in set(keep)]
    groups = _group(images, keep, d, min_group_seconds)
    groups = _order_groups(images, groups, order)
    groups = [_order_within(images, g, order) for g in groups]
    assignment = _assign_tracks(images, groups, plan_tracks, d)
    total = length if length is not None else n * d
    return _lay_out(images, plan_tracks, groups, assignment, d, total, fixed_end=length is not None,
                    beat_threshold=beat_threshold, music_floor=music_floor, fade=fade, min_slot=min(min_slot, d),
                    dropped=dropped)


def _select(images: list[PlanImage], n: int) -> list[int]:
    """n of the images, each mood keeping its share (largest remainder), most confident first."""
    if n >= len(images):
        return list(range(len(images)))
    by_mood: dict[str, list[int]] = {}
    for i, im in enumerate(images):
        by_mood.setdefault(im.mood, []).append(i)
    quota = {m: n * len(ix) / len(images) for m, ix in by_mood.items()}
    take = {m: int(q) for m, q in quota.items()}
    for m in sorted(quota, key=lambda m: (-(quota[m] - take[m]), -len(by_mood[m]), m))[:n - sum(take.values())]:
        take[m] += 1
    keep = []
    for m, ix in by_mood.items():
        best = sorted(ix, key=lambda i: (-images[i].confidence, -images[i].faces, i))[:take[m]]
        keep.extend(best)
    return sorted(keep)


def _group(images: list[PlanImage], keep: list[int], d: float, min_group_seconds: float) -> list[list[int]]:
    by_mood: dict[str, list[int]] = {}
    for i in keep:
        by_mood.setdefault(images[i].mood, []).append(i)
    groups = [{"mood": m, "images": ix} for m, ix in by_mood.items()]
    # a group too short for its own track joins its nearest neighbour on the circle
    while len(groups) > 1:
        small = [g for g in groups if len(g["images"]) * d < min_group_seconds]
        if not small:
            break
        g = min(small, key=lambda g: (len(g["images"]), mood_index(g["mood"])))
        others = [o for o in groups if o is not g]
        target = min(others, key=lambda o: (circular_distance(g["mood"], o["mood"]), -len(o["images"]),
                                            mood_index(o["mood"])))
        target["images"].extend(g["images"])
        groups.remove(g)
    return [(g["mood"], sorted(g["images"])) for g in groups]


def _order_groups(images, groups, order: str):
    if order == "time":
        def first_time(g):
            ts = [images[i].time for i in g[1] if images[i].time is not None]
            return (min(ts) if ts else math.inf, mood_index(g[0]))
        return sorted(groups, key=first_time)
    # around the circle: start after the largest gap between the moods present, so the walk
    # never crosses it and each step goes to the nearest mood present in that direction
    groups = sorted(groups, key=lambda g: mood_index(g[0]))
    if len(groups) < 2:
        return groups
    pos = [mood_index(g[0]) for g in groups]
    gaps = [(pos[(k + 1) % len(pos)] - pos[k]) % len(MOODS) for k in range(len(pos))]
    start = (int(np.argmax(gaps)) + 1) % len(groups)
    return groups[start:] + groups[:start]


def _order_within(images, group, order: str):
    mood, ix = group
    if order == "faces":
        key = lambda i: (-images[i].faces, _t(images[i]), images[i].name)  # noqa: E731
    else:
        key = lambda i: (_t(images[i]), images[i].name, i)  # noqa: E731
    return mood, sorted(ix, key=key)


def _t(im: PlanImage) -> float:
    return im.time if im.time is not None else math.inf


def _assign_tracks(images, groups, tracks: list[PlanTrack], d: float) -> list[int]:
    """Per group: the nearest mood first; among equals a track not used yet, then one long enough
    not to repeat more than twice (a 3 s bird call under a minute of pictures is a jingle), then
    the nearest (valence, arousal)."""
    used = [0] * len(tracks)
    out = []
    for mood, ix in groups:
        v = float(np.mean([images[i].valence for i in ix]))
        a = float(np.mean([images[i].arousal for i in ix]))
        gv, ga = mood_va(mood)
        # the group's own (valence, arousal) when known, else its mood's direction
        v, a = (v, a) if (v or a) else (gv, ga)

        def key(k, v=v, a=a, mood=mood, span=len(ix) * d):
            t = tracks[k]
            return (circular_distance(mood, t.mood), used[k], t.duration < span / 2,
                    abs(t.valence - v) + abs(t.arousal - a), t.name)
        best = min(range(len(tracks)), key=key)
        used[best] += 1
        out.append(best)
    return out


def _beat_grid(track: PlanTrack, offset: float, span: float, threshold: float) -> np.ndarray | None:
    """Beat times (seconds from ``offset`` into the looped track) within ``span``, or None when
    the track has no clear beat."""
    beats = np.asarray(sorted(b for b in track.beats if 0 <= b < track.duration), dtype=np.float64)
    if track.beat_strength < threshold or len(beats) < 4:
        return None
    period = track.duration - LOOP_CROSSFADE  # (renderer loops with the same overlap)
    loops = int(math.ceil((offset + span) / period)) + 1
    grid = np.concatenate([beats + k * period for k in range(loops)]) - offset
    return grid[(grid > 0) & (grid <= span + 1e-9)]


def _lay_out(images, tracks, groups, assignment, d, total, *, fixed_end, beat_threshold, music_floor, fade,
             min_slot, dropped) -> Timeline:
    slots: list[Slot] = []
    out_groups: list[Group] = []
    n_before = 0
    start = 0.0
    offsets: dict[int, float] = {}
    n_total = sum(len(ix) for _, ix in groups)
    for gi, ((mood, ix), tk) in enumerate(zip(groups, assignment)):
        track = tracks[tk]
        # the same track as the group before: it plays on instead of starting over
        prev_same = gi > 0 and assignment[gi - 1] == tk
        offset = offsets.get(tk, 0.0) if prev_same else 0.0
        last_group = gi == len(groups) - 1
        nominal = [(n_before + j + 1) * d for j in range(len(ix))]  # global grid: no drift
        if last_group:
            nominal[-1] = total
        grid = _beat_grid(track, offset, nominal[-1] - start + d, beat_threshold)
        cuts, snapped = [], []
        prev = start
        for j, t in enumerate(nominal):
            fixed = last_group and j == len(ix) - 1 and fixed_end
            best = t
            ok = False
            if grid is not None and not fixed:
                cand = start + grid
                cand = cand[(cand - prev >= 0.75 * min_slot)]
                period = float(np.median(np.diff(grid))) if len(grid) > 1 else d
                if len(cand):
                    c = float(cand[np.argmin(np.abs(cand - t))])
                    if abs(c - t) <= max(period / 2 + 1e-6, 0.25 * d):
                        best, ok = c, True
            if best - prev < 0.5 * min_slot:  # never a sliver
                best, ok = max(t, prev + min_slot), False
            cuts.append(best)
            snapped.append(ok)
            prev = best
        gstart = start
        for j, i in enumerate(ix):
            slots.append(Slot(image=i, group=gi, start=start, end=cuts[j], fade_in=0.0, fade_out=0.0,
                              on_beat=snapped[j]))
            start = cuts[j]
        out_groups.append(Group(mood=mood, track=tk, start=gstart, end=start, images=list(ix), track_offset=offset,
                                beat_aligned=grid is not None and any(snapped)))
        offsets[tk] = offset + (start - gstart)
        n_before += len(ix)
    assert n_before == n_total
    tl = Timeline(images=list(images), tracks=list(tracks), groups=out_groups, slots=slots, duration=start,
                  music_floor=float(music_floor), dropped=dropped)
    _set_fades(tl, fade)
    return tl


def _set_fades(tl: Timeline, fade: float | None) -> None:
    """Fade lengths: a fifth of the slot (0.3..1.2 s) or ``fade``; longer (up to 1.8 s) where the
    track changes, so one piece of music ebbs away before the next begins. Never more than
    45% of a slot each side."""
    for i, s in enumerate(tl.slots):
        base = fade if fade is not None else min(1.2, max(0.3, 0.2 * s.duration))
        fin = base * (1.5 if tl._edge_floor(i, "in") == 0.0 and fade is None else 1.0)
        fout = base * (1.5 if tl._edge_floor(i, "out") == 0.0 and fade is None else 1.0)
        cap = 0.45 * s.duration
        s.fade_in, s.fade_out = max(1e-3, min(fin, cap, 1.8)), max(1e-3, min(fout, cap, 1.8))
