"""The public Python API: the README's example runs as written; callbacks plug in; load needs no
data set and no flags."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ganforge

ROOT = Path(__file__).resolve().parents[1]


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_python_example_runs_as_written(tmp_path):
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    script = tmp_path / "example.py"
    script.write_text(_readme_example())
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert lines[:3] == ["step 100: " + lines[0].split(": ", 1)[1],
                         "step 200: " + lines[1].split(": ", 1)[1],
                         "step 300: " + lines[2].split(": ", 1)[1]]  # the callback ran
    assert lines[3].startswith("runs/api-grid25 300 ")
    assert lines[4] == "2 (2,) 0 torch.Size([4, 2])"
    assert re.fullmatch(r"\d+ of 25 modes; high quality [0-9.]+", lines[5])
    assert (tmp_path / "runs" / "api-grid25" / "eval.json").exists()


def test_public_names():
    for name in ("train", "resume", "load", "evaluate", "Run", "Callback", "LoadedGenerator"):
        assert name in dir(ganforge) and getattr(ganforge, name) is not None
    with pytest.raises(AttributeError):
        ganforge.not_a_thing  # noqa: B018


def test_train_with_a_dict_and_callbacks_then_load_anywhere(tmp_path):
    seen = []

    class Recorder(ganforge.Callback):
        def on_start(self, trainer):
            seen.append(("start", trainer.step))

        def on_step(self, trainer, stats):
            seen.append(("step", stats["step"]))

        def on_end(self, trainer):
            seen.append(("end", trainer.step))

    cfg = {"data": {"name": "ring8"}, "g": {"width": 16}, "d": {"width": 16},
           "train": {"steps": 6, "batch_size": 32, "ckpt_every": 3, "plot_every": 0, "log_every": 3}}
    run = ganforge.train(cfg, out=tmp_path / "r", overrides={"seed": 4}, device="cpu",
                         callbacks=[Recorder()])
    assert seen[0] == ("start", 0) and seen[-1] == ("end", 6) and len(seen) == 8
    assert run.step == 6 and run.dir == tmp_path / "r" and run.last_log["step"] == 6
    ckpt = sorted((run.dir / "checkpoints").iterdir())[-1]
    g = ganforge.load(ckpt, device="cpu")  # a checkpoint file alone
    assert g.step == 6 and g.data_shape == (2,) and g.config.seed == 4
    assert torch.equal(g.sample(50, seed=2), run.generator(device="cpu").sample(50, seed=2))
    more = ganforge.resume(run.dir, overrides={"train.steps": 9})
    assert more.step == 9


def test_bad_overrides_are_config_errors(tmp_path):
    with pytest.raises(ganforge.ConfigError, match="unknown config key 'train.stepz'"):
        ganforge.train(None, out=tmp_path / "x", overrides={"train.stepz": 3})
    with pytest.raises(ganforge.ConfigError, match="not one string"):
        ganforge.train(None, out=tmp_path / "x", overrides="train.steps=3")
    assert not (tmp_path / "x").exists()
