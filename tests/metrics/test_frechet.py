"""Fréchet distance against scipy.linalg.sqrtm (the pytorch-fid computation) and the Gaussian closed form."""

import numpy as np
import pytest
import scipy.linalg
import torch

from ganforge.metrics.frechet import frechet_distance, frechet_from_stats, gaussian_stats


def sqrtm_fid(a: np.ndarray, b: np.ndarray) -> float:
    """pytorch-fid's formula: ||mu1 - mu2||² + tr(S1) + tr(S2) - 2 tr(sqrtm(S1 S2))."""
    m1, s1 = a.mean(0), np.cov(a, rowvar=False)
    m2, s2 = b.mean(0), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


def two_sets(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, d))
    b = rng.standard_normal((n, d)) @ (0.3 * rng.standard_normal((d, d))) + 0.5  # correlated, shifted
    return a, b


def test_gaussian_stats_match_numpy():
    a, _ = two_sets(50, 6)
    mu, cov = gaussian_stats(a)
    np.testing.assert_allclose(mu, a.mean(0), rtol=0, atol=1e-14)
    np.testing.assert_allclose(cov, np.cov(a, rowvar=False, ddof=1), rtol=1e-12, atol=1e-14)
    assert mu.dtype == cov.dtype == np.float64 and cov.shape == (6, 6)


def test_matches_scipy_sqrtm_full_rank():
    a, b = two_sets(500, 64)
    got = frechet_distance(a, b)
    assert isinstance(got, float)
    assert got == pytest.approx(sqrtm_fid(a, b), rel=1e-6)
    assert frechet_distance(b, a) == pytest.approx(got, rel=1e-9)  # symmetric


def test_rank_deficient_fewer_samples_than_dims():
    a, b = two_sets(20, 64, seed=1)  # covariances of rank 19 in 64-d
    got = frechet_distance(a, b)
    assert np.isfinite(got) and got > 0
    assert got == pytest.approx(sqrtm_fid(a, b), rel=1e-5)  # sqrtm itself is less accurate here
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_identical_sets_give_zero():
    a, b = two_sets(500, 64)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(b, b) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(a, a) >= 0.0


def test_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(3)
    d = 10
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    v1, v2 = rng.uniform(0.1, 3.0, d), rng.uniform(0.1, 3.0, d)
    want = ((mu1 - mu2) ** 2).sum() + (v1 + v2 - 2 * np.sqrt(v1 * v2)).sum()
    got = frechet_from_stats(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(want, rel=1e-12)


def test_closed_form_for_rotated_gaussians():
    """tr(sqrt(S1 S2)) is rotation invariant: rotate both diagonal covariances by one orthogonal Q."""
    rng = np.random.default_rng(4)
    d = 8
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    v1, v2 = rng.uniform(0.1, 2.0, d), rng.uniform(0.1, 2.0, d)
    mu1, mu2 = np.zeros(d), np.full(d, 0.25)
    want = 0.25**2 * d + (v1 + v2 - 2 * np.sqrt(v1 * v2)).sum()
    got = frechet_from_stats(mu1, q @ np.diag(v1) @ q.T, mu2, q @ np.diag(v2) @ q.T)
    assert got == pytest.approx(want, rel=1e-10)


def test_torch_input_equals_numpy_input():
    a, b = two_sets(100, 5)
    assert frechet_distance(torch.from_numpy(a).float(), torch.from_numpy(b).float()) == pytest.approx(
        frechet_distance(a.astype(np.float32), b.astype(np.float32)), rel=1e-12
    )


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        (np.zeros(10), np.zeros((10, 2)), "2-D"),
        (np.zeros((10, 3)), np.zeros((10, 4)), "different feature dimensions"),
        (np.zeros((1, 3)), np.zeros((10, 3)), "at least 2 samples"),
        (np.full((5, 3), np.nan), np.zeros((10, 3)), "NaN"),
    ],
)
def test_bad_shapes_raise_one_line_value_errors(a, b, match):
    with pytest.raises(ValueError, match=match) as err:
        frechet_distance(a, b)
    assert "\n" not in str(err.value)


def test_bad_stats_shapes_raise():
    with pytest.raises(ValueError, match="covariances"):
        frechet_from_stats(np.zeros(3), np.eye(3), np.zeros(3), np.eye(4))
    with pytest.raises(ValueError, match="means"):
        frechet_from_stats(np.zeros(3), np.eye(3), np.zeros(4), np.eye(3))
