"""The gated-convolution inpainting G: shapes, the composite, the gates, one-line errors."""

import pytest
import torch
from torch import nn

from ganforge.config import GConfig
from ganforge.errors import ConfigError
from ganforge.nets import build_g
from ganforge.nets.inpaint import GatedConv, GatedGenerator


@pytest.mark.parametrize("c, side", [(1, 32), (3, 64), (1, 16)])
def test_shapes_and_spec(c, side):
    g = build_g(GConfig(arch="gated", width=4, depth=2), (c, side, side), 0, (c + 1, side, side))
    assert isinstance(g, GatedGenerator)
    assert g.spec.z_dim == 0 and g.spec.cond == "image" and g.spec.cond_shape == (c + 1, side, side)
    x = torch.rand(3, c, side, side) * 2 - 1
    m = (torch.rand(3, 1, side, side) > 0.7).float()
    out = g(None, torch.cat([x * (1 - m), m], 1))
    assert out.shape == (3, c, side, side) and out.abs().max() <= 1


def test_valid_pixels_come_back_exactly_and_holes_are_filled():
    g = build_g(GConfig(arch="gated", width=4, depth=1), (1, 32, 32), 0, (2, 32, 32))
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    m = torch.zeros(2, 1, 32, 32)
    m[:, :, 8:20, 4:30] = 1
    out = g(None, torch.cat([x * (1 - m), m], 1))
    assert torch.equal(out[m == 0], x[m == 0])
    assert not torch.equal(out[m == 1], torch.zeros_like(out[m == 1]))


def test_a_gate_is_a_sigmoid_in_0_1_multiplying_the_features():
    torch.manual_seed(0)
    layer = GatedConv(3, 5, 3, 1, 2)
    x = torch.randn(2, 3, 16, 16) * 5
    gate = layer.gate(x)
    assert gate.shape == (2, 5, 16, 16) and gate.min() >= 0 and gate.max() <= 1
    f = layer.conv(x)[:, :5]
    assert torch.allclose(layer(x), nn.functional.elu(f) * gate, atol=1e-6)


def test_errors_name_what_is_wrong():
    with pytest.raises(ConfigError, match="g.arch=gated fills holes: it takes an image and its mask"):
        build_g(GConfig(arch="gated"), (1, 32, 32), 0, (1, 32, 32))
    with pytest.raises(ConfigError, match="g.arch=gated takes no input image|g.arch=gated fills holes"):
        build_g(GConfig(arch="gated"), (1, 32, 32))
    with pytest.raises(ConfigError, match="sides divisible by 4"):
        build_g(GConfig(arch="gated"), (1, 30, 30), 0, (2, 30, 30))
    g = build_g(GConfig(arch="gated", width=2, depth=0), (1, 8, 8), 0, (2, 8, 8))
    with pytest.raises(ValueError, match="takes no noise"):
        g(torch.zeros(1, 4), torch.zeros(1, 2, 8, 8))
