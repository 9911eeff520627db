"""KID against a pure-Python O(n²) loop on the same subsets, and the estimator's unbiasedness."""

import math

import numpy as np
import pytest
import torch

from ganforge.metrics.kid import kid, mmd2_unbiased, polynomial_kernel, subset_indices


def loop_mmd2(x: list[list[float]], y: list[list[float]]) -> float:
    """Bińkowski et al.'s unbiased MMD² with k(u, v) = (u·v / d + 1)³, written out pair by pair."""
    d = len(x[0])

    def k(u: list[float], v: list[float]) -> float:
        return (sum(p * q for p, q in zip(u, v, strict=True)) / d + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2.0 * xy


def test_kernel_matrix():
    x, y = np.array([[1.0, 2.0]]), np.array([[3.0, -1.0], [0.0, 0.0]])
    np.testing.assert_allclose(polynomial_kernel(x, y), [[(1 / 2 + 1) ** 3, 1.0]])


def test_mmd2_unbiased_matches_loop():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((20, 5)), rng.standard_normal((15, 5)) + 0.3  # unequal sizes too
    assert mmd2_unbiased(x, y) == pytest.approx(loop_mmd2(x.tolist(), y.tolist()), rel=1e-12)
    assert mmd2_unbiased(x, x[::-1]) != 0.0  # the cross term keeps the diagonal: not exactly 0


def test_kid_matches_loop_over_the_same_subsets():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((50, 5)), 1.2 * rng.standard_normal((40, 5))
    got = kid(a, b, subsets=6, subset_size=20, seed=7)
    idx = subset_indices(50, 40, 6, 20, seed=7)
    for ia, ib in idx:  # without replacement within a subset, in range
        assert len(set(ia.tolist())) == 20 and len(set(ib.tolist())) == 20
        assert ia.max() < 50 and ib.max() < 40
    values = [loop_mmd2(a[ia].tolist(), b[ib].tolist()) for ia, ib in idx]
    assert got["mean"] == pytest.approx(sum(values) / 6, rel=1e-10)
    mean = sum(values) / 6
    assert got["std"] == pytest.approx(math.sqrt(sum((v - mean) ** 2 for v in values) / 6), rel=1e-8)
    assert (got["subsets"], got["subset_size"]) == (6, 20)
    assert all(type(v) in (float, int) for v in got.values())


def test_deterministic_and_seed_dependent():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((60, 4)), rng.standard_normal((60, 4)) + 0.2
    assert kid(a, b, subsets=5, subset_size=30, seed=3) == kid(a, b, subsets=5, subset_size=30, seed=3)
    assert kid(a, b, subsets=5, subset_size=30, seed=3)["mean"] != kid(a, b, 5, 30, seed=4)["mean"]


def test_subset_size_is_clipped_and_reported():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((30, 4)), rng.standard_normal((25, 4))
    r = kid(a, b, subsets=3, subset_size=1000)
    assert r["subset_size"] == 25
    assert r == kid(a, b, subsets=3, subset_size=25)


def test_unbiased_on_one_distribution_but_not_the_biased_estimator():
    """Over independent draws from one distribution the mean of the estimates is 0 within 4 standard
    errors; the biased (V-statistic) estimate, computed on the same draws, is clearly positive, which
    shows the check can fail."""
    rng = np.random.default_rng(4)
    m, d, trials = 40, 5, 300
    unbiased, biased = [], []
    for _ in range(trials):
        x, y = rng.standard_normal((m, d)), rng.standard_normal((m, d))
        unbiased.append(mmd2_unbiased(x, y))
        kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
        biased.append((kxx.sum() + kyy.sum() - 2 * kxy.sum()) / m**2)
    u, v = np.array(unbiased), np.array(biased)
    assert abs(u.mean()) < 4 * u.std() / math.sqrt(trials)
    assert v.mean() > 10 * v.std() / math.sqrt(trials)


def test_kid_near_zero_for_one_distribution_and_positive_for_a_shift():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((2000, 8)), rng.standard_normal((2000, 8))
    same = kid(a, b, subsets=50, subset_size=100, seed=0)
    shifted = kid(a, b + 0.5, subsets=50, subset_size=100, seed=0)
    assert abs(same["mean"]) < 4 * same["std"] / math.sqrt(50)
    assert shifted["mean"] > 10 * shifted["std"] / math.sqrt(50)
    assert shifted["mean"] > 20 * abs(same["mean"])


def test_torch_input():
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((30, 3)), rng.standard_normal((30, 3))
    assert kid(torch.from_numpy(a), torch.from_numpy(b), 4, 10) == kid(a, b, 4, 10)


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        (np.zeros((10, 3, 1)), np.zeros((10, 3)), "2-D"),
        (np.zeros((10, 3)), np.zeros((10, 2)), "different feature dimensions"),
        (np.zeros((10, 3)), np.zeros((1, 3)), "at least 2 samples"),
    ],
)
def test_bad_shapes_raise(a, b, match):
    with pytest.raises(ValueError, match=match):
        kid(a, b)


def test_bad_arguments_raise():
    a = np.zeros((10, 3))
    with pytest.raises(ValueError, match="subsets"):
        kid(a, a, subsets=0)
    with pytest.raises(ValueError, match="subset_size"):
        kid(a, a, subset_size=1)
