"""Every registered net keeps the one contract: G(z, c) -> samples, D(x, c) -> DOut, and a NetSpec
that says what it takes."""

import pytest
import torch

from ganforge.config import DConfig, GConfig
from ganforge.nets import NETS, Discriminator, DOut, Generator, NetSpec, build_d, build_g

SHAPES = {"mlp": (2,), "dcgan": (1, 28, 28), "resnet": (3, 32, 32), "style": (1, 16, 16)}
FROM_NOISE = [a for a in NETS.names() if all(NETS.get(a))]  # a G and a D of one name
SIDES = [(a, i) for a in NETS.names() for i in (0, 1) if NETS.get(a)[i] is not None]


@pytest.mark.parametrize("arch", FROM_NOISE)
@pytest.mark.parametrize("classes", [0, 5])
def test_every_arch_keeps_the_contract(arch, classes):
    shape = SHAPES[arch]
    gcfg = GConfig(arch=arch, width=8, depth=1, noise_dim=6, batch_norm=arch == "dcgan")
    if classes and not NETS.get(arch)[0].supports_classes:
        pytest.skip(f"{arch} has no class-conditional form")
    g, d = build_g(gcfg, shape, classes), build_d(DConfig(arch=arch, width=8, depth=1), shape, classes)
    assert isinstance(g, Generator) and isinstance(d, Discriminator)
    assert g.spec == NetSpec(shape, z_dim=6, cond="class" if classes else "none", num_classes=classes)
    assert d.spec.pack == 1 and d.spec.num_classes == classes and d.spec.z_dim == 0
    c = torch.arange(4) % classes if classes else None
    x = g(torch.randn(4, 6), c)
    assert x.shape == (4, *shape)
    out = d(x, c)
    assert isinstance(out, DOut) and out.score.shape == (4,) and out.logits is None


INPUT_CHANNELS = {"gated": 4}  # an inpainting G takes the image (3) and its mask (1)


@pytest.mark.parametrize(("arch", "side"), SIDES)
def test_every_image_conditional_net_keeps_the_contract(arch, side):
    """A net that takes input images (translation tasks): G(z, image) and D(x, image), z from its spec."""
    cls = NETS.get(arch)[side]
    if not cls.supports_images:
        pytest.skip(f"{arch} takes no input image")
    shape, cond = (3, 32, 32), (INPUT_CHANNELS.get(arch, 1), 32, 32)
    if arch == "rrdb":  # super-resolution: a smaller input with the output's channels
        cond = (3, 16, 16)
    net = build_g(GConfig(arch=arch, width=4), shape, cond_shape=cond) if side == 0 else \
        build_d(DConfig(arch=arch, width=4), shape, cond_shape=cond)
    assert net.spec.cond == "image" and net.spec.cond_shape == cond and net.spec.data_shape == shape
    c = torch.randn(2, *cond)
    if side == 0:
        assert net(torch.randn(2, net.spec.z_dim) if net.spec.z_dim else None, c).shape == (2, *shape)
    else:
        out = net(torch.randn(2, *shape), c)
        assert isinstance(out, DOut) and out.score.shape[0] == 2


def test_acgan_logits_and_packing_in_the_spec():
    d = build_d(DConfig(arch="dcgan", width=8, cond="acgan"), (1, 28, 28), 10)
    out = d(torch.randn(3, 1, 28, 28), torch.zeros(3, dtype=torch.long))
    assert out.score.shape == (3,) and out.logits.shape == (3, 10)
    p = build_d(DConfig(width=8, pack=4), (2,))
    assert p.spec.pack == 4 and p(torch.randn(8, 2)).score.shape == (2,)


def test_a_conditional_net_without_its_condition_says_what_to_pass():
    g = build_g(GConfig(arch="dcgan", width=8, batch_norm=True, noise_dim=4), (1, 28, 28), 3)
    with pytest.raises(ValueError, match="pass class labels as c"):
        g(torch.randn(2, 4))


def test_spec_is_checked():
    with pytest.raises(ValueError):
        NetSpec((2,), cond="class")  # classes without a count
    with pytest.raises(ValueError):
        NetSpec((2,), cond="sound")
    with pytest.raises(ValueError, match="cond='image' goes with a"):
        NetSpec((1, 8, 8), cond="image")
