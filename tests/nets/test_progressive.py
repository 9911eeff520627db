import pytest
import torch
import torch.nn.functional as F

from ganforge import config
from ganforge.config import DConfig, GConfig, parse_progressive_batch
from ganforge.errors import ConfigError
from ganforge.nets.progressive import (
    ProgressiveDCGANDiscriminator,
    ProgressiveDCGANGenerator,
    fade_real,
    phase,
    phase_batch,
    samples_drawn,
)


def _nets(side=16, channels=1, classes=0, **d):
    torch.manual_seed(0)
    g = ProgressiveDCGANGenerator(GConfig(arch="dcgan", width=8, batch_norm=True, noise_dim=6),
                                  (channels, side, side), classes)
    dk = dict(arch="dcgan", width=8) | d
    dn = ProgressiveDCGANDiscriminator(DConfig(**dk), (channels, side, side), classes)
    return g.eval(), dn.eval()


@pytest.mark.parametrize("side,levels", [(16, 3), (28, 3), (32, 4)])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_at_every_stage_are_full_size(side, levels, channels):
    g, d = _nets(side, channels)
    assert g.levels == d.levels == levels
    assert (g.stage, g.alpha) == (levels - 1, 1.0)  # a built net is fully grown
    z = torch.randn(4, 6)
    for stage in range(levels):
        for alpha in (0.0, 0.5, 1.0):
            g.set_growth(stage, alpha)
            d.set_growth(stage, alpha)
            x = g(z)
            assert x.shape == (4, channels, side, side)
            assert x.abs().max() <= 1
            assert d(x).score.shape == (4,)
            # G works at its current side: its full-size output is made of constant blocks
            f = side // g.side
            assert g.side == side // 2 ** (levels - 1 - stage)
            assert torch.equal(x, x[..., ::f, ::f].repeat_interleave(f, -2).repeat_interleave(f, -1))


def test_conditional_and_packed_forms():
    g, d = _nets(classes=3, cond="projection")
    y = torch.tensor([0, 1, 2, 1])
    for stage in range(3):
        g.set_growth(stage, 0.5)
        d.set_growth(stage, 0.5)
        assert d(g(torch.randn(4, 6), y), y).score.shape == (4,)
    _, dp = _nets(pack=2, mbstd=True)
    dp.train()
    dp.set_growth(1, 0.25)
    assert dp(torch.randn(8, 1, 16, 16)).score.shape == (4,)


def _g_path(g, z, stage):
    """An independent reference: G's modules run by hand, no fade."""
    hs = [g.project(z).view(z.shape[0], *g.start)]
    for block in g.blocks[:stage]:
        hs.append(block(hs[-1]))
    return hs


