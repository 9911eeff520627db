import math

import pytest
import torch

from ganforge.training import Trainer, TrainingDiverged, fit
from ganforge.training.ema import make_ema, update_ema


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


def _image_trainer(*extra):
    from ganforge import config
    from ganforge.data.images import ImageData

    gen = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (64, 1, 28, 28), generator=gen, dtype=torch.uint8)
    data = ImageData("rand", "random bytes", imgs)
    cfg = config.load(None, ["g.arch=dcgan", "d.arch=dcgan", "g.width=8", "d.width=8",
                             "g.batch_norm=true", "g.noise_dim=8", "train.batch_size=8",
                             "train.ema=0.9", *extra])
    return Trainer(cfg, data)


def test_bf16_channels_last_image_steps_resume_exactly(tmp_path):
    from ganforge.training.state import load_checkpoint, restore, save_checkpoint

    extra = ("train.precision=bf16", "train.channels_last=true", "loss.penalty=r1",
             "train.augment=color,translation,cutout")
    t = _image_trainer(*extra)
    assert t.precision.name == "bf16" and t.channels_last
    assert t.g.net[0].weight.is_contiguous(memory_format=torch.channels_last)
    straight = fit(t, 6)
    first = fit(_image_trainer(*extra), 3)
    path = save_checkpoint(first, tmp_path / "c.safetensors")
    resumed = fit(restore(_image_trainer(*extra), load_checkpoint(path)), 6)
    for a, b in zip(straight.g.state_dict().values(), resumed.g.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert all(p.dtype == torch.float32 for p in straight.g.parameters())  # weights stay fp32


def test_bf16_changes_the_numbers_and_auto_follows_the_cpu():
    from ganforge.device import cpu_has_bf16, resolve_precision

    a = fit(_image_trainer("train.precision=fp32"), 2)
    b = fit(_image_trainer("train.precision=bf16"), 2)
    assert not torch.equal(a.g.net[0].weight, b.g.net[0].weight)  # autocast really ran
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu).name == ("bf16" if cpu_has_bf16() else "fp32")
    assert resolve_precision("fp32", cpu).name == "fp32"


def _labelled_trainer(*extra):
    """Two classes that a D tells apart at a glance: black images (0) and white ones (1)."""
    from ganforge import config
    from ganforge.data.images import ImageData

    y = torch.arange(64) % 2
    imgs = (y * 255).to(torch.uint8).view(64, 1, 1, 1).expand(64, 1, 28, 28).contiguous()
    data = ImageData("bw", "black and white", imgs, y)
    cfg = config.load(None, ["g.arch=dcgan", "d.arch=dcgan", "g.width=8", "d.width=8",
                             "g.batch_norm=true", "g.noise_dim=8", "train.batch_size=16",
                             "train.conditional=true", *extra])
    return Trainer(cfg, data)


@pytest.mark.parametrize("cond", ["projection", "acgan"])
def test_labels_flow_through_conditional_models(cond, tmp_path, monkeypatch):
    from ganforge.training.state import load_checkpoint, restore, save_checkpoint

    t = _labelled_trainer(f"d.cond={cond}", "loss.penalty=r1", "train.ema=0.9")
    calls = []
    d_forward = t.d.forward
    monkeypatch.setattr(t.d, "forward", lambda x, y=None: calls.append((x, y)) or d_forward(x, y))
    t.train_step()
    x, y = calls[0]  # the D step's joint pass: real (first half) then fake
    real_white = x[:16].mean((1, 2, 3)) > 0
    assert torch.equal(real_white.long(), y[:16])  # real labels travel with their images
    assert y.shape == (32,) and set(y[16:].tolist()) <= {0, 1}
    monkeypatch.undo()

    straight = fit(_labelled_trainer(f"d.cond={cond}", "loss.penalty=r1", "train.ema=0.9"), 6)
    first = fit(_labelled_trainer(f"d.cond={cond}", "loss.penalty=r1", "train.ema=0.9"), 3)
    path = save_checkpoint(first, tmp_path / "c.safetensors")
    again = restore(_labelled_trainer(f"d.cond={cond}", "loss.penalty=r1", "train.ema=0.9"),
                    load_checkpoint(path))
    fit(again, 6)
    for a, b in zip(straight.g.state_dict().values(), again.g.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_acgan_class_head_learns_the_classes():
    t = fit(_labelled_trainer("d.cond=acgan", "opt_d.lr=2e-3"), 40)
    x, y = t.data.sample_labeled(64, torch.Generator().manual_seed(0))
    t.d.eval()
    with torch.no_grad():
        pred = t.d(x, y).logits.argmax(1)
    assert (pred == y).float().mean() > 0.9


def test_conditional_needs_labels():
    from ganforge import config
    from ganforge.errors import ConfigError

    with pytest.raises(ConfigError, match="needs labelled data"):
        Trainer(config.load(None, ["train.conditional=true"]))


def test_ctrl_c_lets_the_step_finish_and_the_checkpoint_resumes_exactly(tiny_cfg, tmp_path):
    """The first Ctrl-C is honoured after the step in progress (and its callbacks): the checkpoint
    taken on the way out is a whole step, so resuming gives the uninterrupted run's weights."""
    import signal

    from ganforge.training.callbacks import Callback, Checkpointer
    from ganforge.training.state import latest_checkpoint, load_checkpoint, restore

    class CtrlC(Callback):
        def on_step(self, trainer, stats):
            if trainer.step == 3:
                signal.raise_signal(signal.SIGINT)  # arrives "during" the step's callbacks
                assert True  # still running: the interrupt waits for the step's end

    cfg = tiny_cfg()
    t = Trainer(cfg)
    with pytest.raises(KeyboardInterrupt):
        fit(t, 10, [Checkpointer(tmp_path, 0, 3), CtrlC()])
    assert t.step == 3 and not t.in_step
    ckpt = load_checkpoint(latest_checkpoint(tmp_path))
    assert ckpt.step == 3
    resumed = fit(restore(Trainer(cfg), ckpt), 6)
    straight = fit(Trainer(cfg), 6)
    for a, b in zip(resumed.g.parameters(), straight.g.parameters(), strict=True):
        assert torch.equal(a, b)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler given back


def test_non_finite_gradient_norms_are_left_out_of_the_logged_mean(tmp_path, tiny_cfg):
    import json

    from ganforge.training.callbacks import JsonlLogger

    t = Trainer(tiny_cfg())
    log = JsonlLogger(tmp_path / "m.jsonl", 2)
    log.on_start(t)
    for step, g in ((1, float("inf")), (2, 3.0)):  # an fp16 step skipped on overflow, then a real one
        t.step = step
        log.on_step(t, {"loss_d": 1.0, "loss_g": 1.0, "d_acc": 0.5, "grad_norm_g": g})
    rec = json.loads((tmp_path / "m.jsonl").read_text())
    assert rec["grad_norm_g"] == 3.0 and rec["loss_d"] == 1.0
