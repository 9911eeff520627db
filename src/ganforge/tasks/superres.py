"""The `superres` task: SRGAN / ESRGAN-style super-resolution (Ledig et al. 2017; Wang et al. 2018).

Targets are HR crops of a photo set (data/photos.py); G's input is each crop made `task.scale` x smaller
by `task.degrade` (data/superres.py), freshly for every batch and drawn from the data generator, so the
same crop comes with a new blur / noise / JPEG each time and runs still resume exactly. G(None, lr) -> hr;
D(x, lr) judges x with its input beside it (PatchGAN upsamples lr). G pays `task.l1_weight` *
mean |G(lr) - hr| (the content loss) on top of the adversarial term.

Pre-training (ESRGAN trains its PSNR-oriented net first): for the first `task.pretrain_steps` the
trainer runs no D step and gives G its task loss alone. That is the trainer's generic schedule, read
from the config and open to any task with a reconstruction loss; it never asks which task it holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..config import DataConfig, RunConfig
from ..data.images import to_float
from ..data.superres import build_photos, check_scale, degrade, parse_degrade
from ..errors import ConfigError
from .base import TASKS, Batch, Noise, TaskDefaults

PREVIEW_SEED = 0  # held-out inputs for grids and scores are degraded with this seed: the same every run


@TASKS.register("superres")
class SuperResTask(TaskDefaults):
    name = "superres"
    from_noise = False
    num_classes = 0
    stat_names: tuple[str, ...] = ("l1",)

    def __init__(self, data: Any, scale: int, degrade: str, l1_weight: float,
                 device: torch.device) -> None:
        if data.kind != "images" or len(data.shape) != 3:
            raise ConfigError(f"task.kind=superres needs photos; data.name={data.name} holds "
                              f"{data.kind} data")
        _, h, w = data.shape
        self.scale = check_scale(scale)
        if h % scale or w % scale:
            raise ConfigError(f"task.scale={scale} must divide the image size {h}x{w}; set data.size")
        self.stages = parse_degrade(degrade)
        self.data = data
        self.device = device
        self.l1_weight = l1_weight
        self.shape: tuple[int, ...] = tuple(data.shape)
        self.cond_shape: tuple[int, ...] = (data.shape[0], h // scale, w // scale)

    @classmethod
    def from_config(cls, data: Any, cfg: RunConfig, device: torch.device) -> SuperResTask:
        return cls(data, cfg.task.scale, cfg.task.degrade, cfg.task.l1_weight, device)

    @staticmethod
    def load_data(cfg: DataConfig) -> Any:
        return build_photos(cfg)

    def lowres(self, hr: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """G's inputs for HR images (n, C, H, W) in [-1, 1] on the CPU (random choices from `gen`)."""
        return degrade(hr, self.scale, self.stages, gen)

    def pairs(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n (input, target) pairs on the device: HR crops first, then their degradation, from `gen`."""
        hr = self.data.sample(n, gen, self.draws())
        return self.lowres(hr, gen).to(self.device), hr.to(self.device)

    def preview(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first n held-out (input, target) pairs on the CPU (training crops when none are held out),
        degraded with a fixed seed: the same pairs in every grid and score of every run."""
        src = self.data.test if self.data.test is not None else self.data
        hr = to_float(src.images[:n])
        return self.lowres(hr, torch.Generator().manual_seed(PREVIEW_SEED)), hr

    def batch(self, n: int, rng: Mapping[str, torch.Generator], noise: Noise) -> Batch:
        lr, hr = self.pairs(n, rng["data"])
        return Batch(z=noise(n, rng["noise"]), c_g=lr, real=hr, c_d_real=lr, c_d_fake=lr, target=hr)

    def g_batch(self, n: int, rng: Mapping[str, torch.Generator], noise: Noise) -> Batch:
        """G needs inputs with their targets: a fresh batch, like a D step's."""
        return self.batch(n, rng, noise)

    def extra_g_loss(self, fake: torch.Tensor, batch: Batch, g: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """The content loss l1_weight * mean |fake - target|; the statistic `l1` is the unweighted mean."""
        if batch.target is None:
            raise ValueError("a superres batch carries its target")
        l1 = (fake.float() - batch.target.float()).abs().mean()
        return self.l1_weight * l1, {"l1": l1.item()}
