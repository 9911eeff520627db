"""CycleGAN's pair of translators and pair of critics (Zhu et al. 2017) behind the one-G, one-D contract.

The trainer holds one G and one D; the unpaired task hands it these wrappers, so every loss, penalty,
EMA, precision, checkpoint and exact resume of the trainer applies to CycleGAN unchanged. Images of the
two domains travel stacked on the channel axis:

    G(z, [a | b]) = [G_AB(a) | G_BA(b)]      (fake B first, then fake A: what D's halves judge)
    D([x_b | x_a]) = [D_B(x_b) | D_A(x_a)]    (patch scores side by side)

With both directions in one tensor, one call of G is one CycleGAN generator pass, and the mean of D's
patch scores is the mean of the two critics' losses: CycleGAN's objective (the sum of both directions)
times 1/2, which Adam's step does not see. `ab` and `ba` are ordinary image-conditioned generators:
translating one way (`translate --direction`, serving, export) uses one of them alone.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError
from .contract import Discriminator, DOut, Generator, NetSpec

DIRECTIONS = ("AtoB", "BtoA")


class CycleGenerator(Generator):
    """Two translators: `ab` (A -> B) and `ba` (B -> A); z is ab's noise, then ba's."""

    supports_images = True

    def __init__(self, ab: Generator, ba: Generator) -> None:
        super().__init__()
        sa, sb = ab.spec, ba.spec
        if sa.cond != "image" or sb.cond != "image":
            raise ConfigError("CycleGAN's generators translate images: both need an input image")
        if sa.cond_shape != sb.data_shape or sb.cond_shape != sa.data_shape:
            raise ConfigError(f"A -> B {sa.cond_shape} -> {sa.data_shape} and B -> A {sb.cond_shape} -> "
                              f"{sb.data_shape} must mirror each other")
        self.ab, self.ba = ab, ba
        self.ca, self.cb = sa.cond_shape[0], sa.data_shape[0]
        side = tuple(sa.data_shape[1:])
        self.spec = NetSpec((self.cb + self.ca, *side), z_dim=sa.z_dim + sb.z_dim, cond="image",
                            cond_shape=(self.ca + self.cb, *side))

    def direction(self, name: str) -> Generator:
        """The translator for "AtoB" or "BtoA"."""
        if name not in DIRECTIONS:
            raise ConfigError(f"direction must be AtoB or BtoA, not {name!r}")
        return self.ab if name == "AtoB" else self.ba

    def split_input(self, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[a | b] -> (a, b)."""
        return c[:, :self.ca], c[:, self.ca:]

    def split_output(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[fake_b | fake_a] -> (fake_b, fake_a)."""
        return y[:, :self.cb], y[:, self.cb:]

    def forward(self, z: torch.Tensor | None, c: torch.Tensor | None = None) -> torch.Tensor:
        self.check_condition(c)
        a, b = self.split_input(c)  # type: ignore[arg-type]
        k = self.ab.spec.z_dim
        za = None if z is None or not k else z[:, :k]
        zb = None if z is None or not self.ba.spec.z_dim else z[:, k:]
        return torch.cat([self.ab(za, a), self.ba(zb, b)], 1)


class CycleDiscriminator(Discriminator):
    """Two unconditional critics: `d_b` judges the first `cb` channels (B images), `d_a` the rest."""

    supports_images = True

    def __init__(self, d_a: Discriminator, d_b: Discriminator) -> None:
        super().__init__()
        if d_a.spec.cond != "none" or d_b.spec.cond != "none" or d_a.spec.pack != 1 or d_b.spec.pack != 1:
            raise ConfigError("CycleGAN's critics judge one image each, with no condition")
        self.d_a, self.d_b = d_a, d_b
        self.cb = d_b.spec.data_shape[0]
        sa, sb = d_a.spec.data_shape, d_b.spec.data_shape
        self.spec = NetSpec((sb[0] + sa[0], *sb[1:]))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> DOut:
        out_b, out_a = self.d_b(x[:, :self.cb]), self.d_a(x[:, self.cb:])
        return DOut(torch.cat([out_b.score.reshape(len(x), -1), out_a.score.reshape(len(x), -1)], 1))
