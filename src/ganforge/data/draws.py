"""Which rows of a data set a batch takes (`train.sampler`).

`random` (the default): every index drawn uniformly, with replacement, from the data generator: the
classic GAN sampler, and what every run before this option did. `epoch`: a fresh permutation of all
rows per epoch, drawn from the data generator and consumed in order, so no row repeats within an epoch
and the order changes every epoch. Under torchrun every rank draws the same global batch and keeps its
own rows (training/distributed.py), so with `epoch` no two ranks ever share a row of an epoch. The
permutation and the position in it are part of the task's state in the checkpoint: runs resume exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import torch

from ..errors import ConfigError

SAMPLERS = ("random", "epoch")


class Draws(Protocol):
    """n row indices of a data set of `size` rows, drawn from `gen`; `state` / `load` carry what the
    checkpoint must keep."""

    def __call__(self, size: int, n: int, gen: torch.Generator) -> torch.Tensor: ...

    def state(self) -> dict[str, torch.Tensor]: ...

    def load(self, tensors: Mapping[str, torch.Tensor]) -> None: ...


class RandomDraws:
    """Uniform with replacement: no state."""

    def __call__(self, size: int, n: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randint(size, (n,), generator=gen)

    def state(self) -> dict[str, torch.Tensor]:
        return {}

    def load(self, tensors: Mapping[str, torch.Tensor]) -> None:
        if tensors:
            raise ValueError("the random sampler keeps no state: this checkpoint was trained with "
                             "train.sampler=epoch")


random_draws = RandomDraws()


class EpochDraws:
    """Without replacement within an epoch; a new permutation (from `gen`) when one is used up."""

    def __init__(self) -> None:
        self.perm: torch.Tensor | None = None
        self.pos = 0
        self.epochs = 0  # permutations drawn so far

    def __call__(self, size: int, n: int, gen: torch.Generator) -> torch.Tensor:
        if size < 1:
            raise ValueError("cannot draw rows of an empty data set")
        out = []
        while n > 0:
            if self.perm is None or len(self.perm) != size or self.pos >= size:
                self.perm, self.pos = torch.randperm(size, generator=gen), 0
                self.epochs += 1
            take = self.perm[self.pos:self.pos + n]
            self.pos += len(take)
            n -= len(take)
            out.append(take)
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.int64)

    def state(self) -> dict[str, torch.Tensor]:
        if self.perm is None:
            return {}
        return {"perm": self.perm, "pos": torch.tensor([self.pos, self.epochs], dtype=torch.int64)}

    def load(self, tensors: Mapping[str, torch.Tensor]) -> None:
        if not tensors:
            self.perm, self.pos, self.epochs = None, 0, 0
            return
        if set(tensors) != {"perm", "pos"} or tensors["pos"].numel() != 2:
            raise ValueError(f"epoch sampler state must be 'perm' and 'pos', got "
                             f"{', '.join(sorted(tensors))}")
        self.perm = tensors["perm"].to(torch.int64)
        self.pos, self.epochs = (int(v) for v in tensors["pos"].tolist())


def make_draws(sampler: str) -> Draws:
    """The draws `train.sampler` names (a fresh state for `epoch`)."""
    if sampler == "random":
        return RandomDraws()
    if sampler == "epoch":
        return EpochDraws()
    raise ConfigError(f"unknown train.sampler {sampler!r} (known: {', '.join(SAMPLERS)})")
