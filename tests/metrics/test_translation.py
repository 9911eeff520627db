"""PSNR / SSIM equal scikit-image's on known inputs; PSNR equals the formula by hand; L1."""

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ganforge.errors import DataError
from ganforge.metrics.translation import l1, psnr, scores, ssim


def _pair(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(3, 3, 20, 24, generator=g) * 2 - 1
    return (t + 0.1 * torch.randn(t.shape, generator=g)).clamp(-1, 1), t


def test_psnr_is_scikit_images_and_the_formula():
    out, target = _pair()
    o, t = ((out + 1) / 2).double().numpy(), ((target + 1) / 2).double().numpy()
    by_hand = np.mean([10 * np.log10(1 / np.mean((o[i] - t[i]) ** 2)) for i in range(3)])
    ref = np.mean([peak_signal_noise_ratio(t[i].transpose(1, 2, 0), o[i].transpose(1, 2, 0), data_range=1)
                   for i in range(3)])
    assert psnr(out, target) == pytest.approx(by_hand, rel=1e-9)
    assert psnr(out, target) == pytest.approx(ref, rel=1e-12)
    # a known case: every pixel off by 0.1 in [0, 1] units -> MSE 0.01 -> 20 dB
    base = torch.zeros(1, 1, 8, 8)
    assert psnr(base + 0.2, base) == pytest.approx(20.0, abs=1e-5)  # 0.2 in float32


def test_ssim_is_scikit_images():
    out, target = _pair(1)
    o, t = ((out + 1) / 2).double().numpy(), ((target + 1) / 2).double().numpy()
    ref = np.mean([structural_similarity(t[i].transpose(1, 2, 0), o[i].transpose(1, 2, 0), data_range=1,
                                         channel_axis=-1) for i in range(3)])
    assert ssim(out, target) == pytest.approx(ref, rel=1e-12)
    assert ssim(target, target) == pytest.approx(1.0)


def test_l1_and_scores_and_errors():
    out, target = _pair(2)
    assert l1(out, target) == pytest.approx(float((out - target).abs().mean()), rel=1e-6)
    assert set(scores(out, target)) == {"psnr", "ssim", "l1"}
    with pytest.raises(DataError, match="must be the same"):
        psnr(out, target[:, :, :10])


def test_hole_scores_are_the_pooled_formula_over_the_hole_pixels():
    from ganforge.metrics.translation import hole_l1, hole_psnr, hole_psnr_median

    out, target = _pair(3)
    masks = torch.zeros(3, 1, 20, 24)
    masks[:, :, 4:10, 5:15] = 1
    h = masks.expand_as(out).bool()
    o, t = ((out + 1) / 2).double()[h].numpy(), ((target + 1) / 2).double()[h].numpy()
    assert hole_psnr(out, target, masks) == pytest.approx(10 * np.log10(1 / np.mean((o - t) ** 2)), rel=1e-9)
    assert hole_l1(out, target, masks) == pytest.approx(2 * np.abs(o - t).mean(), rel=1e-6)
    per = [peak_signal_noise_ratio(t.reshape(3, -1)[i], o.reshape(3, -1)[i], data_range=1) for i in range(3)]
    assert hole_psnr_median(out, target, masks) == pytest.approx(np.median(per), rel=1e-9)
    # filling the holes exactly leaves the score independent of the valid pixels
    assert hole_psnr(torch.where(h, out, target * 0), target, masks) == hole_psnr(out, target, masks)
    with pytest.raises(DataError, match="masks must be"):
        hole_psnr(out, target, masks[:, :, :10])
