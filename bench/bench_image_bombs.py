"""Image bombs against `reelscope serve`: status code, seconds and the server process's peak
memory (VmHWM) for a 30000x30000 and a 50000x50000 PNG (1-bit, about 110 and 300 KB) posted
to each image upload endpoint, one fresh server per request so each peak is that request's.

    .venv/bin/python bench/bench_image_bombs.py [--checkout PATH] [--only analyze/image] [--sizes 30000]

``--checkout`` serves another checkout of reelscope (e.g. an older commit, to measure what the
pixel check changed); the bombs are made by tests/image_bombs.py.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

import live_server  # noqa: E402  (tests/live_server.py: `reelscope serve` in a process)
from image_bombs import png_bomb  # noqa: E402
from machine_info import machine  # noqa: E402

ENDPOINTS = {"analyze/image": ("file", {}), "analyze/images": ("files", {}),
             "identities/photo": ("file", {"name": "Bomb"})}


def one(checkout: Path, endpoint: str, size: int, data: bytes) -> dict:
    live_server.REPO = checkout
    field, fields = ENDPOINTS[endpoint]
    body, ctype = live_server.multipart(fields, [(field, f"bomb{size}.png", data)])
    with tempfile.TemporaryDirectory() as tmp, live_server.process_server(Path(tmp) / "archive") as (url, proc):
        idle = live_server.peak_rss_mb(proc.pid)
        t = time.perf_counter()
        status, _, out = live_server.request(f"{url}/api/{endpoint}", "POST", body, {"Content-Type": ctype}, timeout=600)
        took = time.perf_counter() - t
        peak = live_server.peak_rss_mb(proc.pid)
    try:
        detail = json.loads(out)
        detail = detail.get("detail") if isinstance(detail, dict) else detail[0].get("error")
    except ValueError:
        detail = out[:200].decode(errors="replace")
    return {"endpoint": endpoint, "size": f"{size}x{size}", "file_bytes": len(data), "status": status,
            "seconds": round(took, 2), "idle_rss_mb": round(idle), "peak_rss_mb": round(peak), "detail": detail}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkout", type=Path, default=ROOT)
    ap.add_argument("--only", action="append", choices=list(ENDPOINTS), help="endpoints (default: all)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[30000, 50000])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "image_bombs.json")
    args = ap.parse_args()
    res = {"date": datetime.now(timezone.utc).isoformat(), "machine": machine(("opencv-contrib-python-headless",)),
           "checkout": str(args.checkout), "runs": []}
    bombs = {n: png_bomb(n, n) for n in args.sizes}
    for n, data in bombs.items():
        for endpoint in args.only or ENDPOINTS:
            r = one(args.checkout.resolve(), endpoint, n, data)
            print(json.dumps(r))
            res["runs"].append(r)
    args.out.write_text(json.dumps(res, indent=2))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
