"""Several processes opening one new archive at the same moment: the schema is created once,
under a lock (a file lock beside the SQLite database, an advisory lock on PostgreSQL), and every
process ends with a usable archive (no 'table videos already exists', no duplicate pg_type key)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from reelscope.archive import Archive

REPO = Path(__file__).resolve().parents[1]
PROCESSES = 4

# Each child waits for a start file so that all of them open the archive within a few milliseconds.
CHILD = """
import os, sys, time
from pathlib import Path
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.001)
from reelscope.archive import Archive
a = Archive(sys.argv[2], sys.argv[3] or None)
with a.session() as s:
    from sqlalchemy import text
    print(s.execute(text("SELECT version_num FROM alembic_version")).scalar())
a.close()
"""


def test_processes_create_one_archive_at_once(tmp_path, db_url):
    location = tmp_path / "archive"
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("REELSCOPE_DB_URL", None)
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(go), str(location), db_url or ""],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(PROCESSES)]
    time.sleep(1.5)  # let every child import reelscope and reach its wait loop
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, [line for line in err.splitlines() if "Error" in line][-1:] or err[-500:]
    versions = {out.strip() for out, _ in results}
    with Archive(location, db_url) as a, a.session() as s:
        head = s.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert s.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        assert s.execute(text("SELECT count(*) FROM videos")).scalar() == 0
    assert versions == {head}
