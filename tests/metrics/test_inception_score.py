"""Inception Score on constructed predictions, and against the formula written out row by row."""

import math

import numpy as np
import pytest
import torch

from ganforge.metrics.inception_score import inception_score


def loop_is(probs: np.ndarray, splits: int) -> tuple[float, float]:
    """Salimans et al.'s formula, one split and one row at a time (0 log 0 = 0)."""
    n, classes = probs.shape
    scores = []
    for s in range(splits):
        part = probs[s * n // splits : (s + 1) * n // splits].tolist()
        py = [sum(row[c] for row in part) / len(part) for c in range(classes)]
        kls = [sum(p * math.log(p / q) for p, q in zip(row, py, strict=True) if p > 0) for row in part]
        scores.append(math.exp(sum(kls) / len(kls)))
    mean = sum(scores) / splits
    return mean, math.sqrt(sum((v - mean) ** 2 for v in scores) / splits)


def test_confident_and_balanced_gives_the_number_of_classes():
    classes = 7
    probs = np.eye(classes)[np.arange(70) % classes]  # every split of 7 rows holds each class once
    r = inception_score(probs, splits=10)
    assert r["mean"] == pytest.approx(classes, rel=1e-12)
    assert r["std"] == pytest.approx(0.0, abs=1e-12)


def test_identical_rows_give_one():
    probs = np.tile([0.1, 0.6, 0.3], (40, 1))
    r = inception_score(probs, splits=4)
    assert r == pytest.approx({"mean": 1.0, "std": 0.0}, abs=1e-12)


def test_confident_but_one_class_gives_one():
    probs = np.eye(5)[np.zeros(50, dtype=int)]
    assert inception_score(probs, splits=5)["mean"] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("splits", [1, 3, 10])
def test_matches_the_formula_loop(splits):
    rng = np.random.default_rng(0)
    logits = 3.0 * rng.standard_normal((103, 6))  # 103 rows: unequal splits
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    probs[:5, 2] = 0.0  # exact zeros exercise 0 log 0
    probs[:5] /= probs[:5].sum(1, keepdims=True)
    mean, std = loop_is(probs, splits)
    r = inception_score(probs, splits=splits)
    assert r["mean"] == pytest.approx(mean, rel=1e-12)
    assert r["std"] == pytest.approx(std, rel=1e-9, abs=1e-12)
    assert 1.0 < r["mean"] < 6.0
    assert all(type(v) is float for v in r.values())


def test_torch_float32_softmax_input():
    logits = torch.randn(64, 10, generator=torch.Generator().manual_seed(0))
    p = logits.softmax(1)
    assert inception_score(p, splits=4)["mean"] == pytest.approx(loop_is(p.double().numpy(), 4)[0], rel=1e-6)


@pytest.mark.parametrize(
    ("probs", "match"),
    [
        (np.array([[2.0, -1.0], [0.5, 0.5]]), "row 0 is not a probability vector"),
        (np.array([[0.5, 0.5], [0.3, 0.3]]), "row 1 is not a probability vector"),
        (np.array([[0.5, 0.5], [1.2, -0.2]]), "row 1 is not a probability vector"),
        (np.ones(4) / 4, "2-D"),
        (np.array([[np.nan, 1.0]]), "NaN"),
    ],
)
def test_rejects_what_is_not_probabilities(probs, match):
    with pytest.raises(ValueError, match=match) as err:
        inception_score(probs, splits=1)
    assert "\n" not in str(err.value)


def test_rejects_bad_splits():
    probs = np.eye(3)
    with pytest.raises(ValueError, match="splits"):
        inception_score(probs, splits=4)
    with pytest.raises(ValueError, match="splits"):
        inception_score(probs, splits=0)
