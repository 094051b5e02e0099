"""MTCNN (Zhang et al. 2016): the P-Net / R-Net / O-Net cascade, in our own torch modules.

The weights are facenet-pytorch's pnet.pt / rnet.pt / onet.pt state dicts (converted from the
original Caffe models), loaded strictly into the modules below. facenet-pytorch itself is never
imported: it imports torchvision, which has no CPU build here. The module and parameter names
match its state dicts; R-Net and O-Net flatten their last feature map in (W, H, C) order, as
the Caffe originals did.

The cascade is the standard one (image pyramid with scale factor 0.709 from ``min_face`` px,
P-Net thresholded at 0.6, NMS 0.5 per scale and 0.7 across scales, box regression, squared
boxes; R-Net on 24x24 crops at 0.7, NMS 0.7; O-Net on 48x48 crops at 0.7 with the 5 landmarks,
box regression and NMS 0.7 over the smaller area). Crops that cross the image border are
zero-padded, as in the original MTCNN.

Landmarks are all measured: image-left eye, image-right eye, nose tip, image-left and
image-right mouth corner, which is our order (subject's right eye first).
"""
from __future__ import annotations

import threading

import cv2
import numpy as np

from reelscope.errors import MissingDependency
from reelscope.models.cache import MODELS
from reelscope.models.registry import MTCNN, resolve
from reelscope.vision.detections import Detections
from reelscope.vision.face_detect import FaceDetector


def _torch():
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise MissingDependency("torch (face detection backend 'mtcnn')", "pip install torch==2.13.0") from e
    return torch


def build_nets():
    """Uninitialised (PNet, RNet, ONet) torch modules with facenet-pytorch's parameter names."""
    torch = _torch()
    nn = torch.nn

    class PNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
            self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
            self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
            self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
            self.conv4_1 = nn.Conv2d(32, 2, 1)
            self.conv4_2 = nn.Conv2d(32, 4, 1)

        def forward(self, x):
            x = self.pool1(self.prelu1(self.conv1(x)))
            x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
            return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)[:, 1]

    class RNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
            self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
            self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
            self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
            self.dense5_1 = nn.Linear(128, 2)
            self.dense5_2 = nn.Linear(128, 4)

        def forward(self, x):
            x = self.pool1(self.prelu1(self.conv1(x)))
            x = self.pool2(self.prelu2(self.conv2(x)))
            x = self.prelu3(self.conv3(x))
            x = self.prelu4(self.dense4(x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)))
            return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)[:, 1]

    class ONet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
            self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
            self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
            self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
            self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
            self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
            self.dense6_1 = nn.Linear(256, 2)
            self.dense6_2 = nn.Linear(256, 4)
            self.dense6_3 = nn.Linear(256, 10)

        def forward(self, x):
            x = self.pool1(self.prelu1(self.conv1(x)))
            x = self.pool2(self.prelu2(self.conv2(x)))
            x = self.pool3(self.prelu3(self.conv3(x)))
            x = self.prelu4(self.conv4(x))
            x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)))
            return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)[:, 1]

    return PNet(), RNet(), ONet()


def load_nets():
    torch = _torch()
    nets = build_nets()
    for net, name in zip(nets, ("pnet.pt", "rnet.pt", "onet.pt")):
        state = torch.load(resolve(MTCNN, name), map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
        net.eval()
    return nets


# ---- box helpers (x1, y1, x2, y2 corner boxes, as the cascade works in) ----------------------

def nms_xyxy(boxes: np.ndarray, scores: np.ndarray, threshold: float, method: str = "union") -> np.ndarray:
    """Greedy NMS over corner boxes; ``method`` 'min' divides the overlap by the smaller area."""
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(i)
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = iw * ih
        denom = np.minimum(area[i], area[rest]) if method == "min" else area[i] + area[rest] - inter
        order = rest[inter / np.maximum(denom, 1e-9) <= threshold]
    return np.asarray(keep, np.int64)


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    wh = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, axis=1)
    return boxes + reg * wh


def _square(boxes: np.ndarray) -> np.ndarray:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    x1 = boxes[:, 0] + (w - side) / 2
    y1 = boxes[:, 1] + (h - side) / 2
    return np.stack([x1, y1, x1 + side, y1 + side], axis=1)


