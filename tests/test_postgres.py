"""The same archive on a real PostgreSQL server (REELSCOPE_TEST_PG_URL, set by .ci/run)."""
import pytest

import reelscope
from reelscope.archive import Archive



def test_analyze_into_postgres(tmp_path, pg_url, edit_video):
    (o,) = reelscope.analyze(edit_video, archive=Archive(tmp_path, pg_url), stages=["fast"])
    assert o.status == "analyzed"
    with Archive(tmp_path, pg_url) as a:
        assert a.engine.dialect.name == "postgresql"
        v = a.video(o.video_id)
        assert len(v.shots) == 5 and [t.type for t in v.transitions] == ["cut", "dissolve", "fade", "wipe"]
    (o2,) = reelscope.analyze(edit_video, archive=Archive(tmp_path, pg_url), force=True, stages=["fast"])
    with Archive(tmp_path, pg_url) as a:
        assert len(a.videos()) == 1 and len(a.video(o2.video_id).shots) == 5
