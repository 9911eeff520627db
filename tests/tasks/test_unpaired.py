"""The unpaired task (CycleGAN): stacked nets, batches, the cycle and identity terms against a direct
computation, the history pool, training, exact resume (pool included), translation both ways, errors."""

import pytest
import torch

from ganforge import config
from ganforge.data import load_paired
from ganforge.data.pairs import UnpairedData
from ganforge.errors import ConfigError
from ganforge.generation import load
from ganforge.nets.cycle import CycleDiscriminator, CycleGenerator
from ganforge.runs import train
from ganforge.tasks import TASKS, Batch, UnpairedTask
from ganforge.tasks.unpaired import HistoryPool
from ganforge.training import Trainer, fit
from ganforge.training.state import load_checkpoint

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def glyphs():
    """Twenty characters at 16 px seen unpaired: A and B disjoint halves of the 16 training ones."""
    return load_paired("glyphs", size=16, charset="abcdefghijklmnopqrst", every=5).unpaired()


def _cfg(*extra: str) -> config.RunConfig:
    base = ["task.kind=unpaired", "data.name=glyphs", "data.size=16", "g.arch=unet", "g.width=8",
            "g.dropout=0", "d.arch=patchgan", "d.width=8", "d.depth=2", "loss.name=lsgan", "task.pool_size=6",
            "train.batch_size=4", "train.steps=100", "train.plot_every=0", "train.ckpt_every=0",
            "health.enabled=false"]
    return config.load(None, base + list(extra))


def test_the_trainer_holds_two_translators_and_two_critics(glyphs):
    t = Trainer(_cfg(), data=glyphs)
    assert isinstance(t.task, UnpairedTask) and TASKS.get("unpaired") is UnpairedTask
    assert isinstance(t.g, CycleGenerator) and isinstance(t.d, CycleDiscriminator)
    assert t.task.shape == (1, 16, 16) and t.task.cond_shape == (1, 16, 16)
    a, b = glyphs.sample(3, torch.Generator().manual_seed(0))
    out = t.g(None, torch.cat([a, b], 1))  # [G_AB(a) | G_BA(b)]
    assert torch.equal(out[:, :1], t.g.ab(None, a)) and torch.equal(out[:, 1:], t.g.ba(None, b))
    score = t.d(torch.cat([b, a], 1)).score  # D_B's patches, then D_A's
    n_b = t.d.d_b(b).score.shape[1]
    assert torch.equal(score[:, :n_b], t.d.d_b(b).score) and torch.equal(score[:, n_b:], t.d.d_a(a).score)
    assert t.g.direction("BtoA") is t.g.ba
    with pytest.raises(ConfigError, match="AtoB or BtoA"):
        t.g.direction("sideways")


def test_a_batch_holds_both_domains_drawn_apart(glyphs):
    task = UnpairedTask(glyphs, 10.0, 0.5, 0, CPU)
    rng = {"data": torch.Generator().manual_seed(0), "noise": torch.Generator().manual_seed(1)}
    b = task.batch(5, rng, lambda n, g: None)
    a, bb = glyphs.sample(5, torch.Generator().manual_seed(0))
    assert torch.equal(b.c_g, torch.cat([a, bb], 1)) and torch.equal(b.real, torch.cat([bb, a], 1))
    assert b.c_d_real is None and b.c_d_fake is None and b.target is None


def test_cycle_and_identity_terms_match_a_direct_computation(glyphs):
    t = Trainer(_cfg("task.cycle_weight=7", "task.identity_weight=0.3"), data=glyphs)
    a, b = glyphs.sample(4, torch.Generator().manual_seed(2))
    fake = t.g(None, torch.cat([a, b], 1))
    loss, stats = t.task.extra_g_loss(fake, Batch(None, torch.cat([a, b], 1), torch.cat([b, a], 1),
                                                  None, None), t.g)
    ab, ba = t.g.ab, t.g.ba
    cyc_a = (ba(None, ab(None, a)) - a).abs().mean()  # Zhu et al. eq. 2, per domain
    cyc_b = (ab(None, ba(None, b)) - b).abs().mean()
    idt_a, idt_b = (ba(None, a) - a).abs().mean(), (ab(None, b) - b).abs().mean()
    cycle, idt = (cyc_a + cyc_b) / 2, (idt_a + idt_b) / 2
    assert stats["cycle"] == pytest.approx(cycle.item(), rel=1e-5)
    assert stats["identity"] == pytest.approx(idt.item(), rel=1e-5)
    assert loss.item() == pytest.approx(7 * cycle.item() + 0.3 * 7 * idt.item(), rel=1e-5)


