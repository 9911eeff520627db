"""runs.py: sampling bounds and chunked outputs, resuming from a checkpoint file, one-line notes and
errors for what a user types (defects found in review, each with its test)."""

import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from ganforge import config, runs
from ganforge.cli import main
from ganforge.evaluation import evaluate_run
from ganforge.generation import write_samples
from ganforge.training.state import list_checkpoints

ROOT = Path(__file__).resolve().parents[1]
FAST = ["g.width=16", "d.width=16", "train.batch_size=32", "train.log_every=5", "train.plot_every=0",
        "train.ckpt_every=5", "train.steps=10", "data.name=ring8"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "r"
    runs.train(config.load(None, FAST), out, progress=False)
    return out


def test_huge_n_is_refused_at_once_without_memory(run, capsys):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert main(["sample", str(run), "-n", "99999999999999", "-o", str(run / "z.npy")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["ganforge: error: -n must be at most 10,000,000, got 99,999,999,999,999"]
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB
    assert not (run / "z.npy").exists()
    assert main(["sample", str(run), "-n", "2000", "-o", str(run / "g.png")]) == 2
    assert "at most 1,024" in capsys.readouterr().err


def test_large_npy_is_written_in_chunks_with_bounded_memory(run, monkeypatch, tmp_path):
    """A million points through chunks of 8,192: the file is complete and the samples equal
    the in-memory ones, while no chunk bigger than 8,192 samples is ever made."""
    import ganforge.generation as gen

    sizes = []
    original = gen.iter_generate

    def spy(*a, **kw):
        for part in original(*a, **kw):
            sizes.append(len(part))
            yield part

    monkeypatch.setattr(gen, "iter_generate", spy)
    out = write_samples(run, 1_000_000, 3, tmp_path / "big.npy")
    x = np.load(out, mmap_mode="r")
    assert x.shape == (1_000_000, 2) and x.dtype == np.float32 and np.isfinite(x[-10:]).all()
    assert max(sizes) == 8192 and sum(sizes) == 1_000_000
    first = write_samples(run, 8192, 3, tmp_path / "first.npy")
    assert np.array_equal(np.load(first), x[:8192])  # the same stream, chunk by chunk
    csv = write_samples(run, 20000, 3, tmp_path / "p.csv")
    rows = np.loadtxt(csv, delimiter=",", skiprows=1)
    assert rows.shape == (20000, 2) and np.allclose(rows[:8192], x[:8192], atol=1e-5)
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


def test_sample_subprocess_peak_memory_stays_small(run, tmp_path):
    """5 million points (40 MB of output) in a fresh process: peak RSS stays near the baseline."""
    code = ("import resource, sys; from ganforge.cli import main; "
            f"rc = main(['sample', {str(run)!r}, '-n', '5000000', '-o', {str(tmp_path / 'm.npy')!r}]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)")
    base = ("import resource, torch, ganforge.runs; "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    b = subprocess.run([sys.executable, "-c", base], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    peak, floor = int(r.stdout.split()[-1]), int(b.stdout.split()[-1])
    assert peak - floor < 150_000  # KiB: well below the 40 MB output, let alone 5M x 2 in memory
    assert np.load(tmp_path / "m.npy", mmap_mode="r").shape == (5_000_000, 2)


def _tamper(src: Path, dst: Path, **meta_changes):
    from safetensors import safe_open

    with safe_open(src, framework="pt") as f:
        meta = dict(f.metadata())
    for k, v in meta_changes.items():
        if v is None:
            meta.pop(k, None)
        else:
            meta[k] = v
    save_file(load_file(src), dst, metadata=meta)
    return dst


@pytest.mark.parametrize("change, message", [
    ({"config": None}, "without its config"),
    ({"config": "[unclosed"}, "not valid YAML"),
    ({"config": "- a list"}, "not a mapping"),
    ({"config": "train: {stepz: 3}"}, "unknown config key 'train.stepz'"),
    ({"step": "ten"}, "metadata 'step' must be a non-negative integer, got 'ten'"),
    ({"schema_version": "x1"}, "metadata 'schema_version' must be a non-negative integer"),
    ({"data_shape": "[2, -1]"}, "data_shape"),
])
def test_malformed_checkpoint_metadata_is_one_line(run, tmp_path, capsys, change, message):
    bad = _tamper(list_checkpoints(run)[-1][1], tmp_path / "bad.safetensors", **change)
    for argv in (["sample", str(bad), "-n", "5", "-o", str(tmp_path / "s.csv")],
                 ["eval", str(bad), "--json"], ["train", "--resume", str(bad), "--out", str(tmp_path / "o")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("ganforge: error: ") and message in err[0], err


def test_weights_that_do_not_fit_name_the_first_tensor(run, tmp_path, capsys):
    src = list_checkpoints(run)[-1][1]
    cfg = load_file(src)
    from safetensors import safe_open

    with safe_open(src, framework="pt") as f:
        meta = dict(f.metadata())
    meta["config"] = meta["config"].replace("width: 16", "width: 24", 1)  # g.width no longer 16
    save_file(cfg, tmp_path / "w.safetensors", metadata=meta)
    assert main(["sample", str(tmp_path / "w.safetensors"), "-n", "3", "-o", str(tmp_path / "a.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tensor 'g.net.0.weight' has shape (16, 2)" in err[0]
    assert "needs (24, 2)" in err[0]


def test_resume_accepts_a_checkpoint_file(run, tmp_path, capsys):
    steps = [s for s, _ in list_checkpoints(run)]
    assert steps == [5, 10]
    latest, early = list_checkpoints(run)[-1][1], list_checkpoints(run)[0][1]
    # the latest checkpoint of a run: continues that run in place
    assert main(["train", "--resume", str(latest), "--set", "train.steps=12", "--quiet"]) == 0
    assert f"trained {run} to step 12" in capsys.readouterr().out
    # an earlier one would overwrite later history: it needs a new directory
    assert main(["train", "--resume", str(early), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "not the latest checkpoint" in err and "pass --out NEW_RUN_DIR" in err
    branch = tmp_path / "branch"
    assert main(["train", "--resume", str(early), "--out", str(branch), "--quiet"]) == 0
    assert [s for s, _ in list_checkpoints(branch)] == [5, 10]  # it starts from its source
    assert json.loads((branch / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 10
    # and exactly what an uninterrupted run from the same checkpoint gives
    a = load_file(list_checkpoints(branch)[-1][1])
    straight = tmp_path / "straight"
    runs.train(config.load(None, FAST), straight, progress=False)
    b = load_file(list_checkpoints(straight)[-1][1])
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("g."))


def test_skipped_images_are_said_in_one_line(tmp_path, capsys):
    from PIL import Image

    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(9):
        Image.fromarray(np.full((8, 8), i * 20, np.uint8)).save(d / f"{i}.png")
    (d / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "r"
    runs.train(config.load(None, ["data.name=folder", f"data.path={d}", "data.size=8",
                                  "g.arch=dcgan", "d.arch=dcgan", "g.width=4", "d.width=4",
                                  "g.noise_dim=4", "train.steps=1", "train.batch_size=4",
                                  "health.enabled=false", "train.plot_every=0"]), out, progress=False)
    err = [ln for ln in capsys.readouterr().err.splitlines() if "skipped" in ln]
    assert err == [f"ganforge: note: 1 unreadable image file(s) skipped; using 9 images (1, 8, 8) from {d}"]


def test_evaluate_loads_the_data_set_once(tiny_cfg, tmp_path, monkeypatch):
    from ganforge import data as data_module
    from ganforge import evaluation

    runs.train(tiny_cfg("train.steps=10", "train.ckpt_every=10"), tmp_path / "run", progress=False,
               plots=False)
    calls = []
    build = data_module.build_data

    def counting(cfg):
        calls.append(cfg.name)
        return build(cfg)

    for where in (evaluation, data_module):  # the task's load_data and the Evaluator look it up there
        monkeypatch.setattr(where, "build_data", counting)
    r = evaluate_run(tmp_path / "run", n=200, metrics="modes,swd,fid")
    assert r["computed"] == ["modes", "swd", "fid"]
    assert calls == ["grid25"]


def test_eval_n_is_bounded(run, capsys):
    assert main(["eval", str(run), "-n", "5000000", "--json"]) == 2
    assert capsys.readouterr().err.strip() == "ganforge: error: -n must be at most 1,000,000, got 5,000,000"


@pytest.mark.parametrize("key, value", [("train.batch_size", 10**9), ("g.width", 10**6),
                                        ("train.d_steps", 10**9), ("data.size", 10**5)])
def test_config_sizes_are_bounded(key, value):
    from ganforge.errors import ConfigError

    with pytest.raises(ConfigError, match=f"config key '{key}' must be at most"):
        config.load(None, [f"{key}={value}"])


def test_eval_and_sample_never_import_the_training_loop(run, tmp_path):
    code = ("import sys; from ganforge.cli import main; "
            f"assert main(['sample', {str(run)!r}, '-n', '10', '-o', {str(tmp_path / 's.csv')!r}]) == 0; "
            f"assert main(['eval', {str(run)!r}, '-n', '100', '--json']) == 0; "
            "print(sorted(m for m in sys.modules if m.startswith(('ganforge.training.trainer', "
            "'ganforge.training.callbacks', 'ganforge.runs'))))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_resume_out_naming_the_run_itself_continues_in_place(tmp_path, capsys):
    out = tmp_path / "r"
    runs.train(config.load(None, FAST), out, progress=False)
    argv = ["train", "--resume", str(out), "--out", str(out), "--set", "train.steps=12", "--quiet"]
    assert main(argv) == 0, capsys.readouterr().err
    latest = list_checkpoints(out)[-1][1]  # step 12: the file form, naming its own run with --force
    argv = ["train", "--resume", str(latest), "--out", str(out), "--set", "train.steps=14", "--force",
            "--quiet"]
    assert main(argv) == 0, capsys.readouterr().err
    assert [s for s, _ in list_checkpoints(out)][-3:] == [10, 12, 14]  # nothing was deleted
    assert (out / "config.yaml").exists() and (out / "metrics.jsonl").exists()


def test_a_rollback_after_branching_goes_back_to_the_source_step(tmp_path):
    out = tmp_path / "r"
    runs.train(config.load(None, FAST), out, progress=False)
    branch = tmp_path / "b"
    trainer, info = runs.resume(list_checkpoints(out)[0][1], overrides=["train.ckpt_every=100"],
                                out=branch, progress=False)
    assert list_checkpoints(branch)[0][0] == 5 and info["step"] == 10


def test_changing_the_optimiser_on_resume_starts_it_afresh(tmp_path, capsys):
    out = tmp_path / "r"
    runs.train(config.load(None, FAST), out, progress=False)
    assert main(["train", "--resume", str(out), "--set", "opt_d.name=sgd", "--set", "opt_g.name=rmsprop",
                 "--set", "train.steps=14", "--quiet"]) == 0, capsys.readouterr().err
    assert "trained" in capsys.readouterr().out


def test_malformed_optimiser_metadata_is_one_line_on_resume(run, tmp_path, capsys):
    for change in ({"opt_g": "[]"}, {"opt_d": '{"param_groups": [], "scalars": []}'}, {"opt_g": None},
                   {"scalers": '{"g": 3}'}):
        bad = _tamper(list_checkpoints(run)[-1][1], tmp_path / "bad.safetensors", **change)
        assert main(["train", "--resume", str(bad), "--out", str(tmp_path / "o"), "--force"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        key = next(iter(change))
        assert len(err) == 1 and f"metadata '{key}'" in err[0], err


def test_a_loose_checkpoint_is_evaluated_without_writing_outside_a_run(run, tmp_path, capsys):
    loose = tmp_path / "elsewhere" / "lab.safetensors"
    loose.parent.mkdir()
    loose.write_bytes(list_checkpoints(run)[-1][1].read_bytes())
    assert main(["eval", str(loose), "-n", "200"]) == 0
    assert "not written: the checkpoint belongs to no run directory" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.rglob("*.json")) == []
    # a loose file in a run's checkpoints/ folder that is not a step file: a clear error, no IndexError
    other = tmp_path / "run2"
    (other / "checkpoints").mkdir(parents=True)
    (other / "config.yaml").write_text("{}")
    (other / "checkpoints" / "lab.safetensors").write_bytes(loose.read_bytes())
    assert main(["train", "--resume", str(other / "checkpoints" / "lab.safetensors")]) == 2
    assert "not the latest checkpoint" in capsys.readouterr().err
