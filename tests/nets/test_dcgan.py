import pytest
import torch

from ganforge.config import DConfig, GConfig
from ganforge.errors import ConfigError
from ganforge.nets import build_d, build_g
from ganforge.nets.dcgan import plan


@pytest.mark.parametrize("side", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_at_every_size_and_channel_count(side, channels):
    g = build_g(GConfig(arch="dcgan", width=8, batch_norm=True, noise_dim=10), (channels, side, side))
    d = build_d(DConfig(arch="dcgan", width=8), (channels, side, side))
    x = g(torch.randn(3, 10))
    assert x.shape == (3, channels, side, side)
    assert x.min() >= -1 and x.max() <= 1  # tanh output, the library's image range
    assert d(x).score.shape == (3,) and d(x).logits is None


def test_plan():
    assert plan(28) == (7, 2) and plan(32) == (4, 3) and plan(64) == (4, 4) and plan(56) == (7, 3)
    with pytest.raises(ConfigError, match="4\\*2\\^k or 7\\*2\\^k"):
        plan(30)


def test_packed_and_spectral_norm_discriminator():
    d = build_d(DConfig(arch="dcgan", width=8, pack=2, spectral_norm=True), (1, 28, 28))
    d.eval()  # no power iteration between the two calls
    x = torch.randn(6, 1, 28, 28)
    out = d(x).score
    assert out.shape == (3,)
    y = x.clone()
    y[2:] = 0  # only the first packed pair stays the same
    assert torch.allclose(d(y).score[0], out[0])


def test_points_are_refused():
    with pytest.raises(ConfigError, match="needs square images"):
        build_g(GConfig(arch="dcgan"), (2,))
