"""nets/style.py: StyleGAN2-class G and D, checked against direct computations and formulas."""

import math

import pytest
import torch
import torch.nn.functional as F

from ganforge.config import DConfig, GConfig
from ganforge.errors import ConfigError
from ganforge.nets import DOut, build_d, build_g
from ganforge.nets.style import EqConv2d, EqLinear, ModulatedConv, layout, modulated_weight


def _g(shape=(1, 16, 16), classes=0, **kw):
    opts = dict(arch="style", width=8, max_channels=16, noise_dim=12, w_dim=10, mapping_layers=2)
    opts.update(kw)
    torch.manual_seed(0)
    return build_g(GConfig(**opts), shape, classes)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("shape", [(1, 16, 16), (3, 32, 32), (1, 32, 16), (3, 16, 32)])
@pytest.mark.parametrize("classes", [0, 3])
@pytest.mark.parametrize("rgb", ["skip", "resnet"])
def test_shapes_sides_channels_and_classes(shape, classes, rgb):
    g = _g(shape, classes, rgb=rgb)
    d = build_d(DConfig(arch="style", width=8, max_channels=16, mbstd=True), shape, classes)
    c = torch.arange(4) % classes if classes else None
    z = torch.randn(4, 12)
    g.bind_rng(_gen())
    x = g.train()(z, c)
    assert x.shape == (4, *shape) and torch.isfinite(x).all()
    assert g.eval()(z, c).shape == (4, *shape)
    out = d(x, c)
    assert isinstance(out, DOut) and out.score.shape == (4,) and out.logits is None
    # 2 styles per doubling, one for the start's conv, one for the last toRGB
    assert g.num_ws == 2 * layout(shape, "g")[2] + 2
    assert g.mapping(z, c).shape == (4, g.num_ws, 10) and g.w_dim == 10


def test_layout_starts_and_rejects():
    assert layout((1, 28, 28), "g") == (1, (7, 7), 2)
    assert layout((3, 32, 16), "g") == (3, (8, 4), 2)
    assert layout((1, 256, 256), "g") == (1, (4, 4), 6)
    for bad in [(2,), (2, 16, 16), (1, 4, 4), (1, 64, 4)]:
        with pytest.raises(ConfigError):
            layout(bad, "g")


def test_channels_double_per_halving_up_to_the_cap():
    g = _g((1, 32, 32), width=8, max_channels=16)
    assert g.const.shape == (16, 4, 4)  # 8 * 2^3 capped at 16
    assert [b.conv1.conv.weight.shape[0] for b in g.blocks] == [16, 16, 16, 8]


def test_demodulation_gives_unit_norm_weights_and_matches_the_grouped_convolution():
    torch.manual_seed(1)
    conv = ModulatedConv(5, 7, 3, w_dim=6)
    w = torch.randn(3, 6)
    x = torch.randn(3, 5, 8, 8)
    styles = conv.affine(w)
    wt = modulated_weight(conv.weight * conv.weight_gain, styles)
    norms = wt.square().sum((2, 3, 4)).sqrt()
    assert torch.allclose(norms, torch.ones(3, 7), atol=1e-5)
    # direct computation: one convolution per sample with its own weights (grouped)
    direct = F.conv2d(x.reshape(1, 15, 8, 8), wt.reshape(21, 5, 3, 3), padding=1, groups=3)
    direct = direct.reshape(3, 7, 8, 8)
    assert torch.allclose(conv(x, w), direct, atol=1e-5)
    # without demodulation the weights are the modulated ones as they are
    nodemod = modulated_weight(conv.weight, styles, demodulate=False)
    assert torch.allclose(nodemod[1], conv.weight * styles[1].view(1, 5, 1, 1))


def test_affine_bias_starts_at_one():
    conv = ModulatedConv(5, 7, 3, w_dim=6)
    assert torch.allclose(conv.affine(torch.zeros(2, 6)), torch.ones(2, 5))


def test_equalised_lr_scale_by_formula():
    torch.manual_seed(2)
    lin = EqLinear(50, 20, bias_init=0.5, lr_mult=0.01)
    assert lin.weight_gain == pytest.approx(0.01 / math.sqrt(50))
    x = torch.randn(4, 50)
    ref = x @ (lin.weight * 0.01 / math.sqrt(50)).T + lin.bias * 0.01
    assert torch.allclose(lin(x), ref, atol=1e-6)
    assert torch.allclose(lin.bias * 0.01, torch.full((20,), 0.5))  # the init survives the multiplier
    assert float(lin.weight.detach().std()) == pytest.approx(100, rel=0.1)  # stored N(0, 1) / lr_mult
    conv = EqConv2d(6, 4, 3)
    assert conv.weight_gain == pytest.approx(1 / math.sqrt(6 * 9))
    y = torch.randn(2, 6, 5, 5)
    assert torch.allclose(conv(y), F.conv2d(y, conv.weight / math.sqrt(54), conv.bias, padding=1), atol=1e-6)
    # unit-variance inputs keep (about) unit variance through a fresh layer
    big = EqLinear(512, 512)
    assert float(big(torch.randn(256, 512)).detach().std()) == pytest.approx(1, rel=0.1)


def test_mapping_lr_multiplier_scales_gradients_and_adam_steps():
    torch.manual_seed(3)
    slow, fast = EqLinear(16, 8, lr_mult=0.01), EqLinear(16, 8, lr_mult=1.0)
    with torch.no_grad():  # the same effective weights
        fast.weight.copy_(slow.weight * 0.01)
        fast.bias.copy_(slow.bias * 0.01)
    x = torch.randn(5, 16)
    assert torch.allclose(slow(x), fast(x), atol=1e-5)
    slow(x).square().sum().backward()
    fast(x).square().sum().backward()
    assert torch.allclose(slow.weight.grad, 0.01 * fast.weight.grad, rtol=1e-4, atol=1e-8)
    # Adam's first step moves each stored weight by lr: the effective weight moves by lr * lr_mult
    before = (slow.weight * slow.weight_gain).detach().clone()
    torch.optim.Adam(slow.parameters(), lr=0.1).step()
    moved = (slow.weight * slow.weight_gain).detach() - before
    assert float(moved.abs().max()) == pytest.approx(0.1 * 0.01 / math.sqrt(16), rel=1e-3)


