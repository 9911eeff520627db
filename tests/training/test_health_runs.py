"""The monitors on real training runs: constructed failures fire, a NaN is rolled back (or stops the
run cleanly), and the recipes train without a single alarm."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ganforge import config, runs
from ganforge.cli import main
from ganforge.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS = {"Collapsed", "Diverged", "Stalled", "Oscillating"}


def _lines(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def _events(run: Path) -> list[dict]:
    return [x["event"] | {"step": x["step"]} for x in _lines(run) if "event" in x]


def _train(tmp_path: Path, name: str, overrides: list[str], recipe: str | None = None) -> dict:
    cfg = config.load(ROOT / "configs" / recipe if recipe else None, [*overrides, "train.threads=1"])
    _, info = runs.train(cfg, tmp_path / name, progress=False, plots=False)
    return info


def test_tiny_generator_on_two_clusters_collapses(tmp_path):
    info = _train(tmp_path, "tiny", ["data.name=two", "g.width=2", "g.depth=1", "loss.name=minimax",
                                     "train.steps=900", "health.warmup=300", "train.ckpt_every=0"])
    ev = _events(tmp_path / "tiny")
    assert info["state"] == "Collapsed"
    assert any(e["monitor"] == "collapse" and "only 1 of 2 modes covered" in e["message"] for e in ev)
    logged = [x["state"] for x in _lines(tmp_path / "tiny") if "state" in x]
    assert logged[0] == "Running" and logged[-1] == "Collapsed"


def test_minimax_gan_on_grid25_collapses(tmp_path):
    info = _train(tmp_path, "grid", ["data.name=grid25", "loss.name=minimax", "g.width=64", "d.width=64",
                                     "train.steps=900", "health.warmup=400", "train.ckpt_every=0"])
    ev = _events(tmp_path / "grid")
    assert any(e["state"] == "Collapsed" and "of 25 modes covered" in e["message"] for e in ev)
    assert info["events"] and info["events"][0].startswith("step ")


def test_a_discriminator_with_a_much_larger_lr_runs_away(tmp_path, capsys):
    cfg = config.load(None, ["data.name=two", "loss.name=minimax", "opt_d.lr=0.02", "opt_g.lr=0.0001",
                             "train.steps=400", "train.ckpt_every=0", "train.threads=1"])
    runs.train(cfg, tmp_path / "runaway", progress=True, plots=False)
    ev = _events(tmp_path / "runaway")
    run_away = [e for e in ev if e["monitor"] == "runaway"]
    assert run_away and run_away[0]["state"] == "Stalled" and "vanishes" in run_away[0]["message"]
    err = capsys.readouterr().err
    assert "health: step" in err and "(runaway)" in err and "Try: use the non-saturating loss" in err


def test_learning_rates_too_small_for_any_progress_stall(tmp_path):
    _train(tmp_path, "slow", ["data.name=ring8", "opt_g.lr=1e-7", "opt_d.lr=1e-7", "train.steps=700",
                              "health.warmup=300", "health.check_every=25", "train.ckpt_every=0"])
    stall = [e for e in _events(tmp_path / "slow") if e["monitor"] == "stall"]
    assert stall and stall[0]["state"] == "Stalled"
    assert "no progress over the last 8 checks" in stall[0]["message"]


def test_weight_clipped_wgan_with_plain_sgd_oscillates(tmp_path):
    _train(tmp_path, "osc", ["data.name=ring8", "loss.name=wasserstein", "loss.clip=0.1", "opt_g.name=sgd",
                             "opt_d.name=sgd", "opt_g.lr=0.05", "opt_d.lr=0.05", "train.steps=800",
                             "health.warmup=300", "health.check_every=25", "train.ckpt_every=0"])
    osc = [e for e in _events(tmp_path / "osc") if e["monitor"] == "oscillation"]
    assert osc and osc[0]["state"] == "Oscillating" and "swung between" in osc[0]["message"]


@pytest.fixture
def nan_at_step_25(monkeypatch):
    """One poisoned step: after step 25 a weight of D becomes NaN, so step 26's losses are NaN."""
    original = Trainer.train_step
    done = {"poisoned": False}

    def train_step(self):
        stats = original(self)
        if self.step == 25 and not done["poisoned"]:
            done["poisoned"] = True
            with torch.no_grad():
                next(self.d.parameters()).view(-1)[0] = float("nan")
        return stats

    monkeypatch.setattr(Trainer, "train_step", train_step)
    return done


