"""A small archive of known rows for the search tests (no media: rows as the stages store them).

concert.mp4 (25 fps, 3 shots of 50 frames)
  shot 0  LS 0.9   tags: stage 0.30
  shot 1  CU 0.8   Anna smiling (happy) at frames 60, 70; Ben neutral at 80
  shot 2  MS 0.7   tags: grand piano 0.60 (frames 110: 0.70, 125: 0.50)
street.mp4 (25 fps, 3 shots of 50 frames)
  shot 0  CU 0.6   tags: sports car 0.30 (frame 20: 0.45); object: car 0.80 (detections 10: 0.7, 30: 0.8)
  shot 1  LS 0.95  tags: upright piano 0.20 (frame 75: 0.25)
  shot 2  CU 0.9   Anna sad at frame 120
"""
from __future__ import annotations

import numpy as np

from reelscope.archive import schema as db

FPS = 25


def _video(s, name: str) -> db.Video:
    v = db.Video(fingerprint=name.ljust(16, "0"), path=f"/media/{name}", filename=name, size_bytes=1000,
                 container="mp4", codec="h264", width=640, height=360, fps_num=FPS, fps_den=1, frame_count=150,
                 duration=6.0)
    s.add(v)
    s.flush()
    return v


def _shots(s, v: db.Video, sizes: list[tuple[str, float]]) -> None:
    for i, (size, conf) in enumerate(sizes):
        sh = db.Shot(video_id=v.id, idx=i, start_frame=50 * i, end_frame=50 * i + 49, start_time=2.0 * i,
                     end_time=2.0 * (i + 1), size=size, size_confidence=conf)
        s.add(sh)
        s.flush()
        s.add(db.Keyframe(shot_id=sh.id, frame=50 * i + 25, time=2.0 * i + 1.0, method="middle",
                          image=f"{v.fingerprint}/keyframes/{50 * i + 25:07d}_320x180.jpg", width=320, height=180))


def _tags(s, v: db.Video, shot: int, label: str, score: float, frames: dict[int, float]) -> None:
    s.add(db.Tag(video_id=v.id, shot_idx=shot, frame=None, time=2.0 * shot, label=label, source="imagenet", score=score))
    for f, sc in frames.items():
        s.add(db.Tag(video_id=v.id, shot_idx=shot, frame=f, time=f / FPS, label=label, source="imagenet", score=sc))


def _person(s, v: db.Video, idx: int, identity: db.Identity, shot: int, faces: dict[int, str]) -> db.Character:
    emb = np.zeros(128, np.float32).tobytes()
    frames = sorted(faces)
    c = db.Character(video_id=v.id, idx=idx, identity_id=identity.id, naming="named", screen_time=1.0,
                     first_frame=frames[0], last_frame=frames[-1], first_time=frames[0] / FPS,
                     last_time=frames[-1] / FPS, expressions={}, embedding=emb)
    s.add(c)
    s.flush()
    tr = db.FaceTrack(video_id=v.id, character_id=c.id, shot_idx=shot, first_frame=frames[0], last_frame=frames[-1],
                      seconds=1.0, embedding=emb)
    s.add(tr)
    s.flush()
    for f in frames:
        s.add(db.Face(video_id=v.id, track_id=tr.id, frame=f, time=f / FPS, x=10, y=10, w=50, h=50, score=0.9,
                      expression=faces[f]))
    return c


def build(archive) -> dict:
    """Fill ``archive`` with the rows above; returns ids by name."""
    with archive.session() as s, s.begin():
        anna, ben = db.Identity(name="Anna"), db.Identity(name="Ben")
        s.add_all([anna, ben])
        s.flush()
        concert, street = _video(s, "concert.mp4"), _video(s, "street.mp4")
        _shots(s, concert, [("LS", 0.9), ("CU", 0.8), ("MS", 0.7)])
        _shots(s, street, [("CU", 0.6), ("LS", 0.95), ("CU", 0.9)])
        _tags(s, concert, 0, "stage", 0.30, {})
        _tags(s, concert, 2, "grand piano", 0.60, {110: 0.70, 125: 0.50})
        _tags(s, street, 0, "sports car", 0.30, {20: 0.45})
        _tags(s, street, 1, "upright piano", 0.20, {75: 0.25})
        anna1 = _person(s, concert, 0, anna, 1, {60: "happy", 70: "happy"})
        ben1 = _person(s, concert, 1, ben, 1, {80: "neutral"})
        anna2 = _person(s, street, 0, anna, 2, {120: "sad"})
        tr = db.ObjectTrack(video_id=street.id, shot_idx=0, label="car", class_id=2, first_frame=10, last_frame=30,
                            score=0.8, detections=2)
        s.add(tr)
        s.flush()
        for f, sc in ((10, 0.7), (30, 0.8)):
            s.add(db.ObjectDetection(video_id=street.id, track_id=tr.id, frame=f, time=f / FPS, label="car", class_id=2,
                                     x=1, y=2, w=30, h=20, score=sc))
        return {"concert": concert.id, "street": street.id, "anna": anna.id, "ben": ben.id,
                "anna_concert": anna1.id, "ben_concert": ben1.id, "anna_street": anna2.id}


def add_speech_and_more(archive, ids: dict) -> None:
    """Transcripts written by the speech stage's writer, a label stored only on frames, action
    tags and a mood, over the rows of ``build``:

    concert shot 1 (2-4 s)  said "See you tomorrow, Anna." (2.2-3.4 s)
    concert shot 2 (4-6 s)  said "Tomorrow never comes." (4.5-5.5 s); action tag "dancing"; mood calm (tag and shot)
    street shot 0 (0-2 s)   said "You see, tomorrow." (0.5-1.5 s): the same words, another order
    street shot 2 (4-6 s)   tag "umbrella" on frame 110 only (no shot aggregate)
    """
    from sqlalchemy import select

    from reelscope.archive.speech_io import write_speech
    from reelscope.audio.transcribe import Transcript, TranscriptSegment, Word

    def seg(words: list[tuple[str, float, float]]) -> TranscriptSegment:
        return TranscriptSegment(words[0][1], words[-1][2], "".join(w for w, _, _ in words), "en", 0.99, -0.2, 0.01,
                                 [Word(a, b, w, 0.9) for w, a, b in words])

    said = {
        "concert": [seg([(" See", 2.2, 2.5), (" you", 2.5, 2.7), (" tomorrow,", 2.7, 3.1), (" Anna.", 3.1, 3.4)]),
                    seg([(" Tomorrow", 4.5, 4.9), (" never", 4.9, 5.2), (" comes.", 5.2, 5.5)])],
        "street": [seg([(" You", 0.5, 0.7), (" see,", 0.7, 1.0), (" tomorrow.", 1.0, 1.5)])],
    }
    with archive.session() as s, s.begin():
        for name, segs in said.items():
            v = s.get(db.Video, ids[name])
            write_speech(s, v, {"speech": Transcript(available=True, model="base", language="en", segments=segs)}, {})
        concert, street = ids["concert"], ids["street"]
        s.add(db.Tag(video_id=street, shot_idx=2, frame=110, time=110 / FPS, label="umbrella", source="imagenet",
                     score=0.40))
        s.add(db.Tag(video_id=concert, shot_idx=2, frame=None, time=4.0, label="dancing", source="action", score=0.8))
        s.add(db.Tag(video_id=concert, shot_idx=2, frame=None, time=4.0, label="calm", source="mood", score=0.7))
        sh = s.scalars(select(db.Shot).where(db.Shot.video_id == concert, db.Shot.idx == 2)).one()
        sh.mood, sh.mood_confidence = "calm", 0.7
