"""The rare-class benchmark's set-building helpers (benchmarks/augmentation.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "augmentation.py"


@pytest.fixture(scope="module")
def aug():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("bench_augmentation", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_imbalanced_split_keeps_others_and_a_share_of_the_rare_class(aug) -> None:  # noqa: ANN001
    y = np.repeat(np.arange(3), 200)[np.random.default_rng(0).permutation(600)]
    x = np.arange(600)  # stands for the images: which rows survived
    xs, ys, kept = aug.imbalanced_split(x, y, rare=1, keep=0.05, seed=3)
    assert np.bincount(ys).tolist() == [200, 10, 200]
    assert np.array_equal(ys, y[xs])  # rows stay paired with their labels
    assert np.all(np.diff(xs) > 0)  # in the split's order
    assert set(kept) <= set(np.flatnonzero(y == 1)) and len(kept) == 10
    again = aug.imbalanced_split(x, y, rare=1, keep=0.05, seed=3)[2]
    other = aug.imbalanced_split(x, y, rare=1, keep=0.05, seed=4)[2]
    assert np.array_equal(kept, again) and not np.array_equal(kept, other)


def test_repeat_to_uses_every_row_evenly(aug) -> None:  # noqa: ANN001
    r = aug.repeat_to(np.array([7, 8, 9]), 10)
    assert len(r) == 10
    assert np.bincount(r)[7:].tolist() == [4, 3, 3]


def test_class_weights_match_sklearn_balanced(aug) -> None:  # noqa: ANN001
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0] * 50 + [1] * 5 + [2] * 45)
    want = compute_class_weight("balanced", classes=np.arange(3), y=y)
    assert np.allclose(aug.class_weights(y, 3), want)


def test_scores_recall_precision_accuracy(aug) -> None:  # noqa: ANN001
    truth = np.array([0, 0, 1, 1, 1, 2])
    pred = np.array([1, 0, 1, 0, 1, 1])
    s = aug.scores(pred, truth, rare=1)
    assert s["recall"] == pytest.approx(2 / 3)
    assert s["precision"] == pytest.approx(2 / 4)
    assert s["accuracy"] == pytest.approx(3 / 6)
