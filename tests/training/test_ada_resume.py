"""ADA's state in the checkpoint: a run stopped mid-interval and resumed continues exactly (the
same weights, the same p, the same r_t accumulator), which StyleGAN2-ADA's resume did not do."""

import torch

from ganforge import config
from ganforge.data.images import ImageData
from ganforge.training import Trainer, fit
from ganforge.training.state import load_checkpoint, restore, save_checkpoint

torch.set_num_threads(1)

ADA = ("train.ada_target=0.6", "train.ada_interval=2", "train.ada_kimg=0.05")


def _trainer(*extra: str) -> Trainer:
    imgs = torch.randint(0, 256, (48, 1, 16, 16), generator=torch.Generator().manual_seed(0),
                         dtype=torch.uint8)
    cfg = config.load(None, ["g.arch=dcgan", "d.arch=dcgan", "g.width=8", "d.width=8",
                             "g.noise_dim=8", "train.batch_size=8", "train.ema=0.9", *ADA, *extra])
    return Trainer(cfg, ImageData("rand", "random bytes", imgs))


def test_resume_continues_exactly_with_ada(tmp_path):
    straight = fit(_trainer(), 9)
    first = fit(_trainer(), 5)  # stopped in the middle of an interval: the accumulator is saved
    assert first.ada.steps == 1 and first.ada.count > 0
    path = save_checkpoint(first, tmp_path / "k.safetensors")
    ck = load_checkpoint(path)
    assert {"ada.p", "ada.sum", "ada.count", "ada.steps"} <= set(ck.tensors)
    assert ck.tensors["ada.p"].item() == first.ada.p
    resumed = fit(restore(_trainer(), ck), 9)
    assert straight.ada.p > 0  # p moved, so the comparison means something
    assert vars(resumed.ada) == vars(straight.ada)
    for a, b in ((straight.g, resumed.g), (straight.d, resumed.d), (straight.g_ema, resumed.g_ema)):
        for (k, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y), k
    assert torch.equal(straight.rng["augment"].get_state(), resumed.rng["augment"].get_state())


def test_a_run_without_ada_resumed_with_it_starts_from_p_zero(tmp_path):
    plain = fit(_trainer("train.ada_target=0"), 2)
    assert plain.ada is None
    path = save_checkpoint(plain, tmp_path / "p.safetensors")
    t = restore(_trainer(), load_checkpoint(path))
    assert t.ada is not None and t.ada.p == 0.0 and t.step == 2
    fit(t, 4)
    assert 0.0 <= t.ada.p <= 1.0
