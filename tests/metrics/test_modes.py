"""The VEEGAN/PacGAN mode metrics on constructed perfect, collapsed and noisy samples."""

import math

import pytest
import torch

from ganforge.data.toy import grid25, ring8
from ganforge.metrics.modes import mode_stats, sliced_wasserstein, uniform_kl_floor


def test_perfect_samples():
    data = grid25()
    x = data.modes.repeat(100, 1)  # 2,500 samples, 100 exactly on each mode
    r = mode_stats(x, data.modes, data.std)
    assert (r["modes"], r["modes_total"], r["hq"]) == (25, 25, 1.0)
    assert r["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    assert r["counts"] == [100] * 25


def test_collapsed_onto_one_mode():
    data = ring8()
    x = data.modes[3].repeat(2500, 1) + 0.005
    r = mode_stats(x, data.modes, data.std)
    assert r["modes"] == 1 and r["hq"] == 1.0
    assert r["reverse_kl"] == pytest.approx(math.log(8), rel=1e-12)


def test_two_of_eight_modes_equally():
    data = ring8()
    x = torch.cat([data.modes[0].repeat(10, 1), data.modes[5].repeat(10, 1)])
    r = mode_stats(x, data.modes, data.std)
    assert r["modes"] == 2
    assert r["reverse_kl"] == pytest.approx(math.log(4), rel=1e-12)  # KL(1/2,1/2 || 1/8 ...)


def test_unequal_histogram_against_direct_formula():
    data = grid25()
    counts = [1 + (i % 4) for i in range(25)]
    x = torch.cat([m.repeat(c, 1) for m, c in zip(data.modes, counts, strict=True)])
    r = mode_stats(x, data.modes, data.std)
    n = sum(counts)
    want = sum((c / n) * math.log((c / n) / (1 / 25)) for c in counts)
    assert r["reverse_kl"] == pytest.approx(want, rel=1e-12)


def test_noisy_samples_are_low_quality():
    data = grid25()
    x = torch.full((500, 2), 1.0)  # midway between modes
    r = mode_stats(x, data.modes, data.std)
    assert r["hq"] == 0.0 and r["modes"] == 0 and r["reverse_kl"] is None


def test_three_sigma_boundary():
    data = grid25()
    centre = data.modes[12]  # (0, 0)
    inside = centre + torch.tensor([2.9 * data.std, 0.0])
    outside = centre + torch.tensor([0.0, 3.1 * data.std])
    r = mode_stats(torch.stack([inside, outside]), data.modes, data.std)
    assert r["hq"] == 0.5 and r["modes"] == 1


def test_real_data_scores_as_the_protocol_expects():
    """Samples of the true mixture: ~98.9% within 3 std in 2-D (1 - exp(-4.5)), all modes."""
    data = grid25()
    x = data.sample(2500, torch.Generator().manual_seed(0))
    r = mode_stats(x, data.modes, data.std)
    assert r["modes"] == 25
    assert r["hq"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert r["reverse_kl"] < 4 * uniform_kl_floor(int(r["hq"] * 2500), 25)


def test_sliced_wasserstein_is_zero_for_equal_sets_and_grows_with_shift():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(1000, 2, generator=g)
    assert sliced_wasserstein(a, a) == pytest.approx(0.0, abs=1e-12)
    # A shift by s along any direction u moves each projection by s * (u . d): E|u . d| = 2/pi.
    d1 = sliced_wasserstein(a, a + torch.tensor([1.0, 0.0]), n_proj=4000)
    assert d1 == pytest.approx(2 / math.pi, rel=0.03)
    assert sliced_wasserstein(a, a + 2) > d1


def test_stacked_mnist_modes_uniform_collapsed_and_formula():
    from ganforge.metrics.modes import stacked_mnist_modes

    every = torch.stack(torch.meshgrid(*[torch.arange(10)] * 3, indexing="ij"), -1).reshape(-1, 3)
    r = stacked_mnist_modes(every.repeat(26, 1))  # 26,000 samples, 26 in each of the 1,000 modes
    assert (r["modes"], r["modes_total"], r["n_samples"]) == (1000, 1000, 26000)
    assert r["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    one = stacked_mnist_modes(torch.tensor([[3, 1, 4]]).repeat(500, 1))
    assert one["modes"] == 1 and one["reverse_kl"] == pytest.approx(math.log(1000))
    assert one["counts"][314] == 500
    # KL(p || uniform) against a direct sum over an uneven histogram
    d = torch.tensor([[0, 0, 0]] * 3 + [[9, 9, 9]] * 1 + [[1, 2, 3]] * 4)
    p = [3 / 8, 1 / 8, 4 / 8]
    want = sum(q * math.log(q * 1000) for q in p)
    assert stacked_mnist_modes(d)["reverse_kl"] == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        stacked_mnist_modes(torch.zeros(5, 2, dtype=torch.int64))


def test_a_mode_is_covered_by_one_high_quality_sample():
    from ganforge.metrics.modes import covered_modes

    assert covered_modes([0, 1, 5, 0]) == 2 and covered_modes([]) == 0 and covered_modes([0, 0]) == 0


def test_knn_class_stats_against_a_direct_count():
    from ganforge.metrics.modes import knn_class_stats

    gen = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 1, 6, 6, generator=gen) * 3
    labels = torch.arange(4).repeat_interleave(50)
    real = centres[labels] + 0.3 * torch.randn(200, 1, 6, 6, generator=gen)
    # fakes: 30 near class 0, 10 near class 2, 5 halfway between 1 and 3 (neighbours disagree)
    fake = torch.cat([centres[0].expand(30, -1, -1, -1), centres[2].expand(10, -1, -1, -1),
                      ((centres[1] + centres[3]) / 2).expand(5, -1, -1, -1)])
    fake = fake + 0.3 * torch.randn(fake.shape, generator=gen)
    r = knn_class_stats(fake, real, labels, 4, k=5)
    # the same statistics from torch.cdist, by hand
    d = torch.cdist(fake.flatten(1).double(), real.flatten(1).double())
    votes = labels[d.topk(5, largest=False).indices]
    hq = (votes == votes[:, :1]).all(1)
    counts = torch.bincount(votes[hq, 0], minlength=4)
    assert r["counts"] == counts.tolist() and r["counts"][0] == 30 and r["counts"][2] == 10
    assert r["modes"] == int((counts > 0).sum()) >= 2 and r["modes_total"] == 4
    assert r["hq"] == pytest.approx(int(hq.sum()) / 45) and int(hq.sum()) >= 40
    p = counts.double() / counts.sum()
    assert r["reverse_kl"] == pytest.approx(float((p[p > 0] * (4 * p[p > 0]).log()).sum()))
    assert knn_class_stats(fake[40:], real, labels, 4, k=200)["reverse_kl"] is None  # no sample agrees
