import pytest
import torch

from ganforge.config import DConfig, GConfig
from ganforge.errors import ConfigError
from ganforge.nets import build_d, build_g
from ganforge.nets.layers import MinibatchStd


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("classes", [0, 10])
def test_resnet_sngan_shapes(channels, classes):
    shape = (channels, 32, 32)
    g = build_g(GConfig(arch="resnet", width=16, noise_dim=8), shape, classes)
    d = build_d(DConfig(arch="resnet", width=16, spectral_norm=True, mbstd=True), shape, classes)
    y = torch.arange(4) % 10 if classes else None
    x = g(torch.randn(4, 8), y) if classes else g(torch.randn(4, 8))
    assert x.shape == (4, channels, 32, 32) and x.abs().max() <= 1
    assert (d(x, y) if classes else d(x)).score.shape == (4,)


def test_resnet_needs_32px():
    with pytest.raises(ConfigError, match="data.size=32"):
        build_g(GConfig(arch="resnet"), (1, 28, 28))


def test_minibatch_std_against_a_direct_computation():
    x = torch.randn(8, 3, 2, 2)
    out = MinibatchStd(group=4)(x)
    assert out.shape == (8, 4, 2, 2) and torch.equal(out[:, :3], x)
    groups = x.view(4, 2, 3, 2, 2)  # sample i belongs to group column i % 2
    for col in range(2):
        members = groups[:, col]  # (4, 3, 2, 2)
        want = members.std(0, unbiased=False).mean()
        for i in range(col, 8, 2):
            assert torch.allclose(out[i, 3], torch.full((2, 2), float(want)), atol=1e-4)
    same = MinibatchStd()(torch.ones(4, 2, 3, 3))
    assert same[:, 2].abs().max() < 1e-3  # identical samples: no spread


def test_dcgan_with_minibatch_std():
    d = build_d(DConfig(arch="dcgan", width=8, mbstd=True), (1, 28, 28))
    assert d(torch.randn(8, 1, 28, 28)).score.shape == (8,)
