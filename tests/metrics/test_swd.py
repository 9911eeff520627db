"""ProGAN's sliced Wasserstein distance: the pyramid against a scipy.ndimage reference and its inverse,
the 1-D distances against scipy.stats, and the metric's behaviour on identical and noisier images."""

import importlib
import json

import numpy as np
import pytest
import scipy.ndimage
import scipy.stats
import torch

from ganforge.metrics.swd import (
    _sliced,
    laplacian_pyramid,
    level_sizes,
    reconstruct_laplacian_pyramid,
    swd,
)

# ganforge.metrics.swd is the function (exported by the package), the module is only in sys.modules.
swd_module = importlib.import_module("ganforge.metrics.swd")
FAST = {"dirs": 64, "repeats": 2, "patches_per_image": 32}


def smooth_images(n: int, seed: int, c: int = 1, size: int = 32) -> np.ndarray:
    """Images in [-1, 1] with structure at every scale: coarse noise upsampled, plus a little fine noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(-1, 1, (n, c, size // 8, size // 8))
    img = scipy.ndimage.zoom(coarse, (1, 1, 8, 8), order=1)
    return np.clip(img + 0.05 * rng.standard_normal(img.shape), -1, 1)


# ProGAN's own pyramid (metrics/sliced_wasserstein.py), written with scipy.ndimage for comparison.
GAUSS = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0


def ref_down(x: np.ndarray) -> np.ndarray:
    return scipy.ndimage.convolve(x, GAUSS[None, None], mode="mirror")[:, :, ::2, ::2]


def ref_up(x: np.ndarray) -> np.ndarray:
    z = np.zeros(x.shape[:2] + (2 * x.shape[2], 2 * x.shape[3]))
    z[:, :, ::2, ::2] = x
    return scipy.ndimage.convolve(z, 4 * GAUSS[None, None], mode="mirror")


def test_pyramid_matches_the_scipy_reference():
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 32, 32))
    ref = [x]
    for _ in range(2):
        ref.append(ref_down(ref[-1]))
        ref[-2] = ref[-2] - ref_up(ref[-1])
    got = laplacian_pyramid(torch.from_numpy(x), 3)
    assert [g.shape for g in got] == [(2, 3, 32, 32), (2, 3, 16, 16), (2, 3, 8, 8)]
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_allclose(g, r, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("h", "w", "levels"), [(32, 32, 3), (28, 28, 2), (31, 27, 3), (9, 9, 1)])
def test_pyramid_reconstructs_the_images(h, w, levels):
    x = torch.rand(3, 2, h, w, generator=torch.Generator().manual_seed(1)) * 2 - 1
    pyr = laplacian_pyramid(x, levels)
    assert len(pyr) == levels
    assert np.abs(reconstruct_laplacian_pyramid(pyr) - x.double().numpy()).max() < 1e-5
    if levels > 1:
        assert np.abs(pyr[0]).max() > 1e-2  # the bands are not trivially zero


def test_pyramid_rejects_bad_input():
    with pytest.raises(ValueError, match="4-D"):
        laplacian_pyramid(np.zeros((3, 8, 8)), 2)
    with pytest.raises(ValueError, match="levels"):
        laplacian_pyramid(np.zeros((1, 1, 8, 8)), 0)


def test_levels_follow_progan():
    assert level_sizes(28, 28) == [(28, 28)]  # MNIST: 14 < 16
    assert level_sizes(64, 64) == [(64, 64), (32, 32), (16, 16)]
    assert level_sizes(12, 12) == [(12, 12)]  # smaller than min_res: one level
    assert level_sizes(28, 28, min_res=7) == [(28, 28), (14, 14), (7, 7)]
    assert level_sizes(28, 28, min_res=4) == [(28, 28), (14, 14), (7, 7)]  # a level must hold a patch


def test_sliced_distance_matches_scipy_wasserstein():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((300, 6)).astype(np.float32)
    b = (1.5 * rng.standard_normal((300, 6)) + 0.2).astype(np.float32)
    dirs = rng.standard_normal((6, 200))
    dirs /= np.linalg.norm(dirs, axis=0)
    want = np.mean([scipy.stats.wasserstein_distance(a @ u, b @ u) for u in dirs.T])
    assert _sliced(a, b, dirs.astype(np.float32)) == pytest.approx(want, rel=1e-5)


def test_identical_sets_give_zero_at_every_level():
    x = smooth_images(8, 0, c=3, size=64)
    r = swd(x, x.copy(), **FAST)
    assert r["levels"] == {64: 0.0, 32: 0.0, 16: 0.0} and r["mean"] == 0.0


def test_grows_with_noise_at_every_level():
    real = smooth_images(16, 0)
    noise = np.random.default_rng(5).standard_normal(real.shape)
    other = smooth_images(16, 1)  # same distribution, different images
    results = [swd(real, real + s * noise, **FAST)["levels"] for s in (0.05, 0.1, 0.2)]
    baseline = swd(real, other, **FAST)["levels"]
    noisy = swd(real, other + 0.3 * noise, **FAST)["levels"]
    for res in (32, 16):
        values = [r[res] for r in results]
        assert 0 < values[0] < values[1] < values[2], (res, values)
    # Between different images the finest band, where white noise lives, still tells noisy sets apart.
    assert noisy[32] > 1.1 * baseline[32]


def test_deterministic_given_seed():
    a, b = smooth_images(6, 0), smooth_images(6, 1)
    r1, r2 = swd(a, b, seed=3, **FAST), swd(a, b, seed=3, **FAST)
    assert r1 == r2
    assert swd(a, b, seed=4, **FAST)["levels"][32] != r1["levels"][32]


def test_descriptors_are_normalised_per_set():
    """As in ProGAN, each set's descriptors are standardised per channel, so a global gain and offset on
    one set leaves the distance unchanged (up to float32 rounding)."""
    a, b = smooth_images(6, 0), smooth_images(6, 1)
    plain = swd(a, b, **FAST)["levels"]
    scaled = swd(a, 0.5 * b + 0.2, **FAST)["levels"]
    assert scaled == pytest.approx(plain, rel=1e-4)


def test_torch_numpy_and_unequal_counts(monkeypatch):
    monkeypatch.setattr(swd_module, "IMAGE_BATCH", 4)  # several pyramid batches
    a, b = smooth_images(10, 0), smooth_images(7, 1)
    r = swd(torch.from_numpy(a).float(), torch.from_numpy(b).float(), **FAST)
    assert r["images"] == 7
    assert r["levels"] == pytest.approx(swd(a[:7], b, **FAST)["levels"], rel=1e-5)
    assert json.loads(json.dumps(r))["levels"]["32"] == r["levels"][32]
    assert {"patch_size", "min_res", "dirs", "repeats", "seed", "patches_per_image"} <= set(r)


def test_single_level_for_mnist_size_and_min_res_parameter():
    rng = np.random.default_rng(6)
    a, b = rng.uniform(-1, 1, (4, 1, 28, 28)), rng.uniform(-1, 1, (4, 1, 28, 28))
    assert set(swd(a, b, **FAST)["levels"]) == {28}
    assert set(swd(a, b, min_res=14, **FAST)["levels"]) == {28, 14}
    assert set(swd(a[..., :12, :12], b[..., :12, :12], **FAST)["levels"]) == {12}


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "match"),
    [
        (np.zeros((2, 1, 16, 16)), np.zeros((2, 16, 16)), {}, "4-D"),
        (np.zeros((2, 1, 16, 16)), np.zeros((2, 3, 16, 16)), {}, "differ"),
        (np.zeros((2, 1, 5, 5)), np.zeros((2, 1, 5, 5)), {}, "patch_size"),
        (np.zeros((2, 1, 16, 16)), np.zeros((2, 1, 16, 16)), {"dirs": 0}, ">= 1"),
    ],
)
def test_bad_input_raises(a, b, kwargs, match):
    with pytest.raises(ValueError, match=match):
        swd(a, b, **kwargs)
