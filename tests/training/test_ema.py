"""EMA decay schedule: the warm-up and StyleGAN2-ADA's ramp-up, against their formulas."""

import math

import pytest
import torch

from ganforge.training.ema import ema_decay
from ganforge.training.trainer import Trainer


def _ada_beta(step: int, batch: int, rampup: float, ema_kimg: float) -> float:
    """StyleGAN2-ADA's form: images seen so far, half-life in images, per-batch beta."""
    cur_nimg = (step + 1) * batch
    ema_nimg = min(ema_kimg * 1000, cur_nimg * rampup)
    return 0.5 ** (batch / max(ema_nimg, 1e-8))


@pytest.mark.parametrize("step", [0, 9, 99, 999, 99_999])
def test_rampup_matches_stylegan2_ada_formula(step):
    batch, decay = 32, 0.999
    half_life_kimg = batch * math.log(0.5) / math.log(decay) / 1000  # the same ceiling in images
    want = _ada_beta(step, batch, 0.05, half_life_kimg)
    assert ema_decay(decay, step, rampup=0.05) == pytest.approx(want, rel=1e-9)


def test_rampup_half_life_grows_with_training():
    d_early, d_late = ema_decay(0.9999, 100, 0.05), ema_decay(0.9999, 1000, 0.05)
    assert d_early < d_late < 0.9999
    assert d_early ** (0.05 * 101) == pytest.approx(0.5)  # half-life: 5% of the steps so far
    assert ema_decay(0.99, 10**7, 0.05) == 0.99  # capped by train.ema


def test_no_rampup_keeps_the_warm_up():
    assert ema_decay(0.99, 0) == pytest.approx(0.1)
    assert ema_decay(0.99, 10**6) == 0.99


def test_trainer_applies_the_rampup(tiny_cfg):
    """A tiny ramp-up makes the average follow G at once; without it the warm-up lags."""
    for rampup, same in ((1e-6, True), (0.0, False)):
        t = Trainer(tiny_cfg("train.ema=0.999", f"train.ema_rampup={rampup}", "train.steps=4"))
        for _ in range(3):
            t.train_step()
        close = all(torch.allclose(a, b, atol=1e-6) for a, b in
                    zip(t.g_ema.parameters(), t.g.parameters(), strict=True))
        assert close is same
