"""Images for labelling keypoints by eye: one decoded frame (as the pipeline decodes it: PyAV,
rotation applied, display pixels, 0-based frame index), or a crop of it, zoomed, with a labelled
pixel grid, so positions can be read off to a few pixels. No model output is drawn (labels are
made blind to the estimator); ``--check LABELS`` draws the labels themselves for a second pass.

    python bench/pose_label_sheet.py VIDEO FRAME -o /tmp/f.png                   # whole frame, 20 px grid
    python bench/pose_label_sheet.py VIDEO FRAME --crop 100,20,120,300 --zoom 3 --grid 10 -o /tmp/c.png
    python bench/pose_label_sheet.py VIDEO FRAME --check tests/fixtures/pose/keypoints.json -o /tmp/k.png

Never commit the images (they are frames of the shared media).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def decode(video: str, frame: int) -> np.ndarray:
    from reelscope.media.decode import FrameSpec, iter_frames
    from reelscope.media.info import probe

    spec = FrameSpec("rgb")
    for fr in iter_frames(video, [spec], rotation=probe(video).rotation, only={frame}):
        return fr[spec]
    raise SystemExit(f"{video}: no frame {frame}")


def grid_image(rgb: np.ndarray, x0: int, y0: int, zoom: float, grid: int) -> np.ndarray:
    """``rgb`` (whose top-left is pixel (x0, y0) of the frame) zoomed, with grid lines every
    ``grid`` frame pixels labelled with frame coordinates in a margin."""
    h, w = rgb.shape[:2]
    big = cv2.resize(rgb, (int(round(w * zoom)), int(round(h * zoom))), interpolation=cv2.INTER_CUBIC)
    m = 34
    canvas = np.full((big.shape[0] + m, big.shape[1] + m, 3), 255, np.uint8)
    canvas[m:, m:] = big
    first_x, first_y = -(-x0 // grid) * grid, -(-y0 // grid) * grid
    for gx in range(first_x, x0 + w + 1, grid):
        px = m + int(round((gx - x0) * zoom))
        major = gx % (grid * 5) == 0
        cv2.line(canvas, (px, m), (px, canvas.shape[0]), (255, 0, 0) if major else (0, 200, 255), 1)
        if major or grid * zoom >= 28:
            cv2.putText(canvas, str(gx), (px - 10, 12 + (10 if (gx // grid) % 2 else 0)), cv2.FONT_HERSHEY_PLAIN,
                        0.8, (0, 0, 0), 1)
    for gy in range(first_y, y0 + h + 1, grid):
        py = m + int(round((gy - y0) * zoom))
        major = gy % (grid * 5) == 0
        cv2.line(canvas, (m, py), (canvas.shape[1], py), (255, 0, 0) if major else (0, 200, 255), 1)
        if major or grid * zoom >= 16:
            cv2.putText(canvas, str(gy), (1, py + 4), cv2.FONT_HERSHEY_PLAIN, 0.8, (0, 0, 0), 1)
    return canvas


def draw_labels(rgb: np.ndarray, people: list[dict], line=(0, 255, 0)) -> np.ndarray:
    """Labelled keypoints: limbs in ``line``, left points red, right points blue."""
    from reelscope.vision.pose import KEYPOINTS, SKELETON

    out = rgb.copy()
    for p in people:
        pts = {k: p["keypoints"].get(k) for k in KEYPOINTS}
        for a, b in SKELETON:
            pa, pb = pts[KEYPOINTS[a]], pts[KEYPOINTS[b]]
            if pa and pb:
                cv2.line(out, tuple(int(v) for v in pa), tuple(int(v) for v in pb), line, 1, cv2.LINE_AA)
        for k, v in pts.items():
            if v:
                cv2.circle(out, tuple(int(c) for c in v), 2, (255, 0, 0) if k.startswith("left") else (0, 0, 255), -1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("video")
    ap.add_argument("frame", type=int)
    ap.add_argument("--crop", help="x,y,w,h in frame pixels")
    ap.add_argument("--zoom", type=float, default=1.0)
    ap.add_argument("--grid", type=int, default=20)
    ap.add_argument("--check", help="a labels JSON: draw this frame's labelled keypoints")
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args()
    rgb = decode(a.video, a.frame)
    if a.check:
        doc = json.loads(Path(a.check).read_text())
        entry = [f for f in doc["frames"] if Path(a.video).as_posix().endswith(f["video"]) and f["frame"] == a.frame]
        rgb = draw_labels(rgb, entry[0]["people"] if entry else [])
    x0 = y0 = 0
    if a.crop:
        x, y, w, h = (int(v) for v in a.crop.split(","))
        x0, y0 = max(0, x), max(0, y)
        rgb = rgb[y0:y + h, x0:x + w]
    img = grid_image(rgb, x0, y0, a.zoom, a.grid)
    cv2.imwrite(a.out, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    print(f"wrote {a.out} ({img.shape[1]}x{img.shape[0]})")


if __name__ == "__main__":
    main()
