"""Tile decoded video frames into a labelled PNG contact sheet.

Used to verify shot-boundary ground truth by eye.  Frames are decoded with
PyAV in presentation order and numbered 0, 1, 2, ... exactly as they come out
of ``container.decode(video_stream)`` (the project's frame-index convention).
Each thumbnail gets its frame index drawn in its top-left corner.

Example::

    python bench/contact_sheet.py video.mp4 --start 0 --end 239 \
        --width 96 --cols 16 -o /tmp/sheet.png

Frames are shown as stored (no rotation metadata is applied).
"""

from __future__ import annotations

import argparse
import sys

import av
import cv2
import numpy as np


def _label(img: np.ndarray, text: str) -> None:
    scale = max(0.3, img.shape[1] / 260.0)
    thick = 1 if scale < 0.6 else 2
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    cv2.rectangle(img, (0, 0), (tw + 4, th + base + 3), (0, 0, 0), -1)
    cv2.putText(img, text, (2, th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (0, 255, 255), thick, cv2.LINE_AA)


def contact_sheet(path: str, start: int, end: int, width: int, cols: int,
                  step: int = 1) -> np.ndarray:
    """Return a BGR image tiling frames ``start..end`` (inclusive) of ``path``."""
    tiles: list[np.ndarray] = []
    height = None
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for idx, frame in enumerate(container.decode(stream)):
            if idx > end:
                break
            if idx < start or (idx - start) % step:
                continue
            img = frame.to_ndarray(format="bgr24")
            if height is None:
                height = max(1, round(img.shape[0] * width / img.shape[1]))
            img = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
            _label(img, str(idx))
            tiles.append(img)
    if not tiles:
        raise SystemExit(f"no frames in range {start}..{end}")
    rows = (len(tiles) + cols - 1) // cols
    gap = 2
    sheet = np.full((rows * (height + gap), cols * (width + gap), 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = r * (height + gap), c * (width + gap)
        sheet[y:y + height, x:x + width] = tile
    return sheet


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video")
    ap.add_argument("--start", type=int, default=0, help="first frame index")
    ap.add_argument("--end", type=int, default=10**9, help="last frame index (inclusive)")
    ap.add_argument("--step", type=int, default=1, help="take every STEP-th frame")
    ap.add_argument("--width", type=int, default=96, help="thumbnail width in px")
    ap.add_argument("--cols", type=int, default=16, help="thumbnails per row")
    ap.add_argument("-o", "--output", required=True, help="output PNG path")
    args = ap.parse_args(argv)
    sheet = contact_sheet(args.video, args.start, args.end, args.width, args.cols, args.step)
    cv2.imwrite(args.output, sheet)
    print(f"wrote {args.output} {sheet.shape[1]}x{sheet.shape[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
