"""Adversarial losses as pure functions of D's raw outputs (logits / critic scores).

Each loss is a pair: `d(real, fake) -> loss_d` and `g(fake) -> loss_g`, plus how to read D's
output as "probability that the input is real" (for D accuracy and the field plot).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .registry import Registry

Tensor = torch.Tensor


@dataclass(frozen=True)
class AdversarialLoss:
    name: str
    d: Callable[[Tensor, Tensor], Tensor]
    g: Callable[[Tensor], Tensor]
    prob: Callable[[Tensor], Tensor]  # D output -> P(real) in [0, 1], 0.5 on the decision line
    doc: str = ""
    # relativistic losses: G's loss also reads D's scores of real samples, g_real(fake, real); then
    # the trainer runs the (frozen) D on the step's real batch and calls this instead of `g`
    g_real: Callable[[Tensor, Tensor], Tensor] | None = None


LOSSES: Registry[AdversarialLoss] = Registry("loss")


def _add(loss: AdversarialLoss) -> None:
    LOSSES.register(loss.name)(loss)


# Goodfellow et al. 2014, "Generative Adversarial Nets", eq. 1. With D(x) = sigmoid(o):
#   D maximises log D(x) + log(1 - D(G(z)))   ->  loss_d = softplus(-o_r) + softplus(o_f)
#   G minimises log(1 - D(G(z)))               ->  loss_g = -softplus(o_f)   (saturates early on)
_add(AdversarialLoss(
    "minimax",
    d=lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(),
    g=lambda f: -F.softplus(f).mean(),
    prob=torch.sigmoid,
    doc="saturating minimax loss of the original GAN paper",
))

# Same paper, section 3: G maximises log D(G(z)) instead -> loss_g = softplus(-o_f).
_add(AdversarialLoss(
    "ns",
    d=lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(),
    g=lambda f: F.softplus(-f).mean(),
    prob=torch.sigmoid,
    doc="non-saturating loss (Goodfellow et al. 2014, section 3)",
))

# Mao et al. 2017, "Least Squares GANs", eq. 2 with a=0 (fake), b=1 (real), c=1.
_add(AdversarialLoss(
    "lsgan",
    d=lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(),
    g=lambda f: 0.5 * ((f - 1) ** 2).mean(),
    prob=lambda o: o.clamp(0, 1),
    doc="least-squares loss, targets 0 fake / 1 real (Mao et al. 2017)",
))

# Lim & Ye 2017 / Miyato et al. 2018: D uses the hinge, G the raw critic.
_add(AdversarialLoss(
    "hinge",
    d=lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(),
    g=lambda f: -f.mean(),
    prob=torch.sigmoid,
    doc="hinge loss (Lim & Ye 2017; Miyato et al. 2018)",
))

# Arjovsky et al. 2017, "Wasserstein GAN": the critic maximises E[o_r] - E[o_f].
# Needs a Lipschitz constraint: loss.clip (weight clipping), loss.penalty=gp, or spectral norm.
_add(AdversarialLoss(
    "wasserstein",
    d=lambda r, f: f.mean() - r.mean(),
    g=lambda f: -f.mean(),
    prob=torch.sigmoid,
    doc="Wasserstein critic loss (Arjovsky et al. 2017); pair with clip, gp or spectral norm",
))

# Jolicoeur-Martineau 2018, "The relativistic discriminator", RaGAN; ESRGAN's D (Wang et al. 2018,
# eq. 1-2): D estimates how much more real a real sample is than the average fake, and vice versa.
_add(AdversarialLoss(
    "ragan",
    d=lambda r, f: F.softplus(-(r - f.mean())).mean() + F.softplus(f - r.mean()).mean(),
    g=lambda f: F.softplus(-f).mean(),  # only where no real scores exist (never in a trainer step)
    prob=torch.sigmoid,
    doc="relativistic average GAN loss (Jolicoeur-Martineau 2018), ESRGAN's",
    g_real=lambda f, r: F.softplus(r - f.mean()).mean() + F.softplus(-(f - r.mean())).mean(),
))


def d_accuracy(loss: AdversarialLoss, real_out: Tensor, fake_out: Tensor) -> tuple[float, float]:
    """Share of real inputs D calls real, and of fake inputs it calls fake."""
    with torch.no_grad():
        acc_r = (loss.prob(real_out) > 0.5).float().mean().item()
        acc_f = (loss.prob(fake_out) < 0.5).float().mean().item()
    return acc_r, acc_f
