"""generation.py: noise, labels, chunking and the loaded-generator API."""

import pytest
import torch

from ganforge.config import GConfig
from ganforge.errors import DataError
from ganforge.generation import (
    MAX_SEEDS,
    LoadedGenerator,
    Truncation,
    as_labels,
    check_count,
    generate,
    iter_generate,
    latent_path,
    lerp,
    make_noise,
    parse_seeds,
    slerp,
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


# --- truncation, interpolation, per-seed inputs (issue 13) ---------------------------------------


def _points(noise="normal", z_dim=3):
    g = build_g(GConfig(width=16, depth=2, noise_dim=z_dim), (2,))
    return LoadedGenerator(g, noise, torch.device("cpu"))


def test_truncation_pulls_z_toward_the_mean():
    z = torch.randn(100, 4)
    assert torch.allclose(Truncation(0.5)(z), z * 0.5)  # half the distance from the mean, 0
    assert torch.equal(Truncation(1.0)(z), z)
    center = torch.ones(4)  # the hook for nets with their own mean latent (a mapping network)
    assert torch.allclose((Truncation(0.5, center)(z) - center).norm(dim=1), (z - center).norm(dim=1) / 2)
    lab = _points()
    assert torch.equal(lab.sample(50, seed=2, truncation=1.0), lab.sample(50, seed=2))
    assert torch.allclose(lab.sample(50, seed=2, truncation=0.5), lab(lab.noise(50, seed=2) * 0.5))
    assert torch.allclose(lab(lab.noise(5), truncation=0.5), lab(lab.noise(5) * 0.5))


@pytest.mark.parametrize("psi", [0, -0.5, 1.5, float("nan"), "0.5", True])
def test_bad_truncation_is_one_line(psi):
    with pytest.raises(DataError, match=r"truncation psi must be"):
        _points().sample(4, truncation=psi)


def test_slerp_keeps_gaussian_norms_between_the_endpoints():
    gen = torch.Generator().manual_seed(0)
    a, b = make_noise("normal", 2, 64, gen)
    t = torch.linspace(0, 1, 33)[:, None]
    path = slerp(a, b, t)
    norms = path.norm(dim=1)
    lo, hi = sorted((float(a.norm()), float(b.norm())))
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    assert float(norms.min()) >= lo - 1e-4 and float(norms.max()) <= hi + 1e-4
    assert float(lerp(a, b, t).norm(dim=1).min()) < lo - 1  # a straight line sags toward 0


def test_uniform_noise_walks_in_straight_lines_inside_its_box():
    keys = make_noise("uniform", 3, 8, torch.Generator().manual_seed(1))
    z = latent_path("uniform", keys, 30)  # 10 frames per segment, looping
    assert z.shape == (30, 8) and torch.equal(z[0], keys[0]) and torch.equal(z[10], keys[1])
    assert torch.allclose(z[5], (keys[0] + keys[1]) / 2, atol=1e-6)
    assert float(z.abs().max()) <= 1
    assert torch.allclose(z[25], (keys[2] + keys[0]) / 2, atol=1e-6)  # the loop comes back
    ends = latent_path("uniform", keys[:2], 5, loop=False)
    assert torch.equal(ends[0], keys[0]) and torch.allclose(ends[-1], keys[1])
    with pytest.raises(DataError, match="frames must be at most"):
        latent_path("uniform", keys, 10**6)


def test_interpolate_seeds_and_explicit_latents():
    lab = _points()
    walk = lab.interpolate([0, 1, 2], frames=9)
    assert walk.shape == (9, 2)
    assert torch.allclose(walk[0], lab.sample(1, seed=0)[0], atol=1e-6)  # starts on seed 0's sample
    za, zb = lab.noise(1, seed=5)[0], lab.noise(1, seed=6)[0]
    two = lab.interpolate(torch.stack([za, zb]), frames=4, loop=False)
    assert torch.allclose(two[-1], lab(zb[None])[0], atol=1e-6)
    with pytest.raises(DataError, match="a walk needs 2 to 64 seeds"):
        lab.interpolate([0], frames=4)


def test_per_seed_samples_reproduce_and_match_sample_one():
    lab = _points()
    x = lab.sample_seeds([7, 3, 7])
    assert torch.equal(x[0], x[2])
    assert torch.allclose(x[1], lab.sample(1, seed=3)[0], atol=1e-6)
    assert torch.equal(lab.sample_seeds([3]), lab.sample_seeds([3]))


def test_parse_seeds_is_bounded_and_one_line():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("5, 1,9-10") == [5, 1, 9, 10]
    for bad, msg in [("a-b", "seeds must look like"), ("3-1", "runs backwards"), ("", "seeds must look like"),
                     (f"0-{MAX_SEEDS}", "at most 50,000 seeds"), ("1--2", "seeds must look like")]:
        with pytest.raises(DataError, match=msg):
            parse_seeds(bad)
