"""REST API service figures: image endpoint latency (p50/p95) for a 1920x1080 JPEG, throughput
under 8 concurrent clients, and video-job throughput in source frames per second.

    .venv/bin/python bench/bench_api.py [--requests 30] [--clients 8]

Runs the real server (uvicorn) on 127.0.0.1 over a temporary archive; the seed's target is
"under one second per FHD frame".
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("REELSCOPE_TEST_DATA", ROOT.parent / "shared" / "data"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fhd_jpeg() -> bytes:
    """A 1920x1080 JPEG: a real video frame (Big Buck Bunny 720p) scaled up, with two MEDS faces pasted."""
    import cv2

    from reelscope.media.decode import FrameSpec, iter_frames

    frame = next(f for f in iter_frames(DATA / "video/big_buck_bunny_0_30.webm", [FrameSpec("rgb")]) if f.index == 300)
    img = cv2.resize(cv2.cvtColor(frame[FrameSpec("rgb")], cv2.COLOR_RGB2BGR), (1920, 1080))
    for k, name in enumerate(["S001-01-t10_01.jpg", "S044-01-t10_01.jpg"]):
        face = cv2.imread(str(DATA / "faces/meds2_nist_sd32" / name))
        face = cv2.resize(face, (300, int(300 * face.shape[0] / face.shape[1])))
        y, x = 200, 400 + k * 800
        img[y:y + face.shape[0], x:x + face.shape[1]] = face
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return buf.tobytes()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "api.json"))
    args = ap.parse_args()
    import httpx
    import uvicorn

    from reelscope.api.app import create_app

    tmp = tempfile.mkdtemp()
    video = DATA / "video/big_buck_bunny_0_30.webm"
    app = create_app(Path(tmp) / "archive", token="bench", allowed_roots=(str(DATA),),
                     heavy_slots=args.clients)  # the figure is throughput, not the 429 bound
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base + "/api/health", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    jpeg = fhd_jpeg()
    res = {"date": datetime.now(timezone.utc).isoformat(), "machine": f"{platform.processor() or 'x86_64'}, "
           f"{os.cpu_count()} CPUs", "load_average": os.getloadavg(), "image_bytes": len(jpeg)}

    def one(client) -> float:
        t = time.perf_counter()
        r = client.post(base + "/api/analyze/image", files={"file": ("fhd.jpg", jpeg, "image/jpeg")}, timeout=120)
        r.raise_for_status()
        return time.perf_counter() - t

    with httpx.Client() as c:
        first = one(c)  # model loading
        lat = [one(c) for _ in range(args.requests)]
        faces = len(c.post(base + "/api/analyze/image", files={"file": ("fhd.jpg", jpeg, "image/jpeg")}).json()["faces"])
    q = statistics.quantiles(lat, n=20)
    res["image_latency_s"] = {"first_request": round(first, 3), "p50": round(statistics.median(lat), 3),
                              "p95": round(q[18], 3), "mean": round(statistics.mean(lat), 3), "n": len(lat),
                              "faces_found": faces}
    print("latency", res["image_latency_s"])

    per_client = max(2, args.requests // args.clients)
    t = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as ex:
        def client_run(_):
            with httpx.Client() as c:
                return [one(c) for _ in range(per_client)]
        all_lat = [x for xs in ex.map(client_run, range(args.clients)) for x in xs]
    dt = time.perf_counter() - t
    res["concurrent"] = {"clients": args.clients, "requests": len(all_lat), "seconds": round(dt, 2),
                         "images_per_s": round(len(all_lat) / dt, 2),
                         "p50": round(statistics.median(all_lat), 3),
                         "p95": round(statistics.quantiles(all_lat, n=20)[18], 3)}
    print("concurrent", res["concurrent"])

    with httpx.Client(headers={"Authorization": "Bearer bench"}) as c:
        for stages in (["shots", "keyframes"], ["shots", "keyframes", "faces"]):
            t = time.perf_counter()
            job = c.post(base + "/api/jobs", json={"path": str(video), "stages": stages, "force": True}).json()
            while True:
                j = c.get(base + f"/api/jobs/{job['id']}").json()
                if j["status"] in ("done", "failed", "cancelled"):
                    break
                time.sleep(0.2)
            dt = time.perf_counter() - t
            vid = j.get("video_id") or (j.get("result") or {}).get("video_id")
            frames = c.get(base + f"/api/videos/{vid}").json()["frame_count"] if vid else 0
            key = "+".join(stages)
            res[f"video_job[{key}]"] = {"video": str(video.relative_to(DATA)), "status": j["status"],
                                        "seconds": round(dt, 2), "frames": frames,
                                        "source_frames_per_s": round(frames / dt, 1) if dt else None}
            print(key, res[f"video_job[{key}]"])
    server.should_exit = True
    Path(args.out).write_text(json.dumps(res, indent=2))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
