"""Restart behaviour of ``reelscope serve``: a job stopped by SIGTERM or SIGKILL of the server
in the middle of an analysis, the server started again over the same archive. Measured per run:

- stop: seconds from the signal until the process had exited;
- start: seconds from starting the new process until /api/health answered (recovery included);
- seen: the job's status right after the restart, and the note it shows;
- resume: seconds from the restart until the job was done;
- ran_before_stop: seconds the job had run when the signal was sent;
- total: seconds from submitting the job until it was done, against an uninterrupted run
  (baseline) measured in the same session, interleaved; ``lost`` = total - baseline - downtime
  (downtime = stop + the pause before the restart + start): the work done twice (noisy on a
  shared machine: compare with ran_before_stop).

    .venv/bin/python bench/bench_restart.py [--runs 3] [--seconds 20] [--at 40] [--out bench/results/restart.json]

The video: a synthetic clip of ``--seconds`` (conftest.scene/shot_frame, libx264 ultrafast); the
job: shots + faces at 25 fps; the signal is sent once the job reports ``--at`` percent.
"""
from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from machine_info import machine  # noqa: E402
from live_server import ServeProcess  # noqa: E402

TOKEN = "bench-token"
JOB = {"stages": ["shots", "faces"], "params": {"faces": {"sample_fps": 25.0}}}


def make_video(folder: Path, seconds: int) -> Path:
    from conftest import encode, scene, shot_frame

    n = seconds * 25
    worlds = [scene(60 + k) for k in range(max(1, n // 250 + 1))]
    return encode(folder / "long.mp4", [shot_frame(worlds[t // 250], t) for t in range(n)],
                  options={"preset": "ultrafast"})


def poll(srv: ServeProcess, job_id: str, until, timeline: list, t0: float, timeout: float = 1800) -> dict:
    while True:
        job = srv.call(f"/api/jobs/{job_id}")
        if not timeline or timeline[-1][1] != job["status"]:
            timeline.append((round(time.monotonic() - t0, 2), job["status"], job["progress"]["percent"]))
        if until(job):
            return job
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"job {job_id} still {job['status']}")
        time.sleep(0.1)


def run(work: Path, video: Path, sig: int | None, at: float, pause: float) -> dict:
    archive = work / f"archive-{time.monotonic_ns()}"
    srv = ServeProcess(archive, video.parent, TOKEN, log=work / "serve.log")
    timeline: list = []
    out: dict = {"signal": signal.Signals(sig).name if sig else None}
    try:
        srv.start()
        t0 = time.monotonic()
        job = srv.call("/api/jobs", {"path": str(video), **JOB})
        if sig is not None:
            poll(srv, job["id"], lambda j: j["status"] == "running" and j["progress"]["percent"] >= at, timeline, t0)
            out["stopped_at_percent"] = srv.call(f"/api/jobs/{job['id']}")["progress"]["percent"]
            out["ran_before_stop"] = round(time.monotonic() - t0, 2)
            out["stop"] = round(srv.stop(sig), 2)
            time.sleep(pause)
            restart = time.monotonic()
            out["start"] = round(srv.start(), 2)
            seen = srv.call(f"/api/jobs/{job['id']}")
            out["seen"] = {"status": seen["status"], "note": seen["note"], "restarts": seen["restarts"],
                           "percent": seen["progress"]["percent"]}
            timeline.append((round(time.monotonic() - t0, 2), "restarted", None))
        done = poll(srv, job["id"], lambda j: j["status"] in ("done", "failed", "cancelled"), timeline, t0)
        out["status"], out["attempts"] = done["status"], done["attempts"]
        out["total"] = round(time.monotonic() - t0, 2)
        if sig is not None:
            out["resume"] = round(time.monotonic() - restart, 2)
            out["downtime"] = round(out["stop"] + pause + out["start"], 2)
        out["timeline"] = timeline
        srv.stop(signal.SIGTERM)
    finally:
        srv.kill()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=20, help="length of the synthetic video")
    ap.add_argument("--at", type=float, default=40.0, help="percent of the job at which the signal is sent")
    ap.add_argument("--pause", type=float, default=1.0, help="seconds between the stop and the restart")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "restart.json")
    a = ap.parse_args()
    info = machine(("fastapi", "uvicorn", "sqlalchemy"))
    with tempfile.TemporaryDirectory(prefix="bench-restart-") as tmp:
        work = Path(tmp)
        video = make_video(work, a.seconds)
        runs: list[dict] = []
        for k in range(a.runs):  # interleaved: baseline, SIGTERM, SIGKILL, baseline, ...
            for sig in (None, signal.SIGTERM, signal.SIGKILL):
                r = run(work, video, sig, a.at, a.pause)
                print(json.dumps({k: v for k, v in r.items() if k != "timeline"}), flush=True)
                runs.append(r)
    base = statistics.median(r["total"] for r in runs if r["signal"] is None)
    summary = {"baseline_total": base}
    for name in ("SIGTERM", "SIGKILL"):
        rs = [r for r in runs if r["signal"] == name]
        med = {k: statistics.median(r[k] for r in rs) for k in ("stop", "start", "resume", "total", "downtime",
                                                               "stopped_at_percent", "ran_before_stop")}
        med["lost"] = round(med["total"] - base - med["downtime"], 2)
        med["seen"] = sorted({f"{r['seen']['status']} (restarts {r['seen']['restarts']})" for r in rs})
        med["completed"] = sum(r["status"] == "done" for r in rs)
        summary[name] = med
    info["load_after"] = [round(x, 2) for x in __import__("os").getloadavg()]
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": info,
              "settings": vars(a) | {"out": str(a.out)}, "job": JOB, "summary": summary, "runs": runs}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
