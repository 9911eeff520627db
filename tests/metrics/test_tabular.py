"""metrics/tabular.py: each table statistic on cases whose answer is known (the same table, a
shifted copy, exact copies), DCR against scipy's distance matrix, and `ganforge eval` of a table run."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ganforge.errors import DataError
from ganforge.metrics import tabular

KINDS = {"x": "continuous", "n": "integer", "colour": "categorical", "flag": "boolean", "y": "continuous"}


def table(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Mixed types with structure: colour and flag depend on x, y on x and colour."""
    rng = np.random.default_rng(seed)
    x = np.where(rng.random(n) < 0.5, rng.normal(-2, 0.5, n), rng.normal(2, 0.5, n))
    colour = np.where(x > 0, rng.choice(["red", "green"], n), rng.choice(["blue", "green"], n))
    y = 3 * x + (colour == "red") * 2 + rng.normal(0, 0.3, n)
    flag = x + rng.normal(0, 1, n) > 0
    return pd.DataFrame({"x": x, "n": rng.integers(0, 20, n), "colour": colour, "flag": flag, "y": y})


@pytest.fixture(autouse=True)
def one_thread():
    """sklearn's trees run OpenMP threads: one keeps the tests fast on a shared machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def test_detection_is_chance_on_two_halves_and_perfect_on_a_shifted_copy():
    df = table(400)
    a, b = df.iloc[::2], df.iloc[1::2]
    same = tabular.detection(a, b, KINDS, seed=0)
    assert 0.4 < same["detection_auc"] < 0.6, same
    shifted = b.assign(x=b["x"] + 3.0, y=b["y"] * 2)
    far = tabular.detection(a, shifted, KINDS, seed=0)
    assert far["detection_auc"] > 0.95 and far["rows_each"] == 200
    assert set(far["auc"]) == {"logistic", "boosting"}


def test_ml_efficacy_of_the_real_rows_equals_the_baseline():
    df = table(400)
    train, test = df.iloc[:300], df.iloc[300:]
    r = tabular.ml_efficacy(train, train, test, KINDS, target="colour", seed=0)
    assert r["synthetic"] == r["real"] and r["ratio"] == 1.0 and r["metric"] == "f1_macro"
    assert r["real"] > 0.6  # colour is predictable from x: a real signal, not chance (3 classes)
    reg = tabular.ml_efficacy(train, train, test, KINDS, target="y", seed=0)
    assert reg["metric"] == "r2" and reg["synthetic"] == reg["real"] > 0.9
    noise = train.assign(colour=np.random.default_rng(1).permutation(train["colour"].to_numpy()))
    worse = tabular.ml_efficacy(train, noise, test, KINDS, target="colour", seed=0)
    assert worse["synthetic"] < worse["real"] - 0.1  # a synthetic table that lost the link scores less
    with pytest.raises(DataError, match="target column 'nope'"):
        tabular.ml_efficacy(train, train, test, KINDS, target="nope")


def test_dcr_of_exact_copies_is_zero_and_matches_scipy():
    from scipy.spatial.distance import cdist

    df = table(300)
    train, hold = df.iloc[:200], df.iloc[200:]
    p = tabular.privacy(train, train.iloc[:100], hold, KINDS)
    assert p["synthetic"]["median"] == 0 and p["synthetic"]["exact_copies"] == 1.0
    assert p["holdout"]["median"] > 0 and p["holdout"]["exact_copies"] == 0.0 and p["median_ratio"] == 0
    # the reference: min-max scaled numbers, one-hot / sqrt(2) categories, scipy's pairwise distances
    num = ["x", "n", "y"]
    lo, hi = train[num].min(), train[num].max()
    def feats(f):
        cols = [(f[num] - lo) / (hi - lo)]
        for c, cats in (("colour", ["blue", "green", "red"]), ("flag", ["False", "True"])):
            cols.append(pd.DataFrame({v: (f[c].astype(str) == v) / np.sqrt(2) for v in cats}))
        return pd.concat(cols, axis=1).to_numpy(float)
    want = cdist(feats(hold), feats(train)).min(1)
    np.testing.assert_allclose(tabular.dcr(train, hold, KINDS), want, rtol=1e-9, atol=1e-9)


def test_sdmetrics_quality_of_a_table_against_itself_is_one():
    pytest.importorskip("sdmetrics")
    df = table(300)
    r = tabular.quality(df, df, KINDS)
    assert r["quality"] > 0.999 and r["column_shapes"] > 0.999 and r["column_pair_trends"] > 0.999
    bad = df.assign(x=-df["x"] * 3, colour="blue")
    worse = tabular.quality(df, bad, KINDS)
    assert worse["quality"] < 0.8 and worse["column_shape_scores"]["colour"] < 0.5
    # no pair of unrelated columns passes SDMetrics' association threshold: no pair score, not NaN
    rng = np.random.default_rng(0)
    loose = pd.DataFrame({"x": rng.normal(size=200), "colour": rng.choice(["a", "b"], 200)})
    kinds = {"x": "continuous", "colour": "categorical"}
    r = tabular.quality(loose.iloc[:100], loose.iloc[100:], kinds)
    assert r["column_pair_trends"] is None and r["quality"] == r["column_shapes"]


def test_large_inputs_are_subsampled():
    df = table(3000)
    r = tabular.detection(df, df, KINDS, max_rows=200)
    assert r["rows_each"] == 200
    assert len(tabular.subsample(df, 100, 0)) == 100 and tabular.subsample(df, 100, 0).equals(
        tabular.subsample(df, 100, 0))


def train_run(tmp_path: Path, rows: int, *sets: str) -> Path:
    """A tiny table run of configs/tabular-wine.yaml's recipe on `table(rows)`, a few steps long."""
    from ganforge.cli import main

    torch.set_num_threads(1)
    path = tmp_path / "t.csv"
    table(rows).to_csv(path, index=False)
    run = tmp_path / "run"
    sets = ("data.name=table", f"data.path={path}", "g.width=16", "g.depth=1", "g.noise_dim=8", "d.width=16",
            "d.depth=1", "d.pack=5", "train.threads=1", "train.device=cpu", *sets)
    recipe = str(Path(__file__).resolve().parents[2] / "configs" / "tabular-wine.yaml")
    flags = [a for s in sets for a in ("--set", s)]
    assert main(["train", recipe, "--out", str(run), "--quiet", *flags]) == 0
    return run