def test_the_history_pool_fills_then_swaps_about_half():
    pool = HistoryPool(8, CPU)
    gen = torch.Generator().manual_seed(0)
    first = torch.arange(8.0).reshape(8, 1, 1, 1)
    assert torch.equal(pool(first, gen), first) and len(pool) == 8  # filling: D sees the new fakes
    swapped, seen = 0, set(range(8))
    for k in range(50):
        new = 100.0 + 8 * k + torch.arange(8.0).reshape(8, 1, 1, 1)  # every fake tells itself apart
        out = pool(new, gen)
        old = out != new
        swapped += int(old.sum())
        seen |= set(new.flatten().tolist())
        assert set(out[old].tolist()) <= seen  # a stored fake (possibly stored earlier in this batch)
        assert len(pool) == 8
    assert 0.4 < swapped / 400 < 0.6  # CycleGAN's ImagePool: one in two
    assert torch.equal(HistoryPool(0, CPU)(first, gen), first)  # pool_size 0: no history
    clone = HistoryPool(8, CPU)
    clone.load(pool.state(), (1, 1, 1))
    assert torch.equal(clone.images, pool.images)
    with pytest.raises(ValueError, match="history pool holds"):
        HistoryPool(4, CPU).load(pool.state(), (1, 1, 1))


def test_training_lowers_the_cycle_loss(glyphs):
    t = Trainer(_cfg("seed=1", "opt_g.lr=1e-3"), data=glyphs)
    stats = [t.train_step() for _ in range(40)]
    first = sum(s["cycle"] for s in stats[:5]) / 5
    last = sum(s["cycle"] for s in stats[-5:]) / 5
    assert last < 0.7 * first
    assert all(torch.isfinite(torch.tensor([s["loss_d"], s["loss_g"]])).all() for s in stats)


def test_resumes_exactly_with_its_history_pool(glyphs, resumes_exactly):
    straight, path = resumes_exactly(_cfg("train.ema=0.9"), glyphs, 3, 6)
    ckpt = load_checkpoint(path)
    assert ckpt.tensors["task.pool"].shape == (6, 2, 16, 16)  # 3 steps x 4 fakes, capped at 6
    resumed = fit(Trainer(_cfg("train.ema=0.9"), data=glyphs), 6)
    assert torch.equal(resumed.task.pool.images, straight.task.pool.images)


def test_a_trained_run_translates_both_ways_through_the_api(tmp_path, glyphs):
    cfg = _cfg("train.steps=2", "train.plot_every=2")
    _, out = train(cfg, tmp_path / "run", progress=False)
    assert out["plot"] == str(tmp_path / "run" / "samples" / "step_0000002.png")
    g = load(tmp_path / "run")
    a = glyphs.test.a[:3].float() / 127.5 - 1
    with torch.no_grad():
        want_ab, want_ba = g.net.ab(None, a), g.net.ba(None, a)
    assert torch.allclose(g.translate(a), want_ab) and torch.allclose(g.translate(a, "AtoB"), want_ab)
    assert torch.allclose(g.translate(a, direction="BtoA"), want_ba)
    assert g.translate(a[0]).shape == (1, 16, 16)


def test_one_line_errors_for_bad_settings(glyphs):
    with pytest.raises(ConfigError, match="differ in size"):
        UnpairedTask(UnpairedData("x", "x", glyphs.a, glyphs.b[:, :, :8, :8]), 10, 0.5, 50, CPU)
    colour = glyphs.b.expand(-1, 3, -1, -1).contiguous()
    with pytest.raises(ConfigError, match="identity loss feeds B images to G_AB"):
        UnpairedTask(UnpairedData("x", "x", glyphs.a, colour), 10, 0.5, 50, CPU)
    UnpairedTask(UnpairedData("x", "x", glyphs.a, colour), 10, 0.0, 50, CPU)  # no identity: fine
    with pytest.raises(ConfigError, match="two image domains"):
        UnpairedTask(load_paired("glyphs", size=16, charset="abcdef", every=0), 10, 0.5, 50, CPU)
    with pytest.raises(ConfigError, match="task.pool_size"):
        config.load(None, ["task.kind=unpaired", "task.pool_size=20000"])
    with pytest.raises(ConfigError, match="must be >= 0"):
        config.load(None, ["task.kind=unpaired", "task.cycle_weight=-1"])
