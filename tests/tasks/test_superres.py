"""The superres task: degraded inputs from the data generator, L1 pre-training, exact resume, errors."""

import numpy as np
import pytest
import torch

from ganforge import config
from ganforge.data.images import to_float, to_uint8
from ganforge.data.photos import load_skimage_photos
from ganforge.data.superres import degrade, downscale, parse_degrade
from ganforge.errors import ConfigError
from ganforge.generation import translate
from ganforge.tasks import Batch, SuperResTask
from ganforge.training import Trainer
from ganforge.training.state import load_generator

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def photos():
    """16 px crops of two small photos, coffee held out: loads in well under a second."""
    return load_skimage_photos(16, 16, held_out=("coffee",), photos=("rocket", "coffee"), scale=0.25)


def _cfg(*extra: str) -> config.RunConfig:
    base = ["task.kind=superres", "data.name=photos", "data.size=16", "task.scale=4", "g.arch=rrdb",
            "g.width=8", "g.depth=1", "d.arch=patchgan", "d.width=8", "d.depth=2", "train.batch_size=4",
            "train.steps=8", "train.plot_every=0", "train.ckpt_every=0", "health.enabled=false"]
    return config.load(None, base + list(extra))


def _rng(seed: int = 0) -> dict[str, torch.Generator]:
    return {"data": torch.Generator().manual_seed(seed), "noise": torch.Generator().manual_seed(seed + 1)}


def test_a_batch_is_lowres_inputs_and_their_hr_targets(photos):
    task = SuperResTask(photos, 4, "bicubic", 100.0, CPU)
    assert task.shape == (3, 16, 16) and task.cond_shape == (3, 4, 4) and not task.from_noise
    b = task.batch(5, _rng(), lambda n, g: None)
    assert isinstance(b, Batch) and b.z is None and b.c_g.shape == (5, 3, 4, 4)
    assert b.c_g is b.c_d_real is b.c_d_fake and b.real is b.target
    hr = photos.sample(5, torch.Generator().manual_seed(0))  # HR first, from the same generator
    assert torch.equal(b.real, hr)
    assert torch.equal(b.c_g, to_float(to_uint8(downscale(hr, 4))))  # bicubic alone, on 8-bit levels


def test_degradations_are_random_but_reproducible(photos):
    task = SuperResTask(photos, 4, "bicubic,blur,noise,jpeg", 100.0, CPU)
    a, b = task.batch(6, _rng(3), lambda n, g: None), task.batch(6, _rng(3), lambda n, g: None)
    assert torch.equal(a.c_g, b.c_g)
    plain = to_float(to_uint8(downscale(a.real, 4)))
    assert (a.c_g - plain).abs().amax(dim=(1, 2, 3)).min() > 0  # every image got something else
    x = torch.rand(2, 1, 12, 12) * 2 - 1  # grey images go through every stage too
    assert degrade(x, 2, ("bicubic", "blur", "noise", "jpeg"), torch.Generator()).shape == (2, 1, 6, 6)
    lr, hr = task.preview(3)
    assert torch.equal(lr, task.preview(3)[0]) and torch.equal(hr, to_float(photos.test.images[:3]))


def test_pretraining_trains_g_on_l1_alone_and_leaves_d_still(photos):
    t = Trainer(_cfg("task.pretrain_steps=3"), data=photos)
    d0 = {k: v.clone() for k, v in t.d.state_dict().items()}
    first = [t.train_step() for _ in range(3)]
    assert all(s["loss_g"] == 0 and s["loss_d"] == 0 and np.isfinite(s["l1"]) for s in first)
    assert all(torch.equal(d0[k], v) for k, v in t.d.state_dict().items())
    s = t.train_step()
    assert s["loss_g"] > 0 and any(not torch.equal(d0[k], v) for k, v in t.d.state_dict().items())


def test_resume_across_the_end_of_pretraining_is_exact(photos, resumes_exactly):
    cfg = _cfg("task.pretrain_steps=3", "task.degrade=bicubic,noise,jpeg")
    _, path = resumes_exactly(cfg, photos, 2, 6)
    ckpt, g = load_generator(path)
    assert ckpt.cond_shape == (3, 4, 4) and ckpt.config.task.kind == "superres"
    assert translate(g, torch.zeros(2, 3, 4, 4)).shape == (2, 3, 16, 16)


def test_config_and_data_must_agree(photos):
    with pytest.raises(ConfigError, match="task.scale must be one of 2, 4, got 3"):
        config.load(None, ["task.kind=superres", "task.scale=3"])
    with pytest.raises(ConfigError, match="task.degrade must list bicubic"):
        config.load(None, ["task.kind=superres", "task.degrade=blur,sharpen"])
    assert parse_degrade(" jpeg, bicubic ") == ("jpeg", "bicubic")
    with pytest.raises(ConfigError, match="task.pretrain_steps does not apply to task.kind=generate"):
        config.load(None, ["task.pretrain_steps=10"])
    with pytest.raises(ConfigError, match="task.kind=superres needs a photo data set, not 'grid25'"):
        Trainer(config.load(None, ["task.kind=superres", "g.arch=rrdb", "d.arch=patchgan"]))
    with pytest.raises(ConfigError, match="task.scale=4 must divide the image size 18x18"):
        SuperResTask(load_skimage_photos(18, 18, ("coffee",), ("rocket", "coffee"), 0.25), 4, "bicubic", 1.0,
                     CPU)


def test_the_recipe_loads_and_a_run_writes_triplets(tmp_path):
    from PIL import Image

    from ganforge.runs import train

    cfg = config.load("configs/sr-x4.yaml", ["train.steps=2", "g.width=4", "g.depth=1", "d.width=4",
                                               "train.batch_size=2", "train.plot_every=0", "data.size=32",
                                               "task.pretrain_steps=1"])
    trainer, out = train(cfg, tmp_path / "run", progress=False)
    assert trainer.step == 2 and out["plot"].endswith("step_0000002.png")
    w, h = Image.open(out["plot"]).size
    assert w > h
    assert "l1" in (tmp_path / "run" / "metrics.jsonl").read_text()
