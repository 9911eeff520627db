"""The `paired` task: pix2pix (Isola et al. 2017). G(z, a) translates an input image a into b's domain;
D(x, a) judges x as the partner of a (real pairs (a, b) vs fake pairs (a, G(z, a))); G also pays
`task.l1_weight` * mean |G(z, a) - b| (the paper's eq. 4, lambda = 100), so it follows the target
while the adversarial term keeps the output sharp. z is U-Net's dropout noise (nets/unet.py), drawn
from the noise generator: no hidden randomness, so runs resume exactly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..config import DataConfig, RunConfig
from ..errors import ConfigError
from .base import TASKS, Batch, Noise, TaskDefaults


@TASKS.register("paired")
class PairedTask(TaskDefaults):
    name = "paired"
    from_noise = False
    num_classes = 0
    stat_names: tuple[str, ...] = ("l1",)

    def __init__(self, data: Any, l1_weight: float, device: torch.device) -> None:
        if data.kind != "paired":
            from ..data.pairs import PAIRED_SETS

            raise ConfigError(f"task.kind=paired needs aligned pairs; data.name={data.name} holds "
                              f"{data.kind} data (paired sets: {', '.join(PAIRED_SETS.names())})")
        if data.shape_a[1:] != data.shape_b[1:]:
            raise ConfigError(f"{data.name}: inputs {data.shape_a} and targets {data.shape_b} differ in "
                              "size; set data.size")
        self.data = data
        self.device = device
        self.l1_weight = l1_weight
        self.shape: tuple[int, ...] = tuple(data.shape_b)
        self.cond_shape: tuple[int, ...] = tuple(data.shape_a)

    @classmethod
    def from_config(cls, data: Any, cfg: RunConfig, device: torch.device) -> PairedTask:
        return cls(data, cfg.task.l1_weight, device)

    @staticmethod
    def load_data(cfg: DataConfig) -> Any:
        from ..data import build_paired

        return build_paired(cfg)

    def pairs(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n aligned (input, target) pairs on the device; one index draw serves both."""
        a, b = self.data.sample(n, gen, self.draws())
        return a.to(self.device), b.to(self.device)

    def preview(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first n held-out (input, target) pairs on the CPU (training pairs when none are held out):
        what image grids show."""
        from ..data.images import to_float

        data = self.data.test if self.data.test is not None else self.data
        return to_float(data.a[:n]), to_float(data.b[:n])

    def batch(self, n: int, rng: Mapping[str, torch.Generator], noise: Noise) -> Batch:
        a, b = self.pairs(n, rng["data"])
        return Batch(z=noise(n, rng["noise"]), c_g=a, real=b, c_d_real=a, c_d_fake=a, target=b)

    def g_batch(self, n: int, rng: Mapping[str, torch.Generator], noise: Noise) -> Batch:
        """G needs inputs with their targets: a fresh batch of pairs, like a D step's."""
        return self.batch(n, rng, noise)

    def extra_g_loss(self, fake: torch.Tensor, batch: Batch, g: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """l1_weight * mean |fake - target|; the statistic `l1` is the unweighted mean."""
        if batch.target is None:
            raise ValueError("a paired batch carries its target")
        l1 = (fake.float() - batch.target.float()).abs().mean()
        return self.l1_weight * l1, {"l1": l1.item()}
