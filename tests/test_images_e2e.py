"""An image GAN end to end on the shared MNIST files: train, resume exactly, eval, sample."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from ganforge.cli import main

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data" / "mnist"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/mnist is missing")
SMALL = ["--set", f"data.path={SHARED}", "--set", "g.width=8", "--set", "d.width=8",
         "--set", "g.noise_dim=16", "--set", "train.batch_size=16", "--set", "train.log_every=5",
         "--set", "train.plot_every=10", "--set", "train.ckpt_every=10", "--quiet"]


def test_mnist_train_resume_eval_sample(tmp_path, capsys):
    cfg = str(ROOT / "configs" / "mnist-dcgan.yaml")
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(["train", cfg, "--out", str(straight), "--set", "train.steps=20", *SMALL]) == 0
    assert main(["train", cfg, "--out", str(split), "--set", "train.steps=20", "--until", "10",
                 *SMALL]) == 0
    assert main(["train", "--resume", str(split), "--quiet"]) == 0
    a = load_file(straight / "checkpoints" / "step_0000020.safetensors")
    b = load_file(split / "checkpoints" / "step_0000020.safetensors")
    for k in a:
        assert torch.equal(a[k], b[k]), k

    grid = Image.open(straight / "samples" / "step_0000020.png")
    assert grid.mode == "L" and grid.size == (8 * 30 + 2, 8 * 30 + 2)  # 8x8 grid, 2 px gaps

    capsys.readouterr()
    assert main(["eval", str(straight), "--json", "-n", "200"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["computed"] == ["fid", "kid", "pr", "dc"]  # the defaults for MNIST
    fid = r["metrics"]["fid"]
    assert fid["fid"] > 0 and fid["provenance"]["checkpoint_step"] == 20
    assert fid["provenance"]["features"]["name"] == "lenet-mnist"
    assert fid["provenance"]["n_generated"] == 200 and fid["provenance"]["n_reference"] == 200
    assert "drawn without replacement" in fid["provenance"]["reference"]
    assert any(w.startswith("fid: n=200") for w in r["warnings"])

    assert main(["sample", str(straight), "-n", "9", "-o", str(tmp_path / "g.png")]) == 0
    assert Image.open(tmp_path / "g.png").size == (3 * 30 + 2, 3 * 30 + 2)
    assert main(["sample", str(straight), "-n", "5", "-o", str(tmp_path / "x.npy")]) == 0
    x = np.load(tmp_path / "x.npy")
    assert x.shape == (5, 1, 28, 28) and x.min() >= -1 and x.max() <= 1


def test_conditional_mnist_grid_rows_and_label_sampling(tmp_path):
    cfg = str(ROOT / "configs" / "mnist-dcgan.yaml")
    run = tmp_path / "cond"
    assert main(["train", cfg, "--out", str(run), "--set", "train.steps=4",
                 "--set", "train.conditional=true", "--set", "d.cond=acgan", *SMALL]) == 0
    grid = Image.open(run / "samples" / "step_0000004.png")
    assert grid.size == (8 * 30 + 2, 10 * 30 + 2)  # 10 classes x 8 samples
    assert main(["sample", str(run), "-n", "4", "--label", "3", "-o", str(tmp_path / "t.npy")]) == 0
    assert np.load(tmp_path / "t.npy").shape == (4, 1, 28, 28)
    assert main(["sample", str(run), "-n", "4", "--label", "12", "-o", str(tmp_path / "u.npy")]) == 2


def test_stacked_mnist_eval_and_training_time_metrics(tmp_path, capsys):
    run = tmp_path / "stacked"
    cfg = str(ROOT / "configs" / "stacked-mnist.yaml")
    assert main(["train", cfg, "--out", str(run), "--set", "train.steps=10",
                 "--set", "train.eval_every=5", "--set", "eval.metrics=modes,is,fid",
                 "--set", "eval.n_during=120", *SMALL]) == 0
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [x for x in lines if "eval" in x]
    assert [x["step"] for x in evals] == [5, 10]
    assert {"modes", "reverse_kl", "is", "fid"} <= set(evals[-1]["eval"])
    assert 1 <= evals[-1]["eval"]["modes"] <= 120

    capsys.readouterr()
    assert main(["eval", str(run), "--metrics", "modes,is", "-n", "300", "--json"]) == 0
    out = capsys.readouterr()
    r = json.loads(out.out)
    m = r["metrics"]["modes"]
    assert m["modes_total"] == 1000 and 1 <= m["modes"] <= 300 and sum(m["counts"]) == 300
    assert m["classifier"]["name"] == "lenet-mnist" and m["classifier"]["held_out_accuracy"] >= 0.985
    assert r["metrics"]["is"]["classes"] == 1000 and r["metrics"]["is"]["is"] >= 1.0
    assert "protocol uses 26,000 samples" in out.err

    assert main(["fit-classifier", "lenet-mnist"]) == 0
    out = capsys.readouterr().out
    assert "held-out accuracy" in out and "2000 images" in out