def test_ganforge_eval_of_a_tiny_table_run_writes_the_keys(tmp_path):
    from ganforge.cli import main

    run = train_run(tmp_path, 250, "data.holdout=0.2", "data.target=colour", "train.batch_size=50",
                    "train.steps=3")
    assert main(["eval", str(run), "-n", "120"]) == 0
    ev = json.loads((run / "eval.json").read_text())
    assert ev["task"] == "table" and set(ev["metrics"]) == {"quality", "detection", "ml_efficacy", "privacy"}
    m = ev["metrics"]
    assert 0 <= m["quality"]["quality"] <= 1 and 0 <= m["detection"]["detection_auc"] <= 1
    assert m["ml_efficacy"]["target"] == "colour" and m["ml_efficacy"]["rows"]["test"] == 50
    assert m["privacy"]["holdout"]["rows"] == 50 and m["privacy"]["synthetic"]["rows"] == 120
    prov = m["detection"]["provenance"]
    assert prov["checkpoint_step"] == 3 and prov["holdout_rows"] == 50 and prov["samples"] == 120
    assert "200 training rows" in prov["reference"]


def test_the_scored_rows_are_the_rows_ganforge_sample_writes(tmp_path):
    from ganforge.cli import main
    from ganforge.evaluation import load_task
    from ganforge.task_eval import SCORERS, EvalRequest
    from ganforge.training.state import generator_from, load_checkpoint

    run = train_run(tmp_path, 120, "train.batch_size=40", "train.steps=2")
    assert main(["sample", str(run), "-n", "50", "--seed", "7", "-o", str(tmp_path / "s.csv")]) == 0
    ckpt = load_checkpoint(run)
    scorer = SCORERS.get("table")(load_task(ckpt.config), EvalRequest(ckpt.config, 50, 7))
    rows = scorer.sample(generator_from(ckpt, False))
    written = pd.read_csv(tmp_path / "s.csv")
    pd.testing.assert_frame_equal(rows.reset_index(drop=True), written, check_dtype=False, atol=1e-6)
