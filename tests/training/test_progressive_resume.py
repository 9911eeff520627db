import json
from pathlib import Path

import pytest
import torch

import ganforge
from ganforge import config
from ganforge.training import Trainer, fit
from ganforge.training.state import generator_from, load_checkpoint, restore, save_checkpoint

TINY = ["data.name=digits", "data.size=16", "g.arch=dcgan", "d.arch=dcgan", "g.width=8", "d.width=8",
        "g.noise_dim=8", "g.batch_norm=true", "train.batch_size=8", "train.progressive=4",
        "train.progressive_batch=16,8", "train.precision=fp32", "train.log_every=2",
        "train.plot_every=0", "train.ckpt_every=0", "train.threads=1"]


def _cfg(*extra: str) -> config.RunConfig:
    return config.load(None, TINY + list(extra))


@pytest.fixture(scope="module")
def digits():
    """The 16x16 digits, loaded once for the module's trainers."""
    from ganforge.data import build_data

    return build_data(_cfg().data)


@pytest.mark.parametrize("k", [5, 7])  # step 5: mid-fade of level 1 (alpha 0.5); 7: its stable half
def test_resume_mid_phase_is_exact(tmp_path, digits, k, all_state):
    cfg = _cfg("train.steps=11", "train.ema=0.9", "loss.penalty=gp", "d.mbstd=true")
    straight = fit(Trainer(cfg, digits), 11)
    first = fit(Trainer(cfg, digits), k)
    assert first.g.stage == 1 and first.batch_size == 8
    path = save_checkpoint(first, tmp_path / "k.safetensors")
    # the checkpoint's G is the trainer's G as it stands: same level, same fade, same samples
    loaded = generator_from(load_checkpoint(path))
    assert (loaded.stage, loaded.alpha) == (first.g_ema.stage, first.g_ema.alpha)
    z = torch.randn(4, 8)
    assert torch.equal(loaded(z), first.g_ema.eval()(z))
    del first
    resumed = restore(Trainer(cfg, digits), load_checkpoint(path))
    assert (resumed.d.stage, resumed.d.alpha, resumed.batch_size) == (1, 0.5 if k == 5 else 1.0, 8)
    fit(resumed, 11)
    a, b = all_state(straight), all_state(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_levels_not_yet_grown_stay_untouched_and_adam_skips_them(digits):
    t = Trainer(_cfg("train.steps=3"), digits)
    before = {k: v.clone() for k, v in t.g.state_dict().items()}
    d_before = {k: v.clone() for k, v in t.d.state_dict().items()}
    fit(t, 3)  # level 0 (side 4) only, batch 16
    assert t.batch_size == 16
    for net, old, unused in ((t.g, before, ("blocks.", "to_rgb.1.", "to_rgb.2.")),
                             (t.d, d_before, ("blocks.", "from_rgb.1.", "from_rgb.2."))):
        params = dict(net.named_parameters())
        for name, v in net.state_dict().items():
            if name.startswith(unused):
                assert torch.equal(v, old[name]), name
        changed = [n for n in params if not n.startswith(unused) and not torch.equal(params[n], old[n])]
        assert changed  # the level in use learns
    opt_state = t.opt_g.state
    for name, p in t.g.named_parameters():
        assert (p in opt_state) == (not name.startswith(("blocks.", "to_rgb.1.", "to_rgb.2."))), name


def test_a_run_logs_level_and_alpha_and_samples_at_full_size(tmp_path):
    run = tmp_path / "prog"
    ganforge.train(config.load(None, TINY), out=run, plots=False,
                   overrides={"train.steps": 12, "train.ckpt_every": 5, "train.keep_last": 5})
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    rows = {r["step"]: r for r in lines if "loss_d" in r}
    assert rows[2]["level"] == 0 and rows[6]["level"] == 1 and rows[12]["level"] == 2
    assert rows[6]["alpha"] == pytest.approx(0.25)  # steps 4, 5 taken at alpha 0, 0.5
    mid = ganforge.load(Path(run) / "checkpoints" / "step_0000005.safetensors", device="cpu")
    assert (mid.net.stage, mid.net.alpha) == (1, 0.5)  # taken mid-fade of level 1 (side 8)
    x = mid.sample(3, seed=0)
    assert x.shape == (3, 1, 16, 16)
    assert torch.equal(x, x[..., ::2, ::2].repeat_interleave(2, -2).repeat_interleave(2, -1))
    done = ganforge.load(run, device="cpu")
    assert (done.net.stage, done.net.alpha) == (2, 1.0)
    y = done.sample(3, seed=0)
    assert y.shape == (3, 1, 16, 16)
    assert not torch.equal(y, y[..., ::2, ::2].repeat_interleave(2, -2).repeat_interleave(2, -1))
