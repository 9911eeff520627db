"""Each loss against values computed by hand from its paper's formula (plain Python math)."""

import math

import pytest
import torch

from ganforge.losses import LOSSES, d_accuracy

R = [0.0, 2.0, -0.5]
F = [-1.0, 1.0, 0.3]


def sig(x):
    return 1 / (1 + math.exp(-x))


def mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs)


EXPECTED = {
    # D: -E log D(x) - E log(1 - D(G(z)));  G (saturating): E log(1 - D(G(z)))
    "minimax": (
        -mean(math.log(sig(r)) for r in R) - mean(math.log(1 - sig(f)) for f in F),
        mean(math.log(1 - sig(f)) for f in F),
    ),
    # G (non-saturating): -E log D(G(z))
    "ns": (
        -mean(math.log(sig(r)) for r in R) - mean(math.log(1 - sig(f)) for f in F),
        -mean(math.log(sig(f)) for f in F),
    ),
    "lsgan": (
        0.5 * mean((r - 1) ** 2 for r in R) + 0.5 * mean(f**2 for f in F),
        0.5 * mean((f - 1) ** 2 for f in F),
    ),
    "hinge": (
        mean(max(0.0, 1 - r) for r in R) + mean(max(0.0, 1 + f) for f in F),
        -mean(F),
    ),
    "wasserstein": (mean(F) - mean(R), -mean(F)),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loss_values_match_hand_computation(name):
    loss = LOSSES.get(name)
    r = torch.tensor(R, dtype=torch.float64)
    f = torch.tensor(F, dtype=torch.float64)
    want_d, want_g = EXPECTED[name]
    assert loss.d(r, f).item() == pytest.approx(want_d, rel=1e-12)
    assert loss.g(f).item() == pytest.approx(want_g, rel=1e-12)


def test_minimax_saturates_and_ns_does_not():
    """Where D confidently rejects a fake (logit -8), the minimax G gradient vanishes."""
    grads = {}
    for name in ("minimax", "ns"):
        f = torch.tensor([-8.0], requires_grad=True)
        LOSSES.get(name).g(f).backward()
        grads[name] = f.grad.item()
    assert abs(grads["minimax"]) < 1e-3
    assert grads["ns"] == pytest.approx(-1.0, abs=1e-3)


def test_losses_are_numerically_stable_for_large_logits():
    r = torch.tensor([80.0, -80.0])
    f = torch.tensor([-80.0, 80.0])
    for name in ("minimax", "ns"):
        loss = LOSSES.get(name)
        assert math.isfinite(loss.d(r, f).item())
        assert math.isfinite(loss.g(f).item())


def test_d_accuracy_reads_each_loss_decision_line():
    ns = LOSSES.get("ns")
    acc_r, acc_f = d_accuracy(ns, torch.tensor([1.0, -1.0]), torch.tensor([-2.0, -3.0]))
    assert (acc_r, acc_f) == (0.5, 1.0)
    ls = LOSSES.get("lsgan")  # targets 1 real / 0 fake: the line is at 0.5
    acc_r, acc_f = d_accuracy(ls, torch.tensor([0.9, 0.4]), torch.tensor([0.6, 0.1]))
    assert (acc_r, acc_f) == (0.5, 0.5)
