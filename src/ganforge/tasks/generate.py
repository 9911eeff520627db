"""The `generate` task: G maps noise (and optionally a class) to a sample; D judges samples.

Unconditional: G(z, None), D(x, None). Class-conditional (train.conditional): real samples come
with their labels; fakes get labels drawn uniformly from the noise generator; D sees each sample
with its label."""

from __future__ import annotations

from typing import Any, Protocol

import torch

from ..device import draw_int
from ..errors import ConfigError
from ..registry import Registry


class Task(Protocol):
    """What the trainer asks of a task."""

    name: str
    num_classes: int

    def real(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n real samples for D, on the device, and D's condition for them."""
        ...

    def condition(self, n: int, gen: torch.Generator) -> torch.Tensor | None:
        """G's condition for n fakes (also D's condition when it judges them)."""
        ...


TASKS: Registry[Any] = Registry("task")


@TASKS.register("generate")
class GenerateTask:
    name = "generate"

    def __init__(self, data: Any, conditional: bool, device: torch.device) -> None:
        self.data = data
        self.device = device
        self.num_classes = data.num_classes if conditional else 0
        if conditional and not self.num_classes:
            raise ConfigError(f"train.conditional needs labelled data; {data.name} has none")

    def real(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        # data draws stay on the CPU (where the data set lives, uint8 for images); the batch moves
        # (a plain copy: non_blocking copies of a temporary CPU tensor are unsafe on MPS)
        if self.num_classes:
            x, y = self.data.sample_labeled(n, gen)
            return x.to(self.device), y.to(self.device)
        return self.data.sample(n, gen).to(self.device), None

    def condition(self, n: int, gen: torch.Generator) -> torch.Tensor | None:
        if not self.num_classes:
            return None
        return draw_int(self.num_classes, (n,), gen, self.device)
