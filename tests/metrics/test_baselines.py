"""The baselines translation runs are scored beside: biharmonic fill (scikit-image's) and mean fill."""

import numpy as np
import pytest
import torch
from skimage.restoration import inpaint_biharmonic

from ganforge.errors import DataError
from ganforge.metrics.baselines import biharmonic, mean_fill


def _images() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 12, 12, generator=g) * 2 - 1
    m = torch.zeros(2, 1, 12, 12)
    m[0, :, 3:7, 3:7] = 1
    m[1, :, 6:11, 1:4] = 1
    return x, m


def test_biharmonic_is_scikit_images_and_keeps_valid_pixels():
    x, m = _images()
    out = biharmonic(x, m)
    im = ((x[0] + 1) / 2).double().numpy().transpose(1, 2, 0)
    ref = np.clip(inpaint_biharmonic(im, m[0, 0].bool().numpy(), channel_axis=-1), 0, 1)
    assert np.allclose((out[0].double().numpy().transpose(1, 2, 0) + 1) / 2, ref, atol=1e-6)
    keep = m.expand_as(x) == 0
    assert torch.allclose(out[keep], x[keep], atol=1e-6)


def test_mean_fill_puts_the_valid_mean_in_the_holes():
    x, m = _images()
    out = mean_fill(x, m)
    valid = x[0, :, m[0, 0] == 0]
    assert torch.allclose(out[0, :, 4, 4], valid.mean(1), atol=1e-6)
    assert torch.equal(out[:, :, 0, 0], x[:, :, 0, 0])
    with pytest.raises(DataError, match="baselines need"):
        mean_fill(x, m[:, :, :5])
