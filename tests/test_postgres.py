"""The same archive on a real PostgreSQL server (REELSCOPE_TEST_PG_URL, set by .ci/run)."""
import os
import uuid

import pytest
from sqlalchemy import create_engine, text

import reelscope
from reelscope.archive import Archive

URL = os.environ.get("REELSCOPE_TEST_PG_URL")
pytestmark = pytest.mark.skipif(not URL, reason="REELSCOPE_TEST_PG_URL not set (no PostgreSQL server)")


@pytest.fixture
def pg_url():
    """A fresh database per test on the server."""
    name = f"rs_{uuid.uuid4().hex[:10]}"
    admin = create_engine(URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    yield URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def test_analyze_into_postgres(tmp_path, pg_url, edit_video):
    (o,) = reelscope.analyze(edit_video, archive=Archive(tmp_path, pg_url))
    assert o.status == "analyzed"
    with Archive(tmp_path, pg_url) as a:
        assert a.engine.dialect.name == "postgresql"
        v = a.video(o.video_id)
        assert len(v.shots) == 5 and [t.type for t in v.transitions] == ["cut", "dissolve", "fade", "wipe"]
    (o2,) = reelscope.analyze(edit_video, archive=Archive(tmp_path, pg_url), force=True)
    with Archive(tmp_path, pg_url) as a:
        assert len(a.videos()) == 1 and len(a.video(o2.video_id).shots) == 5
