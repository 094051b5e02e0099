"""The optional CLIP-like index on a tiny model the test builds: an ONNX image encoder (mean
colour -> 4-d) and text encoder (mean of word vectors) that agree on red/green/blue. Loading,
both tokenizers, the clip stage storing FrameEmbedding rows, and text-to-image search."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import encode

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from reelscope.errors import ReelscopeError  # noqa: E402
from reelscope.models.clip_index import ClipBPE, ClipModel  # noqa: E402

SIDE, DIM, LENGTH = 32, 4, 8
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "red", "green", "blue", "car"]


def _save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def make_model(folder, tokenizer: str = "wordpiece"):
    folder.mkdir(parents=True, exist_ok=True)
    w = np.zeros((3, DIM), np.float32)
    w[0, 0] = w[1, 1] = w[2, 2] = 1.0  # R, G, B -> axes 0, 1, 2
    img = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["pixels"], ["pooled"]),
         helper.make_node("Relu", ["pooled"], ["pos"]),
         helper.make_node("Flatten", ["pos"], ["flat"]),
         helper.make_node("MatMul", ["flat", "w"], ["embedding"])],
        "image", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 3, SIDE, SIDE])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", DIM])], [numpy_helper.from_array(w, "w")])
    _save(img, folder / "image.onnx")
    table = np.zeros((len(WORDS), DIM), np.float32)
    table[WORDS.index("red"), 0] = table[WORDS.index("green"), 1] = table[WORDS.index("blue"), 2] = 1.0
    table[WORDS.index("car"), 3] = 1.0
    txt = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["vectors"]),
         helper.make_node("ReduceMean", ["vectors"], ["embedding"], axes=[1], keepdims=0)],
        "text", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n", LENGTH])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", DIM])],
        [numpy_helper.from_array(table, "table")])
    _save(txt, folder / "text.onnx")
    (folder / "vocab.txt").write_text("\n".join(WORDS) + "\n")
    cfg = {"name": "tiny-clip", "image_size": SIDE, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
           "tokenizer": tokenizer, "vocab": "vocab.txt", "context_length": LENGTH, "min_similarity": 0.5}
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def solid(rgb, n=25, h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    base = np.zeros((h, w, 3), np.float32) + np.array(rgb, np.float32)
    return [np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8) for _ in range(n)]


def test_model_loads_and_encoders_agree(tmp_path):
    m = ClipModel(make_model(tmp_path / "m"))
    assert m.name == "tiny-clip"
    imgs = m.encode_images([solid((230, 10, 10), 1)[0], solid((10, 10, 230), 1)[0]])
    txt = m.encode_text(["red", "blue", "a blue car"])
    assert imgs.shape == (2, DIM) and np.allclose(np.linalg.norm(imgs, axis=1), 1, atol=1e-5)
    sims = imgs @ txt.T
    assert sims[0, 0] > 0.95 and sims[1, 1] > 0.95 and sims[0, 1] < 0.1
    assert sims[1, 2] > sims[0, 2]  # "a blue car" is nearer the blue picture
    assert set(m.models()) == {"tiny-clip/image.onnx", "tiny-clip/text.onnx"}


def test_bad_model_folders_are_explained(tmp_path):
    with pytest.raises(ReelscopeError, match="config.json"):
        ClipModel(tmp_path)
    folder = make_model(tmp_path / "m")
    (folder / "text.onnx").unlink()
    with pytest.raises(ReelscopeError, match="text.onnx"):
        ClipModel(folder)


def test_clip_bpe_tokenizer(tmp_path):
    vocab = {"<|startoftext|>": 1, "<|endoftext|>": 2, "r": 3, "e": 4, "d</w>": 5, "re": 6, "red</w>": 7, "!</w>": 8,
             "c": 9, "a": 10, "r</w>": 11, "ca": 12}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("#version: 0.2\nr e\nre d</w>\nc a\n")
    bpe = ClipBPE(tmp_path / "vocab.json", tmp_path / "merges.txt")
    assert bpe.encode("Red!", 6) == [1, 7, 8, 2, 0, 0]
    assert bpe.encode("car  red", 8) == [1, 12, 11, 7, 2, 0, 0, 0]  # "car" -> ca + r</w>
    assert len(bpe.encode("red " * 50, 10)) == 10 and bpe.encode("red " * 50, 10)[-1] == 2


@pytest.mark.slow
def test_clip_stage_and_text_to_image_search(tmp_path, monkeypatch):
    import reelscope
    from reelscope.archive import Archive
    from reelscope.archive import schema as db
    from reelscope.search import SearchQuery, search

    folder = make_model(tmp_path / "m")
    video = encode(tmp_path / "colours.mp4", solid((220, 20, 20)) + solid((20, 200, 20), seed=1)
                   + solid((20, 20, 220), seed=2))
    arch = Archive(tmp_path / "a")
    monkeypatch.delenv("REELSCOPE_CLIP_MODEL", raising=False)
    (bad,) = reelscope.analyze([video], archive=arch, stages=["shots", "clip"])
    assert bad.status == "failed" and "CLIP-like model" in bad.error
    (o,) = reelscope.analyze([video], archive=arch, stages=["shots", "clip"], params={"clip": {"model": str(folder)}})
    assert o.status == "analyzed", o.error
    with arch.session() as s:
        rows = s.query(db.FrameEmbedding).order_by(db.FrameEmbedding.frame).all()
    assert [r.shot_idx for r in rows] == [0, 1, 2] and {r.model for r in rows} == {"tiny-clip"}
    assert np.allclose(np.linalg.norm(np.frombuffer(rows[0].vector, "<f4")), 1, atol=1e-5)
    res = search(arch, SearchQuery(text="blue", clip_model=str(folder)))
    assert [h["shot_index"] for h in res.items] == [2] and res.items[0]["matched"] == ["clip"]
    assert res.items[0]["frame"] == rows[2].frame and res.items[0]["frames"][0]["label"] == "clip"
    monkeypatch.setenv("REELSCOPE_CLIP_MODEL", str(folder))  # the default model folder
    assert [h["shot_index"] for h in search(arch, "red").items] == [0]
    assert search(arch, SearchQuery(text="red", sizes=["CU"])).total == 0  # filters still apply
    monkeypatch.setenv("REELSCOPE_CLIP_MODEL", str(tmp_path / "missing"))
    res = search(arch, "red")
    assert res.total == 0 and any("CLIP index not used" in n for n in res.notes)
    arch.close()
