"""Text-line recognition pieces: the character dictionary, the recogniser's and the orientation
classifier's input batches, and greedy CTC decoding.

The recogniser (PP-OCRv5's CRNN) reads a line image 48 pixels high and returns, for every
4-pixel-wide column step, a probability over the dictionary's classes; class 0 is the CTC blank.
Greedy decoding takes the best class per step, merges repeats and drops blanks.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from reelscope.errors import ReelscopeError
from reelscope.vision.text_detect import IMAGENET_MEAN_BGR, IMAGENET_STD_BGR

REC_HEIGHT = 48
CLS_SIZE = (80, 160)  # (height, width) of the orientation classifier's input


def load_dictionary(path: str | Path) -> list[str]:
    """The recogniser's classes, one per line (index = class): line 0 is the CTC blank, the
    last line a space. Lines keep their spaces; only the line break is removed."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ReelscopeError(f"{p}: cannot read the OCR dictionary ({e})") from None
    chars = text.split("\n")
    if chars and chars[-1] == "":
        chars.pop()
    chars = [c[:-1] if c.endswith("\r") else c for c in chars]  # CRLF files
    if len(chars) < 3:
        raise ReelscopeError(f"{p}: not an OCR dictionary ({len(chars)} lines)")
    return chars


@dataclass(frozen=True)
class Reading:
    text: str
    score: float  # mean probability of the kept characters (0 when nothing was read)


def ctc_greedy(probs: np.ndarray, chars: Sequence[str], blank: int = 0) -> Reading:
    """Greedy CTC decoding of one line: ``probs`` (T, C) per time step."""
    p = np.asarray(probs)
    if p.ndim != 2:
        raise ValueError(f"expected (T, C) probabilities, got shape {p.shape}")
    if p.shape[1] != len(chars):
        raise ValueError(f"the recogniser has {p.shape[1]} classes but the dictionary {len(chars)}")
    best = p.argmax(1)
    conf = p[np.arange(len(best)), best]
    keep = best != blank
    if len(best) > 1:
        keep[1:] &= best[1:] != best[:-1]
    if not keep.any():
        return Reading("", 0.0)
    text = "".join(chars[i] for i in best[keep])
    return Reading(text, float(conf[keep].mean()))


def rec_width(crop_shape: tuple[int, ...], max_width: int) -> int:
    """Width of a line image resized to the recogniser's height, aspect kept, at most ``max_width``."""
    h, w = crop_shape[:2]
    return int(min(max_width, max(REC_HEIGHT // 4, int(np.ceil(REC_HEIGHT * w / max(h, 1))))))


def rec_batch(crops: Sequence[np.ndarray], max_width: int = 1600) -> np.ndarray:
    """A (N, 3, 48, W) float32 batch: each RGB crop resized to height 48 (aspect kept), B-G-R planes
    scaled to -1..1, padded on the right with zeros to the widest line."""
    widths = [rec_width(c.shape, max_width) for c in crops]
    W = max(widths) if widths else REC_HEIGHT
    out = np.zeros((len(crops), 3, REC_HEIGHT, W), np.float32)
    for k, (c, w) in enumerate(zip(crops, widths)):
        img = cv2.resize(c, (w, REC_HEIGHT), interpolation=cv2.INTER_LINEAR)[:, :, ::-1]
        out[k, :, :, :w] = (img.astype(np.float32) * (2 / 255.0) - 1.0).transpose(2, 0, 1)
    return out


def cls_batch(crops: Sequence[np.ndarray]) -> np.ndarray:
    """A (N, 3, 80, 160) float32 batch for the text-line orientation classifier: each RGB crop
    resized to 80x160, B-G-R planes, ImageNet-normalised."""
    h, w = CLS_SIZE
    out = np.zeros((len(crops), 3, h, w), np.float32)
    for k, c in enumerate(crops):
        img = cv2.resize(c, (w, h), interpolation=cv2.INTER_LINEAR)[:, :, ::-1].astype(np.float32) * (1 / 255.0)
        out[k] = ((img - IMAGENET_MEAN_BGR) / IMAGENET_STD_BGR).transpose(2, 0, 1)
    return out
