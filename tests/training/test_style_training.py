"""A tiny style-G / style-D run: path-length regularisation, G's own RNG, exact resume."""

import torch

from ganforge import config
from ganforge.data.images import ImageData
from ganforge.training.state import load_checkpoint, restore, save_checkpoint
from ganforge.training.trainer import Trainer, fit

STYLE = ["g.arch=style", "d.arch=style", "g.width=8", "d.width=8", "g.max_channels=16",
         "d.max_channels=16", "g.noise_dim=16", "g.w_dim=16", "g.mapping_layers=2", "g.style_mixing=0.5",
         "d.mbstd=true", "loss.penalty=r1", "loss.penalty_weight=1", "loss.penalty_every=2",
         "loss.pl_weight=2", "loss.pl_every=2", "opt_g.beta1=0", "opt_d.beta1=0", "opt_g.lr=2e-3",
         "opt_d.lr=2e-3", "train.batch_size=8", "train.ema=0.9"]


def _trainer(*extra):
    gen = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (32, 1, 16, 16), generator=gen, dtype=torch.uint8)
    cfg = config.load(None, ["data.name=mnist", *STYLE, *extra])
    return Trainer(cfg, ImageData("rand", "random bytes", imgs))


def test_path_length_steps_and_stats():
    t = _trainer()
    assert t.stat_names == ("pl_penalty", "pl_mean")
    s0 = t.train_step()  # step 0: a path-length step (every 2nd G step)
    s1 = t.train_step()
    assert s0["pl_penalty"] > 0 and s1["pl_penalty"] == 0.0
    assert s0["pl_mean"] > 0 and s1["pl_mean"] == s0["pl_mean"]  # moves on path-length steps only
    assert float(t.pl_mean) == s0["pl_mean"]
    assert float(t.g.w_avg.abs().sum()) > 0  # training forwards track w's mean
    plain = _trainer("loss.pl_weight=0")
    assert plain.stat_names == () and "pl_penalty" not in plain.train_step()


def test_g_draws_from_its_own_role_generator():
    t = _trainer()
    before = t.rng["g"].get_state().clone()
    t.train_step()
    assert not torch.equal(before, t.rng["g"].get_state())  # noise and mixing came from it


def test_resume_is_exact_including_pl_mean_and_gs_rng(tmp_path):
    straight = fit(_trainer(), 6)
    first = fit(_trainer(), 3)
    path = save_checkpoint(first, tmp_path / "c.safetensors")
    ckpt = load_checkpoint(path)
    assert "trainer.pl_mean" in ckpt.tensors and "rng.g" in ckpt.tensors
    resumed = restore(_trainer(), ckpt)
    assert float(resumed.pl_mean) == float(first.pl_mean) != 0
    assert torch.equal(resumed.rng["g"].get_state(), first.rng["g"].get_state())
    torch.manual_seed(123)  # the global RNG plays no part
    fit(resumed, 6)
    for a, b in zip(straight.g.state_dict().values(), resumed.g.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(straight.g_ema.state_dict().values(), resumed.g_ema.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(straight.pl_mean, resumed.pl_mean)
    assert torch.equal(straight.g.w_avg, resumed.g.w_avg)


def test_resume_without_gs_rng_state_differs(tmp_path):
    """The "g" role's state matters: re-seeding it (an old checkpoint) changes the run."""
    straight = fit(_trainer(), 4)
    first = fit(_trainer(), 2)
    ckpt = load_checkpoint(save_checkpoint(first, tmp_path / "c.safetensors"))
    del ckpt.tensors["rng.g"]
    resumed = fit(restore(_trainer(), ckpt), 4)
    assert not torch.equal(straight.g.const, resumed.g.const)
