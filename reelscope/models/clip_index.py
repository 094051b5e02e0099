"""Optional CLIP-like text-to-image index: a user-provided image encoder and text encoder as
ONNX files (run with onnxruntime), for searching frames by free text.

No such model is carried by a registry package, so nothing is bundled: a user exports one
(e.g. OpenAI CLIP or a multilingual CLIP) into a folder and points reelscope at it with
``--clip-model DIR`` or ``$REELSCOPE_CLIP_MODEL``. The folder holds ``config.json``::

    {"name": "clip-vit-b32",             # stored with every frame vector (default: folder name)
     "image": "image.onnx",              # input float32 (N, 3, S, S) -> output (N, D)
     "text": "text.onnx",                # input int64 ids (N, L) [, attention mask (N, L)] -> (N, D)
     "image_size": 224,
     "mean": [0.4815, 0.4578, 0.4082], "std": [0.2686, 0.2613, 0.2758],   # on RGB in 0..1
     "tokenizer": "clip-bpe",            # or "wordpiece" (BERT vocab.txt, lower-cased)
     "vocab": "vocab.json", "merges": "merges.txt",   # clip-bpe; wordpiece: "vocab": "vocab.txt"
     "context_length": 77,
     "min_similarity": 0.2}              # a frame matches a text from this cosine on

Vectors are L2-normalised here, whatever the model outputs. The ``clip`` stage stores one
``FrameEmbedding`` per sampled frame (``archive.clip_io``), where search ranks them by cosine
with the text's vector.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from reelscope.errors import ReelscopeError
from reelscope.models.registry import sha256_of

ENV = "REELSCOPE_CLIP_MODEL"


def default_model_dir() -> str | None:
    return os.environ.get(ENV) or None


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32).reshape(x.shape[0], -1)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


# ---- CLIP's byte-level BPE (the tokenizer of OpenAI CLIP text encoders) ----------------------

def _byte_chars() -> dict[int, str]:
    """Each byte -> a printable character (printable Latin-1 bytes map to themselves)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    out, n = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + n)
            n += 1
    return out


class ClipBPE:
    """``encode(text, length)``: [start] + BPE ids + [end], zero-padded to ``length``."""

    pattern = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+",
                         re.IGNORECASE)

    def __init__(self, vocab_path: str | Path, merges_path: str | Path):
        self.encoder = json.loads(Path(vocab_path).read_text(encoding="utf-8"))
        lines = Path(merges_path).read_text(encoding="utf-8").splitlines()
        pairs = [tuple(ln.split()) for ln in lines if ln and not ln.startswith("#version")]
        self.ranks = {p: i for i, p in enumerate(pairs) if len(p) == 2}
        self.bytes = _byte_chars()
        self.start, self.end = self.encoder["<|startoftext|>"], self.encoder["<|endoftext|>"]
        self._memo: dict[str, list[str]] = {}

    def _bpe(self, token: str) -> list[str]:
        if token in self._memo:
            return self._memo[token]
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            ranked = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(word, word[1:]))]
            rank, _ = min(ranked)
            if rank == 1 << 30:
                break
            a, b = next((word[i], word[i + 1]) for r, i in ranked if r == rank)
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self._memo[token] = word
        return word

    def encode(self, text: str, length: int = 77) -> list[int]:
        text = " ".join(text.split()).lower()
        ids = []
        for tok in self.pattern.findall(text):
            chars = "".join(self.bytes[b] for b in tok.encode("utf-8"))
            ids += [self.encoder[p] for p in self._bpe(chars) if p in self.encoder]
        ids = [self.start] + ids[:length - 2] + [self.end]
        return ids + [0] * (length - len(ids))


class _WordPieceIds:
    def __init__(self, vocab_path: str | Path):
        from reelscope.models.text_embed import WordPiece

        self.wp = WordPiece(vocab_path)

    def encode(self, text: str, length: int = 77) -> list[int]:
        ids = self.wp.encode(text, length)
        return ids + [0] * (length - len(ids))


# ---- the model -----------------------------------------------------------------------------

class ClipModel:
    """An image and a text encoder sharing one embedding space (see the module docstring)."""

    def __init__(self, folder: str | Path, threads: int | None = None):
        self.folder = Path(folder)
        cfg_path = self.folder / "config.json"
        try:
            self.config = json.loads(cfg_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ReelscopeError(f"{cfg_path}: no CLIP model config (see reelscope.models.clip_index)") from None
        except ValueError as e:
            raise ReelscopeError(f"{cfg_path}: not valid JSON ({e})") from None
        c = self.config
        self.name = str(c.get("name") or self.folder.name)
        self.size = int(c.get("image_size", 224))
        self.mean = np.asarray(c.get("mean", [0.4815, 0.4578, 0.4082]), np.float32) * 255.0
        self.std = np.asarray(c.get("std", [0.2686, 0.2613, 0.2758]), np.float32) * 255.0
        self.length = int(c.get("context_length", 77))
        self.min_similarity = float(c.get("min_similarity", 0.2))
        kind = c.get("tokenizer", "clip-bpe")
        if kind == "clip-bpe":
            self.tokenizer = ClipBPE(self._file("vocab", "vocab.json"), self._file("merges", "merges.txt"))
        elif kind == "wordpiece":
            self.tokenizer = _WordPieceIds(self._file("vocab", "vocab.txt"))
        else:
            raise ReelscopeError(f"{cfg_path}: unknown tokenizer {kind!r} (clip-bpe or wordpiece)")
        self.image_path, self.text_path = self._file("image", "image.onnx"), self._file("text", "text.onnx")
        from reelscope.models.session import onnx_session

        self.image_session = onnx_session(self.image_path, threads)
        self.text_session = onnx_session(self.text_path, threads)

    def _file(self, key: str, default: str) -> Path:
        p = self.folder / str(self.config.get(key, default))
        if not p.is_file():
            raise ReelscopeError(f"{p}: missing file of the CLIP model in {self.folder}")
        return p

    def encode_images(self, images: Sequence[np.ndarray], batch: int = 16) -> np.ndarray:
        """(N, D) unit vectors for RGB uint8 images (each resized whole to the model's input)."""
        import cv2

        name = self.image_session.inputs[0].name
        out = []
        for i in range(0, len(images), batch):
            x = np.stack([cv2.resize(im, (self.size, self.size), interpolation=cv2.INTER_AREA) for im in images[i:i + batch]])
            x = ((x.astype(np.float32) - self.mean) / self.std).transpose(0, 3, 1, 2)
            out.append(_unit(self.image_session.run({name: np.ascontiguousarray(x)})[0]))
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        ids = np.array([self.tokenizer.encode(t, self.length) for t in texts], np.int64)
        inputs = self.text_session.inputs
        feed = {inputs[0].name: ids}
        if len(inputs) > 1:
            feed[inputs[1].name] = (ids != 0).astype(np.int64)
        return _unit(self.text_session.run(feed)[0])

    def models(self) -> dict[str, dict[str, str]]:
        out = {}
        for p in (self.image_path, self.text_path):
            out[f"{self.name}/{p.name}"] = {"licence": "user-provided", "sha256": sha256_of(p),
                                            "version": str(self.config.get("version", ""))}
        return out


def load_clip(folder: str) -> ClipModel:
    """The CLIP-like model in ``folder``, loaded once per process (models.cache)."""
    from reelscope.models.cache import MODELS

    return MODELS.get("clip", Path(folder).resolve(), None, lambda: ClipModel(folder))
