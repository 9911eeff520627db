import math

import pytest
import torch

from ganforge.train import Trainer, TrainingDiverged, fit
from ganforge.train.ema import make_ema, update_ema


def test_step_statistics(tiny_cfg):
    t = Trainer(tiny_cfg("loss.penalty=gp"))
    s = t.train_step()
    assert t.step == 1 and s["step"] == 1
    for key in ("loss_d", "loss_g", "d_acc", "d_acc_real", "d_acc_fake", "grad_norm_d",
                "grad_norm_g", "penalty"):
        assert math.isfinite(s[key]), key
    assert 0 <= s["d_acc"] <= 1 and s["grad_norm_d"] > 0 and s["penalty"] > 0


def test_same_config_same_numbers(tiny_cfg):
    a = fit(Trainer(tiny_cfg()), 15)
    b = fit(Trainer(tiny_cfg()), 15)
    c = fit(Trainer(tiny_cfg("seed=1")), 15)
    for pa, pb in zip(a.g.parameters(), b.g.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.g.parameters(), c.g.parameters(),
                                                          strict=True))


def test_g_step_leaves_d_untouched_and_frozen_flags_restored(tiny_cfg):
    t = Trainer(tiny_cfg())
    before = [p.clone() for p in t.d.parameters()]
    t.g_step()
    assert all(torch.equal(a, b) for a, b in zip(before, t.d.parameters(), strict=True))
    assert all(p.requires_grad for p in t.d.parameters())
    assert all(p.grad is None for p in t.d.parameters())


def test_weight_clipping(tiny_cfg):
    t = Trainer(tiny_cfg("loss.name=wasserstein", "loss.clip=0.01", "opt_d.lr=0.1"))
    fit(t, 3)
    assert max(p.abs().max().item() for p in t.d.parameters()) <= 0.01 + 1e-9


def test_d_steps_count(tiny_cfg, monkeypatch):
    t = Trainer(tiny_cfg("train.d_steps=3"))
    calls = []
    orig = t.d_step
    monkeypatch.setattr(t, "d_step", lambda i, keep_fake: calls.append(i) or orig(i, keep_fake))
    t.train_step()
    t.train_step()
    assert calls == [0, 1, 2, 3, 4, 5]


def test_lazy_penalty_runs_every_kth_d_step_with_weight_times_k(tiny_cfg):
    t = Trainer(tiny_cfg("loss.penalty=r1", "loss.penalty_every=3", "train.d_steps=2"))
    seen = [t.train_step()["penalty"] > 0 for _ in range(3)]  # D steps 0-1, 2-3, 4-5
    # the reported penalty is the last D step's: steps 1, 3 (yes), 5 -> only step 3 of 0..5 % 3
    assert seen == [False, True, False]


def test_lr_decays_linearly_to_lr_end(tiny_cfg):
    t = Trainer(tiny_cfg("train.steps=10", "train.lr_end=0.0", "opt_g.lr=1e-2"))
    fit(t, 5)
    # the last step taken (step index 4) used lr * (1 - 4/10)
    assert t.opt_g.param_groups[0]["lr"] == pytest.approx(1e-2 * 0.6)


def test_nan_loss_raises_a_clear_error(tiny_cfg):
    t = Trainer(tiny_cfg())
    with torch.no_grad():
        for p in t.d.parameters():
            p.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="became nan at step 1"):
        t.train_step()


def test_ema_formula():
    net = torch.nn.Linear(2, 1)
    ema = make_ema(net)
    with torch.no_grad():
        net.weight.fill_(1.0)
        ema.weight.fill_(0.0)
    update_ema(ema, net, decay=0.99, step=1000)
    assert ema.weight.detach().flatten().tolist() == pytest.approx([0.01, 0.01])
    update_ema(ema, net, decay=0.99, step=0)  # warm-up: d = min(0.99, 1/10)
    assert ema.weight.detach().flatten().tolist() == pytest.approx([0.01 + 0.9 * 0.99] * 2)


def test_short_recipe_run_captures_both_clusters(tiny_cfg):
    """A real, if small, learning check: two clusters are both found in a few hundred steps."""
    from ganforge.metrics.modes import mode_stats

    cfg = tiny_cfg("data.name=two", "train.steps=600", "g.width=64", "d.width=64",
                   "loss.penalty=r1", "loss.penalty_weight=0.1", "opt_g.lr=1e-3",
                   "opt_d.lr=1e-3", "opt_g.beta1=0", "opt_d.beta1=0", "train.ema=0.99")
    t = fit(Trainer(cfg), 600)
    r = mode_stats(t.generate(2500, torch.Generator().manual_seed(0)), t.data.modes, t.data.std)
    assert r["modes"] == 2 and r["hq"] > 0.8 and r["reverse_kl"] < 0.05
