"""Summary evaluation: rank correlations and keyshot F1 on hand-computed examples, the TVSum loader,
the CLI, and the published human agreement on TVSum (Otani et al. 2019: tau 0.177, rho 0.204)."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from conftest import data_file
from scipy import stats
from typer.testing import CliRunner

from reelscope.cli import app
from reelscope.errors import ReelscopeError
from reelscope.eval import summary as S
from reelscope.eval.tvsum import annotation_segments, load_splits, load_tvsum


# ---- rank correlation ------------------------------------------------------------------------------
def test_kendall_and_spearman_by_hand():
    # one swapped pair out of 6: tau = (5 - 1) / 6; rho = 1 - 6 * 2 / (4 * 15)
    assert S.kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    assert S.spearman_rho([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    # ties: concordant 4, discordant 0, one tie in each: tau-b = 4 / sqrt(5 * 5)
    assert S.kendall_tau([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)
    # mid-ranks (1, 2.5, 2.5, 4) and (1, 2, 3.5, 3.5): Pearson = 3.75 / 4.5
    assert S.spearman_rho([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(3.75 / 4.5)
    assert S.kendall_tau([1, 1, 2, 2], [1, 2, 1, 2]) == pytest.approx(0.0)
    assert S.kendall_tau([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(S.kendall_tau([1, 1, 1], [1, 2, 3]))  # no ordering in x at all


def test_fast_tied_path_equals_scipy():
    rng = np.random.default_rng(3)
    for _ in range(4):
        x = rng.integers(1, 6, 2000)
        y = np.where(rng.random(2000) < 0.4, x, rng.integers(1, 6, 2000))
        z = rng.random(2000).round(2)  # 101 distinct values: still the contingency-table path
        for a, b in ((x, y), (z, y), (x, z)):
            assert S.kendall_tau(a, b) == pytest.approx(stats.kendalltau(a, b).statistic, abs=1e-12)
            assert S.spearman_rho(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)


def test_human_rank_correlation_modes():
    a = np.array([[1, 2, 3, 4], [1, 3, 2, 4], [4, 3, 2, 1]])
    tau, _ = S.human_rank_correlation(a, "others")
    pairs = [(0, 1), (0, 2), (1, 2)]
    want_tau = np.mean([S.kendall_tau(a[i], a[j]) for i, j in pairs])  # symmetric: each pair twice
    assert tau == pytest.approx(want_tau)
    assert tau == pytest.approx((4 / 6 - 1 - 4 / 6) / 3)
    tm, _ = S.human_rank_correlation(a, "mean")
    assert tm == pytest.approx(np.nanmean([S.kendall_tau(a[i], np.delete(a, i, 0).mean(0)) for i in range(3)]))
    with pytest.raises(ValueError):
        S.human_rank_correlation(a, "median")


# ---- keyshots and F1 -------------------------------------------------------------------------------
def test_f1_by_hand():
    m = np.zeros(10, bool)
    m[0:4] = True
    u1 = np.zeros(10, bool)
    u1[2:6] = True  # overlap 2: P = R = 0.5
    u2 = np.zeros(10, bool)
    u2[0:2] = True  # overlap 2: P = 0.5, R = 1 -> F = 2/3
    u3 = np.zeros(10, bool)
    u3[8:] = True  # no overlap
    assert S.f1(m, u1) == pytest.approx(0.5)
    assert S.f1(m, u2) == pytest.approx(2 / 3)
    assert S.f1(m, u3) == 0.0
    assert S.keyshot_f1(m, [u1, u2, u3], "avg") == pytest.approx((0.5 + 2 / 3) / 3)
    assert S.keyshot_f1(m, [u1, u2, u3], "max") == pytest.approx(2 / 3)


def test_keyshot_summary_knapsack_over_segments():
    scores = np.array([0.5] * 4 + [0.9] * 2 + [0.6] * 4)
    seg = np.array([[0, 4], [4, 6], [6, 10]])
    # capacity 6 frames: {A, B} = 1.4, {B, C} = 1.5 (values are segment means) -> B and C
    mask = S.keyshot_summary(scores, seg, budget=0.6)
    assert mask.tolist() == [False] * 4 + [True] * 6
    assert S.keyshot_summary(scores, seg, budget=0.15).sum() == 0  # no segment fits 1 frame
    assert S.keyshot_summary(scores, seg, budget=0.2).tolist() == [False] * 4 + [True] * 2 + [False] * 4


def test_human_leave_one_out_f1_and_upsample():
    users = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1]], bool)
    # user 0 vs (1, 2): (1 + 0) / 2; user 1 alike; user 2 vs (0, 1): 0
    assert S.human_keyshot_f1(users, "avg") == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert S.human_keyshot_f1(users, "max") == pytest.approx((1 + 1 + 0) / 3)
    assert S.upsample([1, 2], 5).tolist() == [1, 1, 1, 2, 2]


def test_annotation_segments_recovered_from_scores():
    a = np.repeat([[1, 3, 3, 5], [2, 2, 4, 4]], 5, axis=1)  # 4 segments of 5 frames; 2 annotators
    a[:, 10:15] = a[:, 5:10]  # segments 2 and 3 scored alike by everyone: one run of 10
    seg = annotation_segments(a)
    assert seg.tolist() == [[0, 5], [5, 10], [10, 15], [15, 20]]


# ---- loader, dataset, CLI ---------------------------------------------------------------------------
def _tsv(path, videos):
    with gzip.open(path, "wt") as f:
        for vid, rows in videos.items():
            for r in rows:
                f.write(f"{vid}\tXX\t{','.join(map(str, r))}\n")
    return path


def test_load_tvsum_and_errors(tmp_path):
    p = _tsv(tmp_path / "anno.tsv.gz", {"aaa": [[1, 1, 2, 2], [3, 3, 1, 1]], "bbb": [[5, 5, 5, 1]] * 2})
    vids = load_tvsum(p)
    assert [(v.key, v.youtube_id, v.scores.shape) for v in vids] == [("video_1", "aaa", (2, 4)), ("video_2", "bbb", (2, 4))]
    with pytest.raises(ReelscopeError, match="not found"):
        load_tvsum(tmp_path / "none.tsv")
    bad = tmp_path / "bad.tsv"
    bad.write_text("aaa\tXX\t1,2,x\n")
    with pytest.raises(ReelscopeError, match="bad.tsv:1"):
        load_tvsum(bad)
    mixed = tmp_path / "mixed.tsv"
    mixed.write_text("aaa\tXX\t1,2,3\naaa\tXX\t1,2\n")
    with pytest.raises(ReelscopeError, match="mixed.tsv:2"):
        load_tvsum(mixed)
    (tmp_path / "s.json").write_text("{}")
    with pytest.raises(ReelscopeError, match="test_keys"):
        load_splits(tmp_path / "s.json")


def _toy(tmp_path):
    """4 videos x 5 annotators: 30 segments of 10 frames, a shared base score plus noise per annotator."""
    rng = np.random.default_rng(0)
    videos = {}
    for v in range(4):
        base = rng.integers(1, 6, 30)
        videos[f"yt{v}"] = [np.repeat(np.clip(base + rng.integers(-1, 2, 30), 1, 5), 10) for _ in range(5)]
    return _tsv(tmp_path / "toy.tsv.gz", videos)


def test_evaluate_dataset_prediction_beats_random(tmp_path):
    vids = load_tvsum(_toy(tmp_path))
    # a prediction that knows the consensus (the mean annotation) must beat random summaries
    preds = {v.key: v.scores.mean(0) for v in vids}
    res = S.evaluate_dataset(vids, preds, [{"test_keys": ["video_1", "video_2"]}, {"test_keys": ["video_3", "video_4"]}],
                             random_trials=10)
    assert res["prediction"]["tau"] > res["human"]["tau"] > res["random"]["tau"]
    assert res["prediction"]["f1"] > res["random"]["f1"]
    assert abs(res["random"]["tau"]) < 0.1
    assert [f["prediction"]["videos"] for f in res["folds"]] == [2, 2]
    assert res["fold_mean"]["prediction"]["f1"] == pytest.approx(res["prediction"]["f1"])


def test_cli_eval_summary(tmp_path):
    anno = _toy(tmp_path)
    vids = load_tvsum(anno)
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({v.youtube_id: v.scores.mean(0)[::10].tolist() for v in vids}))  # 1 per segment
    out = tmp_path / "res.json"
    r = CliRunner().invoke(app, ["eval", "summary", str(anno), "--pred", str(pred), "--random-trials", "3",
                                 "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert "human (leave-one-out)" in r.output and "prediction" in r.output and "random" in r.output
    res = json.loads(out.read_text())
    assert res["prediction"]["videos"] == 4 and res["protocol"]["budget"] == 0.15
    r = CliRunner().invoke(app, ["eval", "summary", str(tmp_path / "missing.tsv")])
    assert r.exit_code == 2 and "not found" in r.output


# ---- the published numbers ---------------------------------------------------------------------------
@pytest.mark.slow
def test_tvsum_human_agreement_reproduces_otani():
    vids = load_tvsum(data_file("tvsum/ydata-anno.tsv.gz"))
    assert len(vids) == 50 and all(v.n_annotators == 20 for v in vids)
    assert vids[0].youtube_id == "AwmHb44_ouw" and vids[0].n_frames == 10597  # video_1 of the h5 files
    res = S.evaluate_dataset(vids, random_trials=3, splits=load_splits(data_file("tvsum/tvsum_splits.json")))
    assert round(res["human"]["tau"], 3) == 0.177  # Otani et al., CVPR 2019, Table 1 (human)
    assert round(res["human"]["rho"], 3) == 0.204
    # the other reading of the protocol (each annotator vs the mean of the others) does not reproduce it
    assert res["human_vs_mean_of_others"]["tau"] > 0.3
    assert abs(res["random"]["tau"]) < 0.01 and abs(res["random"]["rho"]) < 0.01
    assert res["human"]["f1"] > res["random"]["f1"] + 0.05
    assert res["random"]["f1"] == pytest.approx(0.15, abs=0.02)  # random frames at a 15% budget
    assert len(res["folds"]) == 5
