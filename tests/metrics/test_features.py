"""Feature extractors: the registry, shapes, the classifier-based spaces and the Inception gate."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganforge.data.images import mnist, to_float
from ganforge.errors import ConfigError
from ganforge.metrics.features import FEATURES, build_extractor, default_extractor
from ganforge.metrics.frechet import frechet_distance
from ganforge.metrics.inception import FIDInceptionV3
from ganforge.metrics.kid import kid

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mnist"
needs_mnist = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/mnist is missing")


def test_registry_names_and_one_line_errors():
    assert FEATURES.names() == ["identity", "inception", "lenet-fashion", "lenet-mnist", "pixels"]
    with pytest.raises(ConfigError, match="unknown feature extractor 'vgg'.*known: identity"):
        build_extractor("vgg")
    with pytest.raises(ConfigError, match="pixels:S needs an integer"):
        build_extractor("pixels:big", (1, 28, 28))


def test_identity_and_pixels():
    pts = torch.randn(10, 2)
    e = build_extractor("identity", (2,))
    assert e.dim == 2 and np.array_equal(e.extract(pts).features, pts.numpy())
    img = torch.rand(5, 3, 32, 32) * 2 - 1
    assert build_extractor("pixels", (3, 32, 32)).extract(img).features.shape == (5, 3072)
    small = build_extractor("pixels:16", (3, 32, 32))
    f = small.extract(img).features
    assert small.dim == 768 and f.shape == (5, 768)
    ref = F.interpolate(img, size=(16, 16), mode="bilinear", align_corners=False, antialias=True)
    assert np.allclose(f, ref.reshape(5, -1).numpy(), atol=1e-6)


def test_defaults_follow_the_data():
    assert default_extractor("grid25", (2,)) == "identity"
    assert default_extractor("mnist", (1, 28, 28)) == "lenet-mnist"
    assert default_extractor("stacked-mnist", (3, 28, 28)) == "lenet-mnist"
    assert default_extractor("fashion-mnist", (1, 28, 28)) == "lenet-fashion"
    assert default_extractor("folder", (3, 64, 64)) == "pixels"


def test_inception_needs_a_local_weights_file(tmp_path, monkeypatch):
    monkeypatch.delenv("GANFORGE_INCEPTION_WEIGHTS", raising=False)
    with pytest.raises(ConfigError) as e:
        build_extractor("inception", (3, 32, 32))
    assert "pt_inception-2015-12-05-6726825d.pth" in str(e.value) and "\n" not in str(e.value)
    path = tmp_path / "w.pth"
    torch.manual_seed(0)
    torch.save(FIDInceptionV3().state_dict(), path)
    ext = build_extractor("inception", (1, 28, 28), inception_weights=str(path))
    out = ext.extract(torch.rand(2, 1, 28, 28) * 2 - 1)
    assert out.features.shape == (2, 2048) and out.probs.shape == (2, 1008)
    assert np.allclose(out.probs.sum(1), 1.0) and len(ext.hash) == 16


@needs_mnist
def test_lenet_features_and_stacked_probabilities():
    ext = build_extractor("lenet-mnist", (3, 28, 28))
    assert ext.dim == 384 and ext.classes == 1000
    data = mnist()
    x = to_float(data.images[:30]).reshape(10, 3, 28, 28)  # ten stacked images of known digits
    truth = data.labels[:30].reshape(10, 3).long()
    out = ext.extract(x)
    assert out.features.shape == (10, 384) and np.allclose(out.probs.sum(1), 1.0)
    assert torch.equal(ext.classify_channels(x), truth)
    joint = truth[:, 0] * 100 + truth[:, 1] * 10 + truth[:, 2]
    assert np.array_equal(out.probs.argmax(1), joint.numpy())


@needs_mnist
def test_fid_real_vs_real_is_small_and_grows_with_noise_and_blur():
    """FID in lenet-mnist features: two halves of MNIST are close; corrupting one half moves it away,
    monotonically in the corruption's strength; KID of the halves is ~0 (unbiased)."""
    ext = build_extractor("lenet-mnist", (1, 28, 28))
    data = to_float(mnist().images)
    a, b = data[0::2], data[1::2]  # 5,000 each
    fa = ext.extract(a).features
    floor = frechet_distance(fa, ext.extract(b).features)
    gen = torch.Generator().manual_seed(0)
    noisy = [frechet_distance(fa, ext.extract((b + s * torch.randn(b.shape, generator=gen)).clamp(-1, 1))
                              .features) for s in (0.1, 0.3, 0.6)]
    blurred = []
    for sigma in (0.6, 1.0, 1.6):
        r = torch.arange(-3, 4, dtype=torch.float32)
        w = torch.exp(-r**2 / (2 * sigma**2))
        w = (w[:, None] * w[None, :]) / w.sum() ** 2
        y = F.conv2d(F.pad(b, (3, 3, 3, 3), mode="replicate"), w.view(1, 1, 7, 7))
        blurred.append(frechet_distance(fa, ext.extract(y).features))
    print(f"floor {floor:.4g}, noise {noisy}, blur {blurred}")
    assert floor < 0.2 * noisy[0]
    assert noisy[0] < noisy[1] < noisy[2]
    assert blurred[0] < blurred[1] < blurred[2] and floor < blurred[0]
    kd = kid(fa, ext.extract(b).features, subsets=50, subset_size=1000)
    assert abs(kd["mean"]) < 3 * kd["std"] + 1e-3
