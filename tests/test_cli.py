"""End to end through the command line: train, resume, eval, sample, and one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ganforge.cli import main

FAST = ["--set", "g.width=32", "--set", "d.width=32", "--set", "train.batch_size=64",
        "--set", "train.log_every=10", "--set", "train.ckpt_every=20", "--set",
        "train.plot_every=20"]


def _train(tmp_path, out, steps, *extra):
    return main(["train", "configs/grid25.yaml", "--out", str(out), "--quiet",
                 "--set", f"train.steps={steps}", *FAST, *extra])


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_train_eval_sample(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(tmp_path, run, 40) == 0
    out = capsys.readouterr().out
    assert f"trained {run} to step 40" in out and "plot: " in out
    assert (run / "config.yaml").exists()
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step_0000020.png", "step_0000040.png"]
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [10, 20, 30, 40]
    for key in ("epoch", "loss_d", "loss_g", "d_acc", "grad_norm_d", "grad_norm_g",
                "samples_per_s"):
        assert key in lines[-1]

    assert main(["eval", str(run), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["computed"] == ["modes", "swd"]  # the defaults for a mixture with known modes
    m = r["metrics"]["modes"]
    assert m["modes_total"] == 25 and 0 <= m["modes"] <= 25 and 0 <= m["hq"] <= 1
    assert "reverse_kl" in m and r["metrics"]["swd"]["swd"] > 0
    prov = m["provenance"]
    assert prov["n_generated"] == 2500 and prov["checkpoint_step"] == 40
    assert prov["seed"] == 12345 and prov["versions"]["ganforge"] and prov["versions"]["torch"]
    assert r["metrics"]["swd"]["provenance"]["n_reference"] == 2500
    assert json.loads((run / "eval.json").read_text())["metrics"]["modes"]["modes"] == m["modes"]

    # a second eval with other metrics keeps the first one's scores beside the new ones
    assert main(["eval", str(run), "--metrics", "fid,pr", "-n", "300", "--json"]) == 0
    r2 = json.loads(capsys.readouterr().out)
    assert r2["computed"] == ["fid", "pr"]
    assert r2["metrics"]["fid"]["provenance"]["features"]["name"] == "identity"
    assert set(json.loads((run / "eval.json").read_text())["metrics"]) == {"modes", "swd", "fid", "pr"}
    assert any("pr: n=300" in w for w in r2["warnings"])

    assert main(["sample", str(run), "-n", "50", "--seed", "3", "-o", str(tmp_path / "s.npy")]) == 0
    assert main(["sample", str(run), "-n", "50", "--seed", "3", "-o", str(tmp_path / "s.csv")]) == 0
    a = np.load(tmp_path / "s.npy")
    b = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    assert a.shape == (50, 2) and np.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("how", ["until", "extend"])
def test_cli_resume_matches_uninterrupted_run(tmp_path, how):
    """Stop at 20 (--until, or a run of 20 steps extended to 40), resume to 40: same tensors.
    Extending changes the lr schedule when train.lr_end != 1, so that case keeps lr constant."""
    straight, split = tmp_path / "straight", tmp_path / "split"
    extra = ("--set", "train.lr_end=0.3") if how == "until" else ("--set", "train.lr_end=1")
    assert _train(tmp_path, straight, 40, "--no-plots", *extra) == 0
    if how == "until":
        assert _train(tmp_path, split, 40, "--no-plots", "--until", "20", *extra) == 0
        assert main(["train", "--resume", str(split), "--quiet", "--no-plots"]) == 0
    else:
        assert _train(tmp_path, split, 20, "--no-plots", *extra) == 0
        assert main(["train", "--resume", str(split), "--quiet", "--no-plots",
                     "--set", "train.steps=40"]) == 0
    a = load_file(straight / "checkpoints" / "step_0000040.safetensors")
    b = load_file(split / "checkpoints" / "step_0000040.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    steps = [json.loads(x)["step"] for x in (split / "metrics.jsonl").read_text().splitlines()]
    assert steps == [10, 20, 30, 40]


def test_resume_of_a_finished_run_says_how_to_extend(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(tmp_path, run, 10, "--no-plots") == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--quiet"]) == 2
    assert "already at step 10" in capsys.readouterr().err


def test_existing_run_directory_is_protected(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(tmp_path, run, 2, "--no-plots") == 0
    capsys.readouterr()
    assert _train(tmp_path, run, 2, "--no-plots") == 2
    assert "already exists" in capsys.readouterr().err
    assert _train(tmp_path, run, 2, "--no-plots", "--force") == 0


def _run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "ganforge", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["train", "missing.yaml"], "config file not found: missing.yaml"),
        (["train", "configs/grid25.yaml", "--set", "loss.name=wgan"], "unknown loss 'wgan'"),
        (["train", "configs/grid25.yaml", "--set", "train.stepz=1"],
         "unknown config key 'train.stepz'"),
        (["train", "BAD_YAML"], "malformed YAML"),
        (["eval", "no/such/run"], "run directory not found"),
        (["train", "configs/grid25.yaml", "--until", "0"], "--until must be in"),
        (["sample", "no/such/run", "-o", "x.csv"], "run directory not found"),
        (["export", "no/such/run", "-o", "out/m.onnx"], "run directory not found"),
        (["inspect", "out/nothing.png"], "no such file: out/nothing.png"),
        (["train", "--resume", "no/such/run"], "run directory not found"),
        (["train"], "train needs a CONFIG"),
        (["lab", "--port", "0", "--no-browser"], "--port must be in 1..65535"),
        (["serve", "no/such/run"], "run directory not found"),
        (["serve", "no/such/run", "--port", "70000"], "--port must be in 1..65535"),
        (["serve", "no/such/run", "--backend", "tf"], "unknown backend 'tf'"),
        (["serve", "no/such/run", "--max-n", "0"], "max_n must be a positive integer"),
    ],
)
def test_bad_input_is_one_line_on_stderr(tmp_path, args, fragment):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {steps: [1,\n")
    args = [str(bad) if a == "BAD_YAML" else a for a in args]
    if args[0] == "train" and "--resume" not in args and len(args) > 1:
        args += ["--out", str(tmp_path / "out")]
    p = _run(*args, cwd=ROOT)
    assert p.returncode != 0
    err = p.stderr.strip().splitlines()
    assert len(err) == 1, p.stderr
    assert err[0].startswith("ganforge: error: ") and fragment in err[0]
    assert "Traceback" not in p.stderr
    assert not (tmp_path / "out").exists()  # nothing written on bad input


def test_every_verb_has_help_with_an_example():
    for verb in ("train", "eval", "sample", "export", "inspect", "download", "lab", "fit-classifier",
                 "report", "serve"):
        with pytest.raises(SystemExit) as e:
            main([verb, "--help"])
        assert e.value.code == 0


def test_help_text_mentions_example(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "ganforge train configs/grid25.yaml --out runs/grid25" in capsys.readouterr().out


def test_eval_json_puts_the_mode_headline_at_the_top_level(tmp_path, capsys):
    """As the foundation specified: modes, modes_total, hq and reverse_kl beside the detail."""
    run = tmp_path / "run"
    assert _train(tmp_path, run, 10, "--no-plots") == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--json", "-n", "500"]) == 0
    r = json.loads(capsys.readouterr().out)
    m = r["metrics"]["modes"]
    for key in ("modes", "modes_total", "hq", "reverse_kl"):
        assert key in r and r[key] == m[key], key
    assert r["modes_total"] == 25 and isinstance(r["modes"], int)
    assert r["swd"] == r["metrics"]["swd"]["swd"]
    assert "modes_total" not in json.loads((run / "eval.json").read_text())  # eval.json keeps its layout


def test_train_eval_sample_on_1d_data(tmp_path, capsys):
    """data.name=two1d end to end: train (the samples PNG is the 1-D picture), eval modes, sample."""
    run = tmp_path / "run1d"
    assert main(["train", "configs/ring8.yaml", "--out", str(run), "--quiet", "--set", "data.name=two1d",
                 "--set", "train.steps=40", "--set", "g.noise_dim=1", *FAST]) == 0
    assert f"trained {run} to step 40" in capsys.readouterr().out
    pngs = sorted((run / "samples").iterdir())
    assert [p.name for p in pngs] == ["step_0000020.png", "step_0000040.png"]
    from PIL import Image

    w, h = Image.open(pngs[-1]).size
    assert w > h  # the 1-D picture (densities over x), not the square 2-D field
    assert main(["eval", str(run), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)["metrics"]["modes"]
    assert m["modes_total"] == 2 and 0 <= m["modes"] <= 2
    assert main(["sample", str(run), "-n", "30", "-o", str(tmp_path / "s.csv")]) == 0
    s = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    assert s.shape == (30,) and np.isfinite(s).all()


def test_lab_opens_a_run_and_refuses_one_it_cannot_draw_in_one_line(tmp_path, capsys, monkeypatch):
    import ganforge.lab.server as server
    from ganforge.training.state import load_checkpoint, save_checkpoint
    from ganforge.training.trainer import Trainer

    served = []
    monkeypatch.setattr(server, "serve", lambda *a, **k: served.append(k))
    run = tmp_path / "run"
    assert _train(tmp_path, run, 20) == 0
    capsys.readouterr()
    assert main(["lab", str(run), "--no-browser"]) == 0
    assert served and served[0]["run"].step == 20
    assert "at step 20" in capsys.readouterr().out

    cfg = load_checkpoint(run).config
    cfg.g.arch = "dcgan"  # a run of image nets
    bad = tmp_path / "images.safetensors"
    save_checkpoint(Trainer(load_checkpoint(run).config, device="cpu"), bad, cfg)
    served.clear()
    assert main(["lab", str(bad), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganforge: error: ") and "the lab cannot open this run" in err
    assert err.count("\n") == 1 and served == []  # one line, and no server started
    assert main(["lab", str(tmp_path / "nosuch"), "--no-browser"]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and served == []


def test_serve_prints_its_url_and_warns_beyond_loopback(image_run, capsys, monkeypatch):
    import ganforge.serve.app as app

    served = []
    monkeypatch.setattr(app, "serve", lambda model, host, port, limits: served.append((host, port, limits)))
    assert main(["serve", str(image_run), "--device", "cpu", "--port", "8123", "--max-n", "8"]) == 0
    out = capsys.readouterr()
    assert "http://127.0.0.1:8123/v1/samples" in out.out and out.err == ""
    assert served[0][2].max_n == 8
    assert main(["serve", str(image_run), "--device", "cpu", "--host", "0.0.0.0"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("ganforge: warning: binding to 0.0.0.0") and len(err.strip().splitlines()) == 1
