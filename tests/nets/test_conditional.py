"""Class-conditional DCGAN parts: conditional batch norm, projection and ACGAN discriminators."""

import pytest
import torch

from ganforge.config import DConfig, GConfig
from ganforge.errors import ConfigError
from ganforge.nets import build_d, build_g
from ganforge.nets.cond import ConditionalBatchNorm

SHAPE = (1, 28, 28)


def test_conditional_batch_norm_starts_as_plain_bn_and_follows_the_class():
    cbn = ConditionalBatchNorm(4, num_classes=3)
    x = torch.randn(8, 4, 5, 5)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    plain = torch.nn.BatchNorm2d(4, affine=False)
    assert torch.allclose(cbn(x, y), plain(x), atol=1e-6)
    with torch.no_grad():
        cbn.embed.weight[1, :4] = 2.0  # class 1: gamma = 2
        cbn.embed.weight[1, 4:] = 0.5  # beta = 0.5
    out = cbn(x, y)
    assert torch.allclose(out[1], plain(x)[1] * 2 + 0.5, atol=1e-5)
    assert torch.allclose(out[0], plain(x)[0], atol=1e-5)


def test_conditional_generator_uses_labels():
    g = build_g(GConfig(arch="dcgan", width=8, batch_norm=True, noise_dim=6), SHAPE, 10)
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, ConditionalBatchNorm):
                m.embed.weight.normal_()
    g.eval()
    z = torch.randn(1, 6).repeat(2, 1)
    out = g(z, torch.tensor([3, 4]))
    assert out.shape == (2, 1, 28, 28) and not torch.allclose(out[0], out[1])
    with pytest.raises(ValueError, match="pass class labels"):
        g(z)
    with pytest.raises(ConfigError, match="needs g.batch_norm=true"):
        build_g(GConfig(arch="dcgan", width=8, batch_norm=False), SHAPE, 10)
    with pytest.raises(ConfigError, match="no class-conditional form"):
        build_g(GConfig(arch="mlp"), (2,), 3)


def test_projection_discriminator_adds_the_inner_product():
    d = build_d(DConfig(arch="dcgan", width=8, cond="projection"), SHAPE, 10)
    x = torch.randn(4, 1, 28, 28)
    y = torch.tensor([0, 1, 2, 3])
    h = d.net(x).flatten(1)
    want = d.head(h).squeeze(1) + (d.cond_head.embed(y) * h).sum(1)
    assert torch.allclose(d(x, y).score, want, atol=1e-5)
    assert not torch.allclose(d(x, y).score, d(x, torch.tensor([9, 9, 9, 9])).score)


def test_acgan_discriminator_has_a_class_head_and_packing_is_refused():
    d = build_d(DConfig(arch="dcgan", width=8, cond="acgan"), SHAPE, 10)
    out = d(torch.randn(3, 1, 28, 28), torch.zeros(3, dtype=torch.long))
    assert out.score.shape == (3,) and out.logits.shape == (3, 10)
    with pytest.raises(ConfigError, match="d.pack"):
        build_d(DConfig(arch="dcgan", width=8, pack=2), SHAPE, 10)
    with pytest.raises(ConfigError, match="unknown d.cond"):
        build_d(DConfig(arch="dcgan", width=8, cond="film"), SHAPE, 10)