def test_last_stage_at_alpha_1_is_the_plain_full_resolution_path():
    g, d = _nets(32)
    z, x = torch.randn(5, 6), torch.rand(5, 1, 32, 32) * 2 - 1
    hs = _g_path(g, z, 3)
    assert torch.equal(g(z), torch.tanh(g.to_rgb[3](hs[-1])))
    h = d.from_rgb[3](x)
    for j in (3, 2, 1):
        h = d.blocks[j - 1](h)
    assert torch.equal(d(x).score, d.head(h.flatten(1)).squeeze(1))


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_g_fade_blends_the_upsampled_old_rgb_with_the_new(alpha):
    g, _ = _nets(32)
    z = torch.randn(5, 6)
    stage = 2
    g.set_growth(stage, alpha)
    hs = _g_path(g, z, stage)
    old = g.to_rgb[stage - 1](hs[-2]).repeat_interleave(2, -2).repeat_interleave(2, -1)
    new = g.to_rgb[stage](hs[-1])
    want = torch.tanh((1 - alpha) * old + alpha * new).repeat_interleave(2, -2).repeat_interleave(2, -1)
    assert torch.allclose(g(z), want, atol=1e-6)
    if alpha == 0.0:  # the new level starts where the old one left off (nearest up commutes with tanh)
        out = g(z)
        g.set_growth(stage - 1, 1.0)
        assert torch.equal(out, g(z))


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_d_fade_blends_the_old_from_rgb_of_the_pooled_input_with_the_new_block(alpha):
    _, d = _nets(32)
    x = torch.rand(5, 1, 32, 32) * 2 - 1
    stage = 2  # side 16
    d.set_growth(stage, alpha)
    x16 = F.avg_pool2d(x, 2)
    old = d.from_rgb[stage - 1](F.avg_pool2d(x16, 2))
    new = d.blocks[stage - 1](d.from_rgb[stage](x16))
    h = d.blocks[0]((1 - alpha) * old + alpha * new)
    assert torch.allclose(d(x).score, d.head(h.flatten(1)).squeeze(1), atol=1e-6)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_real_images_are_pooled_and_faded_the_same_way(alpha):
    x = torch.rand(3, 2, 16, 16)
    got = fade_real(x, 8, True, alpha)
    x8, x4 = F.avg_pool2d(x, 2), F.avg_pool2d(x, 4)
    want = (1 - alpha) * x4.repeat_interleave(2, -2).repeat_interleave(2, -1) + alpha * x8
    assert got.shape == x.shape
    assert torch.allclose(got, want.repeat_interleave(2, -2).repeat_interleave(2, -1), atol=1e-6)
    assert torch.allclose(fade_real(x, 8, False, alpha), x8.repeat_interleave(2, -2).repeat_interleave(2, -1))
    assert torch.equal(fade_real(x, 16, False, 1.0), x)


def test_phase_schedule():
    got = [phase(s, 4, 3) for s in range(15)]
    assert got == [(0, 1.0)] * 4 + [(1, 0.0), (1, 0.5), (1, 1.0), (1, 1.0),
                                    (2, 0.0), (2, 0.5), (2, 1.0), (2, 1.0)] + [(2, 1.0)] * 3
    assert [phase(s, 5, 2)[1] for s in range(5, 10)] == [0.0, 0.4, 0.8, 1.0, 1.0]
    assert phase(10**6, 1, 4) == (3, 1.0)
    with pytest.raises(ValueError):
        phase(0, 0, 3)


def test_batch_per_phase():
    sizes = parse_progressive_batch("256, 128,64")
    assert sizes == (256, 128, 64)
    assert [phase_batch(sizes, s, 32) for s in range(5)] == [256, 128, 64, 64, 64]
    assert parse_progressive_batch("") == () and phase_batch((), 3, 32) == 32
    # phases of 4 steps, 3 levels: the batch of every step taken, summed
    per_step = [phase_batch((16, 8), phase(s, 4, 3)[0], 32) for s in range(20)]
    assert [samples_drawn(n, 4, 3, (16, 8), 32) for n in range(21)] == [sum(per_step[:n]) for n in range(21)]
    assert samples_drawn(7, 4, 3, (), 32) == 7 * 32
    for junk in ("a,b", "64,,32", "0", "-8", "64;32", str(1 << 21)):
        with pytest.raises(ConfigError, match="train.progressive_batch") as e:
            parse_progressive_batch(junk)
        assert "\n" not in str(e.value)


def test_config_cross_checks():
    base = ["g.arch=dcgan", "d.arch=dcgan", "data.name=digits"]
    cfg = config.load(None, [*base, "train.progressive=10", "train.progressive_batch=64,32"])
    assert cfg.train.progressive == 10
    bad = {
        "train.progressive_batch=64": "needs train.progressive",
        "train.progressive=5 g.arch=mlp": "needs g.arch=dcgan",
        "train.progressive=5 train.progressive_batch=64,33 d.pack=2": "multiples of d.pack",
        "train.progressive=5 train.progressive_batch=6x": "batch sizes",
        "train.progressive=5 task.kind=paired": "train.progressive does not apply",
    }
    for sets, msg in bad.items():
        with pytest.raises(ConfigError, match=msg):
            config.load(None, base + sets.split())
