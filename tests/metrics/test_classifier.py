"""ganforge's own evaluation classifier: accuracy on the held-out split, determinism, the cache."""

from pathlib import Path

import pytest
import torch

from ganforge.data.images import mnist
from ganforge.errors import CheckpointError, ConfigError
from ganforge.metrics.classifier import (
    RECIPES,
    Recipe,
    accuracy,
    fit_classifier,
    joint_probs,
    load_classifier_file,
    to_classifier_input,
    train_classifier,
)

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mnist"
needs_mnist = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/mnist is missing")


@needs_mnist
def test_lenet_mnist_reaches_985_on_the_held_out_fifth():
    clf = fit_classifier("lenet-mnist")  # trained once per cache (about a CPU-minute), then reused
    data = mnist()
    test = torch.arange(len(data.images)) % 5 == 4
    assert int(test.sum()) == clf.info["n_held_out"] == 2000 and clf.info["n_train"] == 8000
    acc = accuracy(clf.net, data.images[test], data.labels[test].long())  # recomputed, not read back
    assert acc >= 0.985
    assert acc == pytest.approx(clf.info["held_out_accuracy"], abs=1e-9)
    again = fit_classifier("lenet-mnist")  # a cache hit: same file, same weights
    assert again.path == clf.path and again.hash == clf.hash


def test_training_is_deterministic_and_learns():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(400) % 2
    x = torch.randint(0, 60, (400, 1, 28, 28), generator=g, dtype=torch.uint8)
    x[y == 1, :, 10:18, 10:18] = 250  # class 1: a bright square
    recipe = Recipe(data="synthetic", steps=30, width=4)
    a, info = train_classifier(x, y, recipe)
    b, _ = train_classifier(x, y, recipe)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    assert info["n_held_out"] == 80 and info["held_out_accuracy"] > 0.9


def test_a_damaged_cache_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "lenet-mnist-0.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="not a ganforge classifier.*delete it to retrain"):
        load_classifier_file("lenet-mnist", bad)
    with pytest.raises(ConfigError, match="unknown classifier"):
        fit_classifier("lenet-cifar")
    assert set(RECIPES) == {"lenet-mnist", "lenet-fashion"}


def test_channels_become_grey_images_and_probabilities_multiply():
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert to_classifier_input(x).shape == (6, 1, 28, 28)
    p = [torch.tensor([[0.25, 0.75]]), torch.tensor([[0.5, 0.5]]), torch.tensor([[0.1, 0.9]])]
    j = joint_probs(p)
    assert j.shape == (1, 8) and j.sum().item() == pytest.approx(1.0)
    # class index 4a + 2b + c (base 2 here; 100a + 10b + c for digits): a=1, b=0, c=1 -> 5
    assert j[0, 5].item() == pytest.approx(0.75 * 0.5 * 0.9)
