"""The inpaint task: batches and conditions, the composite, the hole L1, training, exact resume, the
set's own masks, one-line errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import config
from ganforge.data import load_toy
from ganforge.data.photos import PHOTO_SETS, load_photo_folder
from ganforge.errors import ConfigError, DataError
from ganforge.generation import inpaint
from ganforge.tasks import TASKS, Batch
from ganforge.tasks.inpaint import InpaintTask, hole_l1
from ganforge.training import Trainer
from ganforge.training.state import load_generator, save_checkpoint

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def fashion():
    """300 Fashion-MNIST images at 16 px (and 300 held out): small enough to learn from in seconds."""
    return PHOTO_SETS.get("photos-fashion")(size=16, limit=300)


def _cfg(*extra: str) -> config.RunConfig:
    base = ["task.kind=inpaint", "data.name=photos-fashion", "data.size=16", "g.arch=gated", "g.width=8",
            "g.depth=1", "d.arch=patchgan", "d.width=8", "d.depth=2", "train.batch_size=8",
            "train.steps=100", "train.plot_every=0", "train.ckpt_every=0", "health.enabled=false"]
    return config.load(None, base + list(extra))


def _rng(seed: int = 0) -> dict[str, torch.Generator]:
    return {"data": torch.Generator().manual_seed(seed), "noise": torch.Generator().manual_seed(seed + 1)}


def test_a_batch_is_images_with_holed_copies_and_masks_as_every_condition(fashion):
    task = InpaintTask(fashion, 100.0, CPU)
    assert task.shape == (1, 16, 16) and task.cond_shape == (2, 16, 16) and not task.from_noise
    assert TASKS.get("inpaint") is InpaintTask and task.stat_names == ("l1_hole",)
    b = task.batch(6, _rng(), lambda n, g: None)
    assert isinstance(b, Batch) and b.z is None
    assert b.c_g is b.c_d_real is b.c_d_fake and b.real is b.target
    x, m = b.real, b.c_g[:, 1:]
    assert x.shape == (6, 1, 16, 16) and set(m.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(b.c_g[:, :1], x * (1 - m))
    g = torch.Generator().manual_seed(0)  # the same draws: images first, then masks
    assert torch.equal(x, fashion.sample(6, g)) and torch.equal(m, task.masks(6, g))
    share = m.mean((1, 2, 3))
    assert share.min() >= 0.1 and share.max() <= 0.5


def test_the_composite_keeps_valid_pixels_exactly(fashion):
    t = Trainer(_cfg(), data=fashion)
    b = t.task.batch(8, t.rng, t.noise)
    out = t.g(b.z, b.c_g)
    valid = b.c_g[:, 1:].expand_as(out) == 0
    assert torch.equal(out[valid], b.real[valid])
    x, m = t.task.held_out(5)
    filled = inpaint(t.g, x, m)
    assert torch.equal(filled[m.expand_as(x) == 0], x[m.expand_as(x) == 0])


def test_the_l1_term_is_lambda_times_the_mean_over_hole_pixels(fashion):
    task = InpaintTask(fashion, 7.5, CPU)
    fake, x = torch.rand(4, 1, 16, 16) * 2 - 1, torch.rand(4, 1, 16, 16) * 2 - 1
    m = (torch.rand(4, 1, 16, 16) > 0.6).float()
    loss, stats = task.extra_g_loss(fake, Batch(None, torch.cat([x * (1 - m), m], 1), x, None, None, x), None)
    diff = np.abs(fake.numpy().astype(np.float64) - x.numpy())
    by_hand = diff[m.numpy() == 1].mean()
    assert stats["l1_hole"] == pytest.approx(by_hand, rel=1e-6)
    assert loss.item() == pytest.approx(7.5 * by_hand, rel=1e-6)
    rgb = torch.rand(2, 3, 8, 8)  # every channel of a hole pixel counts
    ones = torch.ones(2, 1, 8, 8)
    assert hole_l1(rgb, torch.zeros_like(rgb), ones).item() == pytest.approx(rgb.mean().item())


def test_training_lowers_the_hole_l1_on_a_fixed_batch(fashion):
    """50 steps of a tiny gated G (about 1 s on a free core): from grey holes (0.64) to about 0.42."""
    t = Trainer(_cfg("seed=3", "opt_g.lr=3e-3"), data=fashion)
    x, m = t.task.images(32, torch.Generator().manual_seed(5))

    def l1() -> float:
        return float(hole_l1(inpaint(t.g, x, m), x, m))

    before = l1()
    stats = [t.train_step() for _ in range(50)]
    after = l1()
    assert all(np.isfinite(s["loss_g"]) and np.isfinite(s["l1_hole"]) for s in stats)
    assert after < 0.8 * before, (before, after)


def test_resume_continues_exactly(fashion, tmp_path, resumes_exactly):
    straight, _ = resumes_exactly(_cfg("train.steps=8"), fashion, 3, 8)
    save_checkpoint(straight, tmp_path / "c.safetensors")
    ckpt, g = load_generator(tmp_path / "c.safetensors")
    assert ckpt.cond_shape == (2, 16, 16) and ckpt.config.task.kind == "inpaint"
    assert inpaint(g, torch.zeros(3, 1, 16, 16), torch.ones(3, 1, 16, 16)).shape == (3, 1, 16, 16)


def _folder(root, n: int = 6, bad: str = "") -> None:
    """n grey 16 px images with masks/ beside them (a box each); `bad`: that mask is 12 px."""
    (root / "masks").mkdir(parents=True)
    for i in range(n):
        Image.fromarray(np.full((16, 16), 20 * i, np.uint8)).save(root / f"im{i}.png")
        m = np.zeros((12, 12) if f"im{i}" == bad else (16, 16), np.uint8)
        m[2:8, 3 + i:9 + i] = 255
        Image.fromarray(m).save(root / "masks" / f"im{i}.png")


def test_the_sets_own_masks_are_used(tmp_path):
    _folder(tmp_path / "f")
    data = load_photo_folder(tmp_path / "f", every=3)
    task = InpaintTask(data, 100.0, CPU, mask="data")
    b = task.batch(5, _rng(), lambda n, g: None)
    x, m = data.sample_masked(5, torch.Generator().manual_seed(0))
    assert torch.equal(b.real, x) and torch.equal(b.c_g[:, 1:], m)
    hx, hm = task.held_out(4)  # the held-out images with their own masks
    assert torch.equal(hm, (data.test.masks > 127).float())
    assert InpaintTask(data, 100.0, CPU).held_out(2)[1].shape == (2, 1, 16, 16)  # random masks there too


def test_config_and_data_must_agree(fashion, tmp_path):
    with pytest.raises(ConfigError, match="task.kind=inpaint needs a photo data set, not 'grid25'"):
        Trainer(config.load(None, ["task.kind=inpaint", "data.name=grid25"]))
    with pytest.raises(ConfigError, match="task.kind=inpaint needs images; data.name=ring8 holds"):
        InpaintTask(load_toy("ring8"), 100.0, CPU)
    with pytest.raises(ConfigError, match="task.mask=data needs a set with masks; photos-fashion has none"):
        InpaintTask(fashion, 100.0, CPU, mask="data")
    with pytest.raises(ConfigError, match="task.mask must be one of mixed, strokes, boxes, data"):
        InpaintTask(fashion, 100.0, CPU, mask="circles")
    with pytest.raises(ConfigError, match="task.hole_min < task.hole_max"):
        Trainer(_cfg("task.hole_max=0.05"), data=fashion)
    with pytest.raises(ConfigError, match="g.arch=mlp takes no input image"):
        Trainer(_cfg("g.arch=mlp"), data=fashion)
    _folder(tmp_path / "bad", bad="im4")
    with pytest.raises(DataError, match=r"mask .*im4.png is 12x12, its image im4.png is 16x16"):
        Trainer(_cfg("data.name=photos-folder", f"data.path={tmp_path / 'bad'}", "task.mask=data"))
    with pytest.raises(DataError, match="inpaint needs images"):
        inpaint(Trainer(_cfg(), data=fashion).g, torch.zeros(2, 1, 16, 16), torch.zeros(2, 16, 16))


def test_the_recipe_loads_and_a_run_writes_triplets(tmp_path):
    from ganforge.runs import train

    cfg = config.load("configs/inpaint-fashion.yaml", ["train.steps=2", "g.width=4", "d.width=4",
                                                       "train.batch_size=4", "train.plot_every=0"])
    assert cfg.task.kind == "inpaint" and cfg.task.mask == "mixed" and cfg.g.arch == "gated"
    trainer, out = train(cfg, tmp_path / "run", progress=False)
    assert trainer.step == 2 and out["plot"].endswith("step_0000002.png")
    w, h = Image.open(out["plot"]).size
    assert w > h  # 24 held-out images, 4 triplets a row: 6 rows of 12 tiles
    assert "l1_hole" in (tmp_path / "run" / "metrics.jsonl").read_text()
