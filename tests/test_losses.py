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


def test_ragan_matches_the_relativistic_average_formula():
    """Jolicoeur-Martineau 2018 / ESRGAN eq. 1-2 with D_Ra(a, b) = sigmoid(C(a) - E[C(b)])."""
    loss = LOSSES.get("ragan")
    r = torch.tensor(R, dtype=torch.float64)
    f = torch.tensor(F, dtype=torch.float64)
    ra_r = [sig(x - mean(F)) for x in R]  # real vs the average fake
    ra_f = [sig(x - mean(R)) for x in F]  # fake vs the average real
    want_d = -mean(math.log(p) for p in ra_r) - mean(math.log(1 - p) for p in ra_f)
    want_g = -mean(math.log(1 - p) for p in ra_r) - mean(math.log(p) for p in ra_f)
    assert loss.d(r, f).item() == pytest.approx(want_d, rel=1e-12)
    assert loss.g_real(f, r).item() == pytest.approx(want_g, rel=1e-12)
    assert LOSSES.get("ns").g_real is None


def test_a_relativistic_superres_run_trains_and_its_g_reads_real_scores():
    from ganforge import config
    from ganforge.training import Trainer

    cfg = config.load("configs/sr-x4.yaml", ["loss.name=ragan", "g.width=4", "g.depth=1", "d.width=4",
                                             "train.batch_size=2", "data.size=32", "task.pretrain_steps=1",
                                             "train.augment=translation"])
    t = Trainer(cfg)
    stats = [t.train_step() for _ in range(3)]
    assert stats[0]["loss_d"] == 0.0 and stats[-1]["loss_d"] > 0  # pre-training, then adversarial
    assert all(math.isfinite(s["loss_g"]) for s in stats)