SMALL = ["data.name=grid25", "g.width=32", "d.width=32", "train.batch_size=64", "train.steps=60",
         "train.ckpt_every=10", "train.log_every=5", "opt_g.lr=0.001", "opt_d.lr=0.002"]


def test_nan_rolls_back_to_the_last_checkpoint_with_lower_lrs(tmp_path, nan_at_step_25):
    info = _train(tmp_path, "nan", SMALL)
    run = tmp_path / "nan"
    assert nan_at_step_25["poisoned"] and info["step"] == 60 and info["retries"] == 1
    rec = [e for e in _events(run) if e["monitor"] == "recovery"]
    assert len(rec) == 1 and rec[0]["step"] == 20
    msg = rec[0]["message"]  # the weight check (every 25 steps) or the NaN loss of step 26 saw it
    assert ("is not finite at step 25" in msg or "became nan at step 26" in msg) and "opt_d.lr 0.001" in msg
    steps = [x["step"] for x in _lines(run) if "loss_d" in x]
    assert steps == sorted(steps) and len(steps) == len(set(steps))  # no lines from the lost future
    cfg = config.load(run / "config.yaml")
    assert cfg.opt_g.lr == pytest.approx(0.0005) and cfg.opt_d.lr == pytest.approx(0.001)
    final = load_file(run / "checkpoints" / "step_0000060.safetensors")
    assert all(torch.isfinite(v).all() for k, v in final.items() if v.is_floating_point())


def test_nan_with_on_diverge_stop_ends_cleanly_and_stays_resumable(tmp_path, nan_at_step_25, capsys):
    run = tmp_path / "stop"
    args = ["train", "--out", str(run), "--quiet", "--no-plots"]
    for kv in [*SMALL, "health.on_diverge=stop", "health.check_every=7"]:
        args += ["--set", kv]
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("seed: 0\n")
    assert main([*args[:1], str(cfg_file), *args[1:]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ganforge: error: training diverged") and "resumable from step 20" in err[-1]
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert ckpts[-1] == "step_0000020.safetensors"  # nothing written after the NaN
    ev = _events(run)
    assert ev[-1]["state"] == "Diverged" and "loss_d became nan at step 26" in ev[-1]["message"]
    assert main(["train", "--resume", str(run), "--quiet", "--no-plots"]) == 0  # the NaN was one-off


@pytest.mark.slow
def test_the_recipes_train_without_an_alarm(tmp_path):
    """grid25 and ring8, full length, side by side (one thread each): not one problem event."""
    import subprocess
    import sys

    def start(r: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "ganforge", "train", str(ROOT / "configs" / f"{r}.yaml"),
               "--out", str(tmp_path / r), "--quiet", "--no-plots"]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    procs = {r: start(r) for r in ("grid25", "ring8")}
    for r, p in procs.items():
        out, err = p.communicate(timeout=900)
        assert p.returncode == 0, err
        ev = _events(tmp_path / r)
        assert not [e for e in ev if e["state"] in PROBLEMS], ev
        assert "health: Converged" in out or "health: Running" in out
    assert any("Converged" in e["state"] for r in procs for e in _events(tmp_path / r))


def test_nan_before_the_first_checkpoint_restarts_from_scratch(tmp_path, nan_at_step_25):
    info = _train(tmp_path, "early", [*SMALL, "train.ckpt_every=0", "health.check_every=7"])
    rec = [e for e in _events(tmp_path / "early") if e["monitor"] == "recovery"]
    assert info["step"] == 60 and len(rec) == 1 and rec[0]["step"] == 0
    assert "rolled back to step 0" in rec[0]["message"]
