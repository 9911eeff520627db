import pytest
import torch

from ganforge.config import GConfig
from ganforge.errors import ConfigError, DataError
from ganforge.generation import generate, translate
from ganforge.nets import build_g
from ganforge.nets.unet import unet_depth


@pytest.mark.parametrize("side", [16, 32, 64])
def test_output_is_the_input_size(side):
    g = build_g(GConfig(arch="unet", width=4, batch_norm=True), (3, side, side), cond_shape=(1, side, side))
    assert g.spec.cond == "image" and g.spec.cond_shape == (1, side, side) and g.spec.z_dim > 0
    c = torch.rand(2, 1, side, side) * 2 - 1
    x = g(torch.randn(2, g.spec.z_dim), c)
    assert x.shape == (2, 3, side, side) and x.min() >= -1 and x.max() <= 1


def test_depth_follows_the_side():
    assert [unet_depth(s) for s in (16, 32, 64, 28, 256, 1024)] == [4, 5, 6, 2, 8, 8]


def test_dropout_masks_come_from_z():
    g = build_g(GConfig(arch="unet", width=4), (1, 16, 16), cond_shape=(1, 16, 16))
    c = torch.randn(3, 1, 16, 16)
    z = torch.randn(3, g.spec.z_dim)
    assert torch.equal(g(z, c), g(z, c))  # no hidden randomness: same z, same output
    assert not torch.equal(g(z, c), g(-z, c))  # other masks, other output
    assert torch.equal(g(None, c), g(None, c))  # z=None: no dropout
    plain = build_g(GConfig(arch="unet", width=4, dropout=0.0), (1, 16, 16), cond_shape=(1, 16, 16))
    assert plain.spec.z_dim == 0
    with pytest.raises(ValueError, match="z must be None or"):
        g(torch.randn(3, 5), c)


def test_the_output_sees_the_input_through_the_skips():
    g = build_g(GConfig(arch="unet", width=4), (1, 16, 16), cond_shape=(1, 16, 16)).eval()
    c = torch.zeros(1, 1, 16, 16)
    d = c.clone()
    d[0, 0, 3, 3] = 1.0
    diff = (g(None, c) - g(None, d)).abs()[0, 0]
    assert diff[3, 3] > 0 and diff[12:, 12:].abs().max() < diff[3, 3]  # local change, mostly local effect


def test_errors_are_one_line():
    with pytest.raises(ConfigError, match="translates images: it needs an input image"):
        build_g(GConfig(arch="unet"), (1, 16, 16))
    with pytest.raises(ConfigError, match="is not a discriminator"):
        from ganforge.config import DConfig
        from ganforge.nets import build_d

        build_d(DConfig(arch="unet"), (1, 16, 16), cond_shape=(1, 16, 16))
    with pytest.raises(ConfigError, match="takes no input image"):
        build_g(GConfig(arch="dcgan"), (1, 16, 16), cond_shape=(1, 16, 16))
    with pytest.raises(ConfigError, match="square inputs and outputs of one size"):
        build_g(GConfig(arch="unet"), (1, 16, 16), cond_shape=(1, 32, 32))


def test_a_translating_generator_asked_for_a_count_says_so():
    g = build_g(GConfig(arch="unet", width=4), (1, 16, 16), cond_shape=(1, 16, 16))
    with pytest.raises(DataError, match="translates images: give it input images"):
        generate(g, "normal", 4, torch.Generator())


def test_translate_is_chunked_in_eval_mode_and_checks_shapes():
    g = build_g(GConfig(arch="unet", width=4, batch_norm=True), (1, 16, 16), cond_shape=(1, 16, 16))
    g.train()
    a = torch.rand(7, 1, 16, 16) * 2 - 1
    whole = translate(g, a)
    parts = translate(g, a, chunk=3)
    assert whole.shape == (7, 1, 16, 16) and torch.allclose(whole, parts, atol=1e-6)
    assert g.training  # mode restored
    with torch.no_grad():
        assert torch.allclose(whole, g.eval()(None, a), atol=1e-6)
    with pytest.raises(DataError, match=r"inputs must have shape \(n, 1, 16, 16\)"):
        translate(g, torch.zeros(2, 3, 16, 16))
    other = build_g(GConfig(arch="dcgan", width=4, noise_dim=3), (1, 16, 16))
    with pytest.raises(DataError, match="from noise"):
        translate(other, a)
