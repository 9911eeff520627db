"""The `generate` task: G maps noise (and optionally a class) to a sample; D judges samples.

Unconditional: G(z, None), D(x, None). Class-conditional (train.conditional): real samples come
with their labels; fakes get labels drawn uniformly from the noise generator; D sees each sample
with its label. Random draws keep one order (data: the real batch; noise: the fakes' labels, then
z), so runs give the same numbers as before tasks had batches."""

from __future__ import annotations

from typing import Any

import torch

from ..config import DataConfig, RunConfig
from ..device import draw_int
from ..errors import ConfigError
from ..nets import Discriminator, Generator
from ..nets.progressive import ProgressiveDCGANDiscriminator, ProgressiveDCGANGenerator
from .base import TASKS, Batch, FromNoise, TaskDefaults


@TASKS.register("generate")
class GenerateTask(FromNoise, TaskDefaults):
    name = "generate"
    from_noise = True
    cond_shape: tuple[int, ...] = ()
    stat_names: tuple[str, ...] = ()

    def __init__(self, data: Any, conditional: bool, device: torch.device) -> None:
        if data.kind in ("paired", "unpaired"):
            raise ConfigError(f"data.name={data.name} holds {data.kind} images: set task.kind={data.kind}")
        self.data = data
        self.device = device
        self.shape = tuple(data.shape)
        self.num_classes = data.num_classes if conditional else 0
        if conditional and not self.num_classes:
            raise ConfigError(f"train.conditional needs labelled data; {data.name} has none")

    @property
    def class_names(self) -> tuple[str, ...]:
        """The data's names of the classes G takes (checkpoints keep them for the server and the
        export); () when unconditional or when the data names no classes."""
        if not self.num_classes:  # labelled data is an image set: it has `classes`
            return ()
        names = tuple(str(c) for c in self.data.classes)
        return names if len(names) == self.num_classes else ()

    @classmethod
    def from_config(cls, data: Any, cfg: RunConfig, device: torch.device) -> GenerateTask:
        return cls(data, cfg.train.conditional, device)

    @staticmethod
    def build_g(cfg: RunConfig, shape: tuple[int, ...], num_classes: int,
                cond_shape: tuple[int, ...]) -> Generator:
        """train.progressive > 0: the growing DCGAN G (nets/progressive.py), else g.arch's."""
        if cfg.train.progressive:
            return ProgressiveDCGANGenerator(cfg.g, shape, num_classes)
        return TaskDefaults.build_g(cfg, shape, num_classes, cond_shape)

    @staticmethod
    def build_d(cfg: RunConfig, shape: tuple[int, ...], num_classes: int,
                cond_shape: tuple[int, ...]) -> Discriminator:
        if cfg.train.progressive:
            return ProgressiveDCGANDiscriminator(cfg.d, shape, num_classes)
        return TaskDefaults.build_d(cfg, shape, num_classes, cond_shape)

    @staticmethod
    def load_data(cfg: DataConfig) -> Any:
        from ..data import build_data

        return build_data(cfg)

    def real(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n real samples for D, on the device, and D's condition for them."""
        # data draws stay on the CPU (where the data set lives, uint8 for images); the batch moves
        # (a plain copy: non_blocking copies of a temporary CPU tensor are unsafe on MPS)
        if self.num_classes:
            x, y = self.data.sample_labeled(n, gen, self.draws())
            return x.to(self.device), y.to(self.device)
        return self.data.sample(n, gen, self.draws()).to(self.device), None

    def condition(self, n: int, gen: torch.Generator) -> torch.Tensor | None:
        """G's condition for n fakes (also D's condition when it judges them)."""
        if not self.num_classes:
            return None
        return draw_int(self.num_classes, (n,), gen, self.device)

    def extra_g_loss(self, fake: torch.Tensor, batch: Batch, g: Any) -> tuple[float, dict[str, float]]:
        return 0.0, {}
