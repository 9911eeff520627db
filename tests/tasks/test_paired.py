"""The paired task (pix2pix): batches, the L1 term, training, exact resume, one-line errors."""

import numpy as np
import pytest
import torch

from ganforge import config
from ganforge.data import load_paired, load_toy
from ganforge.errors import ConfigError
from ganforge.generation import translate
from ganforge.tasks import TASKS, Batch, PairedTask
from ganforge.training import Trainer, fit
from ganforge.training.state import load_generator, save_checkpoint

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def glyphs():
    """Twenty characters at 16 px, four held out: enough to learn from in a few seconds."""
    return load_paired("glyphs", size=16, charset="abcdefghijklmnopqrst", every=5)


def _cfg(*extra: str) -> config.RunConfig:
    base = ["task.kind=paired", "data.name=glyphs", "data.size=16", "g.arch=unet", "g.width=8",
            "g.batch_norm=true", "d.arch=patchgan", "d.width=8", "d.depth=2", "train.batch_size=8",
            "train.steps=100", "train.plot_every=0", "train.ckpt_every=0", "health.enabled=false"]
    return config.load(None, base + list(extra))


def test_a_batch_is_aligned_pairs_with_the_input_as_every_condition(glyphs):
    task = PairedTask(glyphs, 100.0, CPU)
    assert task.shape == (1, 16, 16) and task.cond_shape == (1, 16, 16) and not task.from_noise
    rng = {"data": torch.Generator().manual_seed(0), "noise": torch.Generator().manual_seed(1)}
    b = task.batch(6, rng, lambda n, g: torch.randn(n, 5, generator=g))
    assert isinstance(b, Batch) and b.z.shape == (6, 5)
    assert b.c_g is b.c_d_real is b.c_d_fake and b.real is b.target
    a, t = glyphs.sample(6, torch.Generator().manual_seed(0))  # the same draw: one index for both sides
    assert torch.equal(b.c_g, a) and torch.equal(b.real, t)


def test_the_l1_term_is_lambda_times_the_mean_absolute_difference(glyphs):
    task = PairedTask(glyphs, 7.5, CPU)
    fake, target = torch.rand(4, 1, 16, 16) * 2 - 1, torch.rand(4, 1, 16, 16) * 2 - 1
    loss, stats = task.extra_g_loss(fake, Batch(None, None, None, None, None, target), None)
    by_hand = 7.5 * float(np.mean(np.abs(fake.numpy().astype(np.float64) - target.numpy())))
    assert loss.item() == pytest.approx(by_hand, rel=1e-6)
    assert stats["l1"] == pytest.approx(by_hand / 7.5, rel=1e-6)


def test_training_brings_the_output_towards_the_target(glyphs):
    """60 steps of a tiny U-Net (about 6 s on 2 CPU cores): L1 to the target on a fixed batch falls."""
    t = Trainer(_cfg("seed=3", "g.batch_norm=false", "opt_g.lr=1e-3"), data=glyphs)
    a, b = t.task.pairs(16, torch.Generator().manual_seed(5))  # a fixed batch of training pairs

    def l1() -> float:
        return float((translate(t.g, a) - b).abs().mean())

    before = l1()
    stats = [t.train_step() for _ in range(60)]
    after = l1()
    assert all(np.isfinite(s["loss_g"]) and np.isfinite(s["l1"]) for s in stats)
    assert after < 0.5 * before, (before, after)
    assert np.mean([s["l1"] for s in stats[-10:]]) < np.mean([s["l1"] for s in stats[:10]])


def test_resume_continues_exactly(glyphs, resumes_exactly):
    """Stopped at k and resumed to n == uninterrupted to n (dropout noise, batch norm, both Adams)."""
    resumes_exactly(_cfg("train.steps=12"), glyphs, 5, 12)


def test_the_checkpoint_knows_its_input_shape(glyphs, tmp_path):
    t = fit(Trainer(_cfg(), data=glyphs), 2)
    save_checkpoint(t, tmp_path / "c.safetensors")
    ckpt, g = load_generator(tmp_path / "c.safetensors")
    assert ckpt.cond_shape == (1, 16, 16) and ckpt.config.task.kind == "paired"
    assert translate(g, torch.zeros(3, 1, 16, 16)).shape == (3, 1, 16, 16)


