"""GP and R1 against closed forms (linear critics) and central finite differences."""

import pytest
import torch
from torch import nn

from ganforge.penalties import PENALTIES


class Packed(nn.Module):
    def __init__(self, net: nn.Module, pack: int = 1):
        super().__init__()
        self.net, self.pack = net, pack

    def forward(self, x):
        return self.net(x.reshape(x.shape[0] // self.pack, -1)).squeeze(1)


def linear_critic(w, pack=1):
    lin = nn.Linear(len(w), 1).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([w], dtype=torch.float64))
        lin.bias.fill_(0.3)
    return Packed(lin, pack)


@pytest.mark.parametrize("pack", [1, 2])
def test_closed_form_on_linear_critic(pack):
    w = [0.5, -1.5, 2.0, 0.25][: 2 * pack]
    d = linear_critic(w, pack)
    real = torch.randn(8, 2, dtype=torch.float64)
    fake = torch.randn(8, 2, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    norm = sum(v * v for v in w) ** 0.5
    gp = PENALTIES.get("gp")(d, real, fake, gen, pack).item()
    r1 = PENALTIES.get("r1")(d, real, fake, gen, pack).item()
    assert gp == pytest.approx((norm - 1) ** 2, rel=1e-9)
    assert r1 == pytest.approx(0.5 * norm**2, rel=1e-9)


def _fd_grad_norms(d, x, pack, h=1e-5):
    """||dD/dx|| per packed input by central differences, one coordinate at a time."""
    n_out = x.shape[0] // pack
    sq = torch.zeros(n_out, dtype=torch.float64)
    with torch.no_grad():
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                xp, xm = x.clone(), x.clone()
                xp[i, j] += h
                xm[i, j] -= h
                g = (d(xp) - d(xm)) / (2 * h)
                sq[i // pack] += g[i // pack] ** 2
    return sq.sqrt()


@pytest.mark.parametrize("pack", [1, 2])
def test_against_finite_differences_on_nonlinear_critic(pack):
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(2 * pack, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    d = Packed(net, pack)
    real = torch.randn(6, 2, dtype=torch.float64)
    fake = torch.randn(6, 2, dtype=torch.float64)

    r1 = PENALTIES.get("r1")(d, real, fake, torch.Generator().manual_seed(0), pack).item()
    want_r1 = 0.5 * (_fd_grad_norms(d, real, pack) ** 2).mean().item()
    assert r1 == pytest.approx(want_r1, rel=1e-6)

    gen = torch.Generator().manual_seed(5)
    gp = PENALTIES.get("gp")(d, real, fake, gen, pack).item()
    # Re-draw the same interpolation weights independently of the implementation.
    eps = torch.rand(6 // pack, 1, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    eps = eps.repeat_interleave(pack, 0)
    x_hat = eps * real + (1 - eps) * fake
    want_gp = ((_fd_grad_norms(d, x_hat, pack) - 1) ** 2).mean().item()
    assert gp == pytest.approx(want_gp, rel=1e-6)


def test_penalty_gradient_reaches_critic_weights():
    d = linear_critic([3.0, 4.0])
    real = torch.randn(4, 2, dtype=torch.float64)
    pen = PENALTIES.get("gp")(d, real, real + 1, torch.Generator().manual_seed(0))
    pen.backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = 2 * 4 * (0.6, 0.8)
    assert d.net.weight.grad.squeeze().tolist() == pytest.approx([4.8, 6.4], rel=1e-9)
