"""Identity gallery and labeling on a real archive database: name, recognise, merge, split, undo,
photos, and two labelers at once."""
import threading

import numpy as np
import pytest

import reelscope
from reelscope.archive import Archive
from reelscope.archive import schema as db
from reelscope.archive.gallery import ConflictError, Gallery, from_blob, to_blob
from reelscope.errors import ReelscopeError

rng = np.random.default_rng(7)
PEOPLE = {name: rng.normal(size=128) for name in ("anna", "ben", "cara")}


def face_vec(person: str, noise: float = 0.02) -> np.ndarray:
    v = PEOPLE[person] / np.linalg.norm(PEOPLE[person]) + rng.normal(scale=noise, size=128)
    return (v / np.linalg.norm(v)).astype(np.float32)


@pytest.fixture
def archive(tmp_path, short_video, db_url):
    """Two analysed videos with hand-made characters: video 1 has anna, ben (ben in 2 tracks);
    video 2 has anna and cara. On SQLite and on PostgreSQL (when a server is configured)."""
    a = Archive(tmp_path / "a", db_url)
    reelscope.analyze(short_video, archive=a, stages=["fast"])
    other = tmp_path / "copy.mp4"
    other.write_bytes(short_video.read_bytes() + b"\0")  # a different file: new fingerprint
    reelscope.analyze(other, archive=a, stages=["fast"])
    with a.session() as s, s.begin():
        for vid, people in ((1, ["anna", "ben", "ben"]), (2, ["anna", "cara"])):
            chars = {}
            for k, person in enumerate(people):
                e = face_vec(person)
                if person not in chars:
                    c = db.Character(video_id=vid, idx=len(chars), screen_time=1.0, first_frame=k * 10,
                                     last_frame=k * 10 + 5, first_time=0, last_time=1, expressions={},
                                     embedding=to_blob(e))
                    s.add(c)
                    s.flush()
                    chars[person] = c
                t = db.FaceTrack(video_id=vid, character_id=chars[person].id, shot_idx=0, first_frame=k * 10,
                                 last_frame=k * 10 + 5, seconds=1.0, embedding=to_blob(e))
                s.add(t)
                s.flush()
                s.add(db.Face(video_id=vid, track_id=t.id, frame=k * 10, time=0.0, x=0, y=0, w=10, h=10,
                              score=1.0, embedding=to_blob(e), expression="happy" if person == "anna" else "neutral"))
    yield a
    a.close()


def by_video(g: Gallery) -> dict:
    return {(c.video_id, c.idx): (c.identity.name if c.identity else None, c.naming) for c in g.characters()}


def test_name_once_recognised_elsewhere_unknown_stays_unknown(archive):
    g = Gallery(archive)
    g.name(1, "Anna")  # character 1 = anna in video 1
    state = by_video(g)
    assert state[(1, 0)] == ("Anna", "named")
    assert state[(2, 0)] == ("Anna", "recognised")
    assert state[(1, 1)] == (None, "unknown") and state[(2, 1)] == (None, "unknown")


def test_undo_name(archive):
    g = Gallery(archive)
    g.name(1, "Anna")
    g.undo()
    assert all(v == (None, "unknown") for v in by_video(g).values())
    assert g.identities() == []
    with pytest.raises(ReelscopeError, match="nothing to undo"):
        g.undo()


def test_add_photo_recognises(archive):
    g = Gallery(archive)
    g.add_photo("Cara", [face_vec("cara")], "cara.jpg")
    assert by_video(g)[(2, 1)] == ("Cara", "recognised")
    g.undo()
    assert by_video(g)[(2, 1)] == (None, "unknown")


def test_split_then_merge_then_undo(archive):
    g = Gallery(archive)
    ben = g.character(2)
    with archive.session() as s:
        tracks = [t.id for t in s.query(db.FaceTrack).filter_by(character_id=ben.id)]
    assert len(tracks) == 2
    new = g.split(ben.id, tracks[1:])
    assert len(g.characters(1)) == 3
    merged = g.merge([ben.id, new.id])
    assert merged.id == ben.id and len(g.characters(1)) == 2
    g.undo()  # merge undone
    assert len(g.characters(1)) == 3
    g.undo()  # split undone
    chars = g.characters(1)
    assert len(chars) == 2
    with archive.session() as s:
        assert s.query(db.FaceTrack).filter_by(character_id=ben.id).count() == 2


def test_named_characters_are_not_overwritten_by_recognition(archive):
    g = Gallery(archive)
    g.name(1, "Anna")
    g.name(3, "Anne")  # the same face named differently by a person in video 2: respected
    state = by_video(g)
    assert state[(1, 0)] == ("Anna", "named") and state[(2, 0)] == ("Anne", "named")


def test_stale_version_is_a_conflict(archive):
    g = Gallery(archive)
    c = g.character(1)
    g.name(1, "Anna")
    with pytest.raises(ConflictError):
        g.name(1, "Someone", expected_version=c.version)


def test_two_labelers_at_once_lose_nothing(archive):
    errors = []

    def label(cid, name, user):
        try:
            Gallery(Archive(archive.location, archive.url), user=user).name(cid, name)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=label, args=(1, "Anna", "u1")),
               threading.Thread(target=label, args=(4, "Cara", "u2"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    g = Gallery(archive)
    state = by_video(g)
    assert state[(1, 0)] == ("Anna", "named") and state[(2, 1)] == ("Cara", "named")
    assert {e.user for e in g.history()} == {"u1", "u2"}


def test_people_on_screen_together_are_not_the_same_identity(archive):
    """Cannot-link in recognition: in video 2, anna and cara share frames; a gallery identity
    close to both may be given to one of them only (the closer)."""
    with archive.session() as s, s.begin():
        tracks = {t.character_id: t for t in s.query(db.FaceTrack).filter_by(video_id=2)}
        a, c = tracks[3], tracks[4]
        c.first_frame, c.last_frame = a.first_frame, a.last_frame  # on screen together
    g = Gallery(archive, threshold=2.0)  # so loose that everyone would match
    g.name(1, "Anna")
    state = by_video(g)
    assert state[(2, 0)] == ("Anna", "recognised")  # the closer one
    assert state[(2, 1)] == (None, "unknown")