def _crops(img: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """(N, 3, size, size) float32 network inputs: each box cut out (zero outside the image),
    resized, scaled to [-1, 1)."""
    h, w = img.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.float32)
    for i, (x1, y1, x2, y2) in enumerate(np.round(boxes).astype(np.int64)):
        bw, bh = max(int(x2 - x1), 1), max(int(y2 - y1), 1)
        patch = np.zeros((bh, bw, 3), np.uint8)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
        if sx2 > sx1 and sy2 > sy1:
            patch[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = img[sy1:sy2, sx1:sx2]
        interp = cv2.INTER_AREA if bw > size else cv2.INTER_LINEAR
        out[i] = cv2.resize(patch, (size, size), interpolation=interp)
    return ((out - 127.5) * 0.0078125).transpose(0, 3, 1, 2).copy()


class MtcnnFaceDetector(FaceDetector):
    name = "mtcnn"
    specs = (MTCNN,)

    def __init__(self, *, min_face: int = 20, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
                 factor: float = 0.709, min_score: float = 0.7, max_side: int = 1280, min_side: int = 20,
                 threads: int | None = None):
        super().__init__(min_score=min_score, max_side=max_side, min_side=min_side, threads=threads)
        if min_face < 12:
            raise ValueError(f"min_face must be >= 12 px (P-Net's window), got {min_face}")
        if not 0.1 <= factor < 1:
            raise ValueError(f"factor must be in [0.1, 1), got {factor}")
        self.min_face = int(min_face)
        self.thresholds = tuple(float(t) for t in thresholds)
        if len(self.thresholds) != 3:
            raise ValueError("thresholds must be three numbers (P-, R-, O-Net)")
        self.factor = float(factor)

    def _params(self):
        return {"min_face": self.min_face, "thresholds": list(self.thresholds), "factor": self.factor}

    def _detect(self, rgb: np.ndarray) -> Detections:
        pnet, rnet, onet = MODELS.get("torch:mtcnn", MTCNN.name, None, load_nets)
        torch = _torch()
        with _LOCK, torch.inference_mode():  # torch's thread count: the process's (models.cache)
            boxes, scores, points = self._cascade(rgb, pnet, rnet, onet, torch)
        if not len(boxes):
            return Detections.empty()
        xywh = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)
        return Detections(np.maximum(xywh, [-np.inf, -np.inf, 0, 0]), scores, None, points)

    def _cascade(self, img, pnet, rnet, onet, torch):
        h, w = img.shape[:2]
        t1, t2, t3 = self.thresholds
        # stage 1: P-Net over the pyramid
        scale = 12.0 / self.min_face
        side = min(h, w) * scale
        found = []
        while side >= 12:
            sw, sh = int(w * scale + 1), int(h * scale + 1)
            im = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
            x = torch.from_numpy(((im.astype(np.float32) - 127.5) * 0.0078125).transpose(2, 0, 1)[None].copy())
            reg, prob = pnet(x)
            prob, reg = prob[0].numpy(), reg[0].numpy()
            ys, xs = np.nonzero(prob >= t1)
            if len(ys):
                cell = np.stack([xs, ys, xs, ys], axis=1).astype(np.float32)
                b = np.floor((2 * cell + np.array([1, 1, 12, 12], np.float32)) / scale)
                s = prob[ys, xs]
                r = reg[:, ys, xs].T
                keep = nms_xyxy(b, s, 0.5)
                found.append((b[keep], s[keep], r[keep]))
            scale *= self.factor
            side *= self.factor
        if not found:
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
        boxes, scores, reg = (np.concatenate(c) for c in zip(*found))
        keep = nms_xyxy(boxes, scores, 0.7)
        boxes = _square(_regress(boxes[keep], reg[keep]))
        # stage 2: R-Net
        reg, prob = rnet(torch.from_numpy(_crops(img, boxes, 24)))
        ok = prob.numpy() > t2
        boxes, scores, reg = boxes[ok], prob.numpy()[ok], reg.numpy()[ok]
        if not len(boxes):
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
        keep = nms_xyxy(boxes, scores, 0.7)
        boxes = _square(_regress(boxes[keep], reg[keep]))
        # stage 3: O-Net, landmarks
        reg, pts, prob = onet(torch.from_numpy(_crops(img, boxes, 48)))
        ok = prob.numpy() > t3
        boxes, scores, reg, pts = boxes[ok], prob.numpy()[ok], reg.numpy()[ok], pts.numpy()[ok]
        if not len(boxes):
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
        bw, bh = (boxes[:, 2] - boxes[:, 0])[:, None], (boxes[:, 3] - boxes[:, 1])[:, None]
        points = np.stack([boxes[:, :1] + bw * pts[:, :5], boxes[:, 1:2] + bh * pts[:, 5:]], axis=2)
        boxes = _regress(boxes, reg)
        keep = nms_xyxy(boxes, scores, 0.7, "min")
        return boxes[keep], scores[keep], points[keep]


_LOCK = threading.Lock()  # the cascade is cheap to serialise and torch modules are shared
