"""Precision/recall and density/coverage against brute-force loops over all pairs."""

import math

import numpy as np
import pytest
import torch

from ganforge.metrics import prdc
from ganforge.metrics.prdc import density_coverage, knn_radii, precision_recall


def brute_radii(x: np.ndarray, k: int) -> list[float]:
    """k-th nearest neighbour distance, the point itself excluded (index 0 of its sorted distances)."""
    return [sorted(math.dist(p, q) for q in x)[k] for p in x]


def brute_prdc(real: np.ndarray, fake: np.ndarray, k_pr: int, k_dc: int) -> dict[str, float]:
    rr, fr = brute_radii(real, k_pr), brute_radii(fake, k_pr)
    precision = np.mean([any(math.dist(y, x) <= r for x, r in zip(real, rr, strict=True)) for y in fake])
    recall = np.mean([any(math.dist(x, y) <= r for y, r in zip(fake, fr, strict=True)) for x in real])
    rd = brute_radii(real, k_dc)
    density = np.mean([sum(math.dist(y, x) < r for x, r in zip(real, rd, strict=True)) for y in fake]) / k_dc
    coverage = np.mean([min(math.dist(x, y) for y in fake) < r for x, r in zip(real, rd, strict=True)])
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


def ours(real, fake, k_pr=3, k_dc=5) -> dict[str, float]:
    return precision_recall(real, fake, k=k_pr) | density_coverage(real, fake, k=k_dc)


@pytest.fixture(params=[7, 1024], ids=["tiled", "one-tile"])
def chunk(request, monkeypatch):
    """Run each check with many small distance tiles as well as with the default single tile."""
    monkeypatch.setattr(prdc, "CHUNK", request.param)
    return request.param


def overlapping_sets(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((60, 3))
    fake = 0.8 * rng.standard_normal((50, 3)) + np.array([0.7, 0.0, -0.3])
    return real, fake


def test_knn_radii_match_brute_force(chunk):
    real, _ = overlapping_sets()
    for k in (1, 3, 5):
        np.testing.assert_allclose(knn_radii(real, k), brute_radii(real, k), rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_all_four_match_brute_force(chunk, seed):
    real, fake = overlapping_sets(seed)
    want = brute_prdc(real, fake, 3, 5)
    got = ours(real, fake)
    assert got == pytest.approx(want, abs=1e-12)
    assert 0 < got["precision"] < 1 and 0 < got["recall"] < 1 and 0 < got["coverage"] < 1
    assert all(type(v) is float for v in got.values())


def test_other_k_match_brute_force(chunk):
    real, fake = overlapping_sets(3)
    assert ours(real, fake, k_pr=1, k_dc=2) == pytest.approx(brute_prdc(real, fake, 1, 2), abs=1e-12)


def test_identical_sets(chunk):
    real, _ = overlapping_sets()
    got = ours(real, real.copy())
    assert (got["precision"], got["recall"], got["coverage"]) == (1.0, 1.0, 1.0)
    # Each real ball holds its centre and k - 1 neighbours strictly inside (the k-th lies on the
    # boundary, and membership is strict), so density is exactly 1 without ties.
    assert got["density"] == brute_prdc(real, real, 3, 5)["density"] == 1.0


def test_disjoint_far_apart_sets(chunk):
    real, fake = overlapping_sets()
    got = ours(real, fake + 100.0)
    assert got == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_fake_drops_one_of_two_clusters():
    """Mode dropping: reals form two far-apart clusters, fakes copy (with jitter) only the first one;
    precision stays 1 while recall and coverage halve."""
    rng = np.random.default_rng(9)
    real = np.concatenate([rng.standard_normal((30, 3)), rng.standard_normal((30, 3)) + 20.0])
    fake = real[:30] + 1e-3 * rng.standard_normal((30, 3))
    got = ours(real, fake)
    assert (got["precision"], got["recall"], got["coverage"]) == (1.0, 0.5, 0.5)
    assert got == pytest.approx(brute_prdc(real, fake, 3, 5), abs=1e-12)


def test_torch_input():
    real, fake = overlapping_sets()
    assert ours(torch.from_numpy(real), torch.from_numpy(fake)) == ours(real, fake)


@pytest.mark.parametrize(
    ("real", "fake", "k", "match"),
    [
        (np.zeros(10), np.zeros((10, 2)), 3, "2-D"),
        (np.zeros((10, 3)), np.zeros((10, 2)), 3, "different feature dimensions"),
        (np.zeros((3, 2)), np.zeros((10, 2)), 3, "k=3 needs more than k real samples"),
        (np.zeros((10, 2)), np.zeros((3, 2)), 3, "k=3 needs more than k fake samples"),
        (np.zeros((10, 2)), np.zeros((10, 2)), 0, "k must be >= 1"),
    ],
)
def test_bad_input_raises(real, fake, k, match):
    with pytest.raises(ValueError, match=match):
        precision_recall(real, fake, k=k)


def test_density_coverage_needs_only_real_neighbours():
    real, fake = overlapping_sets()
    got = density_coverage(real, fake[:3], k=5)  # three fakes are fine: no fake k-NN needed
    assert got == pytest.approx({k: v for k, v in brute_prdc(real, fake[:3], 1, 5).items() if k in got})
    with pytest.raises(ValueError, match="real samples"):
        density_coverage(real[:5], fake, k=5)


def test_boundary_convention_on_exact_ties(chunk):
    """Points exactly on a ball's surface: inside for precision/recall (<=, as NVlabs' code), outside for
    density/coverage (<, as clovaai's prdc). Integer coordinates keep every distance exact."""
    real = np.array([[0.0], [1.0], [2.0], [3.0]])  # every 1-NN radius is 1
    fake = np.array([[-1.0], [4.0], [1.5], [10.0]])  # -1 and 4 lie exactly on the balls of 0 and 3
    pr = precision_recall(real, fake, k=1)
    dc = density_coverage(real, fake, k=1)
    assert pr == {"precision": 0.75, "recall": 1.0}
    assert dc == {"density": 0.5, "coverage": 0.5}
    assert pr | dc == brute_prdc(real, fake, 1, 1)
