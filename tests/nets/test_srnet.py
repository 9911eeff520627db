"""g.arch=rrdb: shapes, a fresh G is bicubic upsampling, any input size; PatchGAN beside a smaller input."""

import pytest
import torch

from ganforge.config import DConfig, GConfig
from ganforge.data.superres import upscale_bicubic
from ganforge.errors import ConfigError
from ganforge.nets import build_d, build_g


@pytest.mark.parametrize("scale", [2, 4])
def test_shapes_and_a_fresh_g_is_bicubic(scale):
    g = build_g(GConfig(arch="rrdb", width=8, depth=1), (3, 8 * scale, 8 * scale), 0, (3, 8, 8))
    assert g.spec.z_dim == 0 and g.spec.cond == "image" and g.spec.cond_shape == (3, 8, 8)
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    y = g(None, x)
    assert y.shape == (2, 3, 8 * scale, 8 * scale)
    base = torch.nn.functional.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    assert torch.allclose(y, base, atol=1e-6)  # the last conv starts at zero
    assert torch.equal(upscale_bicubic(x, scale), base.clamp(-1, 1))
    assert g(None, torch.zeros(1, 3, 5, 11)).shape == (1, 3, 5 * scale, 11 * scale)  # fully convolutional


def test_wrong_shapes_are_one_line_errors():
    cfg = GConfig(arch="rrdb", width=8, depth=1)
    with pytest.raises(ConfigError, match="needs an input image"):
        build_g(cfg, (3, 16, 16))
    with pytest.raises(ConfigError, match="2 or 4 x larger"):
        build_g(cfg, (3, 24, 24), 0, (3, 8, 8))
    with pytest.raises(ConfigError, match="2 or 4 x larger"):
        build_g(cfg, (3, 16, 16), 0, (1, 8, 8))
    with pytest.raises(ConfigError, match="d.arch=rrdb is not a discriminator"):
        build_d(DConfig(arch="rrdb"), (3, 16, 16))


def test_patchgan_judges_an_image_beside_its_smaller_input():
    d = build_d(DConfig(arch="patchgan", width=8, depth=2), (3, 16, 16), 0, (3, 4, 4))
    out = d(torch.zeros(2, 3, 16, 16), torch.zeros(2, 3, 4, 4))
    assert out.score.shape[0] == 2
    with pytest.raises(ConfigError, match="k x smaller"):
        build_d(DConfig(arch="patchgan"), (3, 16, 16), 0, (3, 5, 5))