def test_keep_fake_reuses_the_d_steps_batch(glyphs, monkeypatch):
    t = Trainer(_cfg("train.d_steps=2"), data=glyphs)
    calls = []
    orig = t.task.g_batch
    monkeypatch.setattr(t.task, "g_batch", lambda *a: calls.append(1) or orig(*a))
    t.train_step()
    assert calls == []  # G's step took the batch kept by the last D step
    assert np.isfinite(t.g_step()["l1"]) and calls == [1]  # alone, it draws its own pairs


def test_config_and_data_must_agree(glyphs):
    with pytest.raises(ConfigError, match="task.kind=paired needs a paired data set, not 'grid25'"):
        Trainer(config.load(None, ["task.kind=paired", "data.name=grid25"]))
    with pytest.raises(ConfigError, match="data.name=glyphs is an image-to-image set: set task.kind=paired"):
        Trainer(config.load(None, ["data.name=glyphs"]))
    with pytest.raises(ConfigError, match="needs aligned pairs; data.name=glyphs holds unpaired data"):
        PairedTask(glyphs.unpaired(), 100.0, CPU)
    with pytest.raises(ConfigError, match="needs aligned pairs; data.name=ring8 holds"):
        PairedTask(load_toy("ring8"), 100.0, CPU)
    with pytest.raises(ConfigError, match="holds paired images: set task.kind=paired"):
        TASKS.get("generate")(glyphs, False, CPU)
    with pytest.raises(ConfigError, match="unknown task 'cycle'"):
        config.load(None, ["task.kind=cycle"])
    with pytest.raises(ConfigError, match="train.conditional does not apply to task.kind=paired"):
        config.load(None, ["task.kind=paired", "train.conditional=true"])
    with pytest.raises(ConfigError, match="task.l1_weight' must be >= 0"):
        config.load(None, ["task.l1_weight=-1"])
    with pytest.raises(ConfigError, match="g.arch=mlp takes no input image"):
        Trainer(_cfg("g.arch=mlp"), data=glyphs)


def test_configs_without_a_task_are_generate_runs():
    cfg = config.from_dict({"data": {"name": "ring8"}})
    assert cfg.task.kind == "generate" and cfg.task.l1_weight == 100.0


def test_the_recipe_loads_and_a_run_writes_triplets(tmp_path):
    from ganforge.runs import train

    cfg = config.load("configs/pix2pix-glyphs.yaml", ["train.steps=2", "g.width=4", "d.width=4",
                                                       "train.batch_size=4", "train.plot_every=0"])
    trainer, out = train(cfg, tmp_path / "run", progress=False)
    assert trainer.step == 2 and out["plot"].endswith("step_0000002.png")
    from PIL import Image

    w, h = Image.open(out["plot"]).size
    assert w > h  # 4 triplets per row, 61 held-out characters shown as 24 -> 6 rows of 12 tiles
    assert "l1" in (tmp_path / "run" / "metrics.jsonl").read_text()


def test_diffaugment_moves_the_output_and_its_input_together(glyphs, resumes_exactly):
    """train.augment on a conditioned D: one draw for the stacked pair (an input equal to its output
    stays equal after augmenting), and the run still resumes exactly."""
    t = Trainer(_cfg("train.augment=color,translation,cutout"), data=glyphs)
    a, _ = t.task.pairs(6, torch.Generator().manual_seed(0))
    x, c = t._augmented(a, a.clone())
    assert torch.equal(x, c) and not torch.equal(x, a)
    small = torch.nn.functional.avg_pool2d(a, 2)  # a smaller input (superres) is brought to x's size
    x2, c2 = t._augmented(a, small)
    assert c2.shape == a.shape
    resumes_exactly(_cfg("train.steps=6", "train.augment=translation,cutout"), glyphs, 3, 6)
