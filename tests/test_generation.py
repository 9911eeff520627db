"""generation.py: noise, labels, chunking and the loaded-generator API."""

import pytest
import torch

from ganforge.config import GConfig
from ganforge.errors import DataError
from ganforge.generation import (
    LoadedGenerator,
    as_labels,
    check_count,
    generate,
    iter_generate,
    make_noise,
)
from ganforge.nets import build_g


def test_noise_distributions():
    gen = torch.Generator().manual_seed(0)
    z = make_noise("normal", 20000, 3, gen)
    assert abs(float(z.mean())) < 0.03 and abs(float(z.std()) - 1) < 0.03
    u = make_noise("uniform", 20000, 3, gen)
    assert float(u.min()) >= -1 and float(u.max()) <= 1 and abs(float(u.mean())) < 0.03
    with pytest.raises(Exception, match="unknown noise"):
        make_noise("cauchy", 2, 2, gen)


def test_chunks_do_not_change_the_samples_or_their_order():
    g = build_g(GConfig(width=16, depth=2), (2,))
    whole = generate(g, "normal", 1000, torch.Generator().manual_seed(3), chunk=1000)
    parts = list(iter_generate(g, "normal", 1000, torch.Generator().manual_seed(3), chunk=1000))
    assert len(parts) == 1 and torch.equal(parts[0], whole)
    small = list(iter_generate(g, "normal", 1000, torch.Generator().manual_seed(3), chunk=300))
    assert [len(p) for p in small] == [300, 300, 300, 100]
    assert g.training  # eval mode only while sampling


def test_conditional_generation_labels():
    from ganforge.nets.cond import ConditionalBatchNorm

    g = build_g(GConfig(arch="dcgan", width=8, batch_norm=True, noise_dim=4), (1, 28, 28), 10)
    with torch.no_grad():  # at init every class has the same scale and shift: make them differ
        for m in g.modules():
            if isinstance(m, ConditionalBatchNorm):
                m.embed.weight.normal_()
    lab = LoadedGenerator(g, "normal", torch.device("cpu"))
    x = lab.sample(6, seed=0, labels=3)
    y = lab.sample(6, seed=0, labels=[3, 3, 3, 3, 3, 3])
    assert x.shape == (6, 1, 28, 28) and torch.equal(x, y)
    assert not torch.equal(x, lab.sample(6, seed=0, labels=4))
    with pytest.raises(DataError, match="labels must be in 0..9"):
        lab.sample(2, labels=[0, 10])
    with pytest.raises(DataError, match="2 labels for 3 samples"):
        as_labels([1, 2], 3, 10, torch.device("cpu"))
    with pytest.raises(DataError, match="class-conditional"):
        lab(lab.noise(2))


@pytest.mark.parametrize("n", [0, -5, 10**13, 2.5, True])
def test_every_count_is_bounded(n):
    with pytest.raises(DataError, match="-n must"):
        check_count(n)


def test_loaded_generator_properties_and_explicit_noise():
    g = build_g(GConfig(width=16, depth=2, noise_dim=3), (2,))
    lab = LoadedGenerator(g, "uniform", torch.device("cpu"), step=7, source="x")
    assert (lab.z_dim, lab.data_shape, lab.num_classes, lab.step) == (3, (2,), 0, 7)
    z = lab.noise(5, seed=1)
    assert float(z.abs().max()) <= 1  # the training noise: uniform here
    assert torch.equal(lab(z), g(z))
    assert torch.equal(lab.sample(5, seed=1), lab(z))  # sample(n, seed) = g(noise(n, seed))
    assert torch.cat(list(lab.iter_samples(5, seed=1))).equal(lab.sample(5, seed=1))
    parts = list(lab.iter_samples(5, seed=1, chunk=2))  # same noise; matmuls of other sizes
    assert [len(p) for p in parts] == [2, 2, 1]
    assert torch.allclose(torch.cat(parts), lab.sample(5, seed=1), atol=1e-6)
    with pytest.raises(DataError, match=r"z must have shape \(n, 3\)"):
        lab(torch.zeros(2, 4))