def test_truncation_psi_zero_gives_one_image_and_cutoff_truncates_the_first_layers():
    g = _g()
    g.train().bind_rng(_gen())
    for _ in range(3):
        g(torch.randn(8, 12))  # training forwards move w_avg
    assert g.w_avg.abs().sum() > 0
    g.eval()
    z = torch.randn(4, 12)
    x = g.synthesis(g.mapping(z, psi=0.0))
    assert torch.allclose(x, x[:1].expand_as(x), atol=1e-5)
    full = g.mapping(z)
    cut = g.mapping(z, psi=0.5, cutoff=2)
    assert torch.allclose(cut[:, :2], g.w_avg + 0.5 * (full[:, :2] - g.w_avg), atol=1e-6)
    assert torch.equal(cut[:, 2:], full[:, 2:])
    assert not torch.allclose(cut[:, :2], full[:, :2])


def test_w_avg_moves_in_training_forwards_only():
    g = _g().eval()
    g(torch.randn(4, 12))
    assert torch.equal(g.w_avg, torch.zeros(10))
    g.train().bind_rng(_gen())
    g(torch.randn(4, 12))
    w = g.mapping(torch.randn(4, 12))  # a plain mapping call does not move it either
    assert not torch.equal(g.w_avg, torch.zeros(10)) and w.shape[1] == g.num_ws


def test_style_mixing_really_mixes():
    g = _g(style_mixing=1.0).train()
    g.bind_rng(_gen(5))
    z = torch.randn(16, 12)
    own = g.mapping(z)
    ws = g.training_ws(z, update_w_avg=False)
    same = (ws == own).all(2)  # (n, num_ws): layer taken from the sample's own w
    assert same[:, 0].all()  # the switch is at a layer >= 1
    assert (~same[:, -1]).all()  # with probability 1 every sample switches before the last layer
    # each sample switches once: own layers first, then the second z's
    assert all(torch.equal(row, torch.sort(row.int(), descending=True).values.bool()) for row in same)
    assert len({int(r.sum()) for r in same}) > 1  # at random layers
    g0 = _g(style_mixing=0.0).train()
    assert torch.equal(g0.training_ws(z, update_w_avg=False), g0.mapping(z))


def test_noise_modes():
    g = _g().eval()
    for layer in g.modules():
        if hasattr(layer, "noise_strength"):
            torch.nn.init.constant_(layer.noise_strength, 0.5)
    ws = g.mapping(torch.randn(3, 12))
    assert torch.equal(g.synthesis(ws, "const"), g.synthesis(ws, "const"))
    a, b = g.synthesis(ws, "random", _gen(1)), g.synthesis(ws, "random", _gen(1))
    assert torch.equal(a, b) and not torch.allclose(a, g.synthesis(ws, "random", _gen(2)))
    assert not torch.allclose(g.synthesis(ws, "none"), g.synthesis(ws, "const"))
    with pytest.raises(ValueError, match="noise must be one of"):
        g.synthesis(ws, "loud")


def test_training_draws_come_from_the_bound_generator_only():
    g = _g(style_mixing=0.5).train()
    z = torch.randn(4, 12)
    outs = []
    for seed in (0, 1):
        g.bind_rng(_gen(7))
        torch.manual_seed(seed)  # the global RNG must not matter
        outs.append(g(z))
    g.w_avg.zero_()
    assert torch.equal(outs[0], outs[1])


def test_output_is_clamped_to_the_image_range():
    g = _g().eval()
    with torch.no_grad():
        for b in g.blocks:
            b.torgb.bias.fill_(5.0)
    z = torch.randn(4, 12)
    x = g(z)
    assert x.min() >= -1 and x.max() <= 1 and (x == 1).any()
    assert g.synthesis(g.mapping(z)).max() > 1  # synthesis itself gives the raw output
    g.train().bind_rng(_gen())
    y = g(z)  # training too: D never sees values beyond the data's range
    assert y.min() >= -1 and y.max() <= 1


def test_conditional_d_projection_and_acgan():
    shape = (1, 16, 16)
    x = torch.randn(4, *shape)
    d = build_d(DConfig(arch="style", width=8, max_channels=16), shape, 3)
    a, b = d(x, torch.zeros(4, dtype=torch.long)), d(x, torch.ones(4, dtype=torch.long))
    assert not torch.allclose(a.score, b.score)  # the label enters the score
    ac = build_d(DConfig(arch="style", width=8, max_channels=16, cond="acgan"), shape, 3)
    assert ac(x, torch.zeros(4, dtype=torch.long)).logits.shape == (4, 3)
    g = _g(shape, 3).eval()
    z = torch.randn(2, 12)
    assert not torch.allclose(g(z, torch.zeros(2, dtype=torch.long)), g(z, torch.ones(2, dtype=torch.long)))
    with pytest.raises(ValueError, match="pass class labels"):
        g(z)


def test_minibatch_std_sees_each_group():
    d = build_d(DConfig(arch="style", width=8, max_channels=16, mbstd=True), (1, 16, 16))
    x = torch.randn(8, 1, 16, 16)
    same = x[:1].expand(8, -1, -1, -1).contiguous()
    assert d.mbstd is not None and not torch.allclose(d(x).score[:1], d(same).score[:1])
