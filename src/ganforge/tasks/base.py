"""What a task hands the trainer: one `Batch` per step and an extra loss for G.

A task is the only place that knows how G's inputs and D's inputs are made for its kind of problem;
the trainer calls `batch` / `g_batch` / `extra_g_loss` / `d_fakes` and never asks which kind it holds.
`TaskDefaults` gives the usual answers (one G and one D from the config, D judging G's latest output,
no state of the task's own); a task overrides what it does differently (CycleGAN: two of each, a
history of fakes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

import torch

from ..config import RunConfig
from ..data.draws import Draws, make_draws, random_draws
from ..nets import Discriminator, Generator, build_d, build_g
from ..registry import Registry

# (n, generator) -> G's noise for n samples, or None when G takes none (the trainer's `noise`)
Noise = Callable[[int, torch.Generator], torch.Tensor | None]


class Batch(NamedTuple):
    """One step's tensors, on the run's device. `z`, `c_g`: G's inputs. `real`, `c_d_real`: D's real
    samples and their condition (None in a batch made for G alone). `c_d_fake`: D's condition for G's
    output. `target`: what G's output should equal (paired tasks), else None."""

    z: torch.Tensor | None
    c_g: torch.Tensor | None
    real: torch.Tensor | None
    c_d_real: torch.Tensor | None
    c_d_fake: torch.Tensor | None
    target: torch.Tensor | None = None


class Task(Protocol):
    """What the trainer asks of a task. `shape`: one sample of G's output (what D judges);
    `cond_shape`: G's input image (C, H, W), () when G takes none; `stat_names`: the keys that
    `extra_g_loss` adds to a step's statistics; `from_noise`: G makes samples from noise alone (what
    the health quality checks, image grids and metrics of generation need). A task with classes
    (`num_classes` > 0) also gives `class_names` (the data's names, or ()): checkpoints keep them."""

    name: str
    from_noise: bool
    num_classes: int
    shape: tuple[int, ...]
    cond_shape: tuple[int, ...]
    stat_names: tuple[str, ...]

    def batch(self, n: int, rng: Mapping[str, torch.Generator], noise: Noise) -> Batch:
        """A D step's batch: real samples (the `data` generator first), then G's inputs."""
        ...

    def g_batch(self, n: int, rng: Mapping[str, torch.Generator], noise: Noise) -> Batch:
        """A G step's batch when no D step kept one (`real` may be None)."""
        ...

    def extra_g_loss(self, fake: torch.Tensor, batch: Batch,
                     g: Generator) -> tuple[torch.Tensor | float, dict[str, float]]:
        """The task's own term in G's loss (already weighted) and its statistics; `g` may be run
        again (CycleGAN's cycle and identity terms)."""
        ...

    def d_fakes(self, fake: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """The fakes D judges in its step, given G's latest (detached) batch."""
        ...

    def use_sampler(self, name: str) -> None:
        """`train.sampler`: how rows of the task's data are drawn (data/draws.py)."""
        ...

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The task's own training state, for the checkpoint (exact resume)."""
        ...

    def load_state_tensors(self, tensors: Mapping[str, torch.Tensor]) -> None:
        """Take back what `state_tensors` gave (tensors on the CPU)."""
        ...


class TaskDefaults:
    """The answers most tasks give: one G and one D built from the config's `g` / `d`, D judging
    G's latest fakes, no state of the task's own. Builders are static: loading a checkpoint's G
    needs no data (`TASKS.get(kind).build_g(...)`)."""

    streams = 1  # data streams whose rows are drawn (CycleGAN: A and B)
    _draws: tuple[Draws, ...] = ()

    def use_sampler(self, name: str) -> None:
        """`train.sampler`: random (with replacement) or epoch (a permutation per epoch), one per stream."""
        self._draws = tuple(make_draws(name) for _ in range(self.streams))

    def draws(self, stream: int = 0) -> Draws:
        return self._draws[stream] if self._draws else random_draws

    @staticmethod
    def build_g(cfg: RunConfig, shape: tuple[int, ...], num_classes: int,
                cond_shape: tuple[int, ...]) -> Generator:
        return build_g(cfg.g, shape, num_classes, cond_shape)

    @staticmethod
    def build_d(cfg: RunConfig, shape: tuple[int, ...], num_classes: int,
                cond_shape: tuple[int, ...]) -> Discriminator:
        return build_d(cfg.d, shape, num_classes, cond_shape)

    def d_fakes(self, fake: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return fake

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The samplers' positions (train.sampler=epoch), as `draws{i}.perm` / `draws{i}.pos`."""
        return {f"draws{i}.{k}": v for i, d in enumerate(self._draws) for k, v in d.state().items()}

    def load_state_tensors(self, tensors: Mapping[str, torch.Tensor]) -> None:
        own = {f"draws{i}" for i in range(len(self._draws))}
        extra = sorted(k for k in tensors if k.split(".")[0] not in own)
        if extra:
            raise ValueError(f"unknown task state {', '.join(extra)}")
        for i, d in enumerate(self._draws):
            head = f"draws{i}."
            d.load({k[len(head):]: v for k, v in tensors.items() if k.startswith(head)})


TASKS: Registry[Any] = Registry("task")


class FromNoise:
    """Sampling tasks (generate, table): D's batch is `real(n)` (the data draw first) and fakes made
    from noise with `condition(n)`; G's batch has the fakes alone. The subclass gives `real` and
    `condition`."""

    def real(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def condition(self, n: int, gen: torch.Generator) -> torch.Tensor | None:
        raise NotImplementedError

    def batch(self, n: int, rng: Mapping[str, torch.Generator], noise: Noise) -> Batch:
        real, c_real = self.real(n, rng["data"])
        return self._fakes(n, rng, noise)._replace(real=real, c_d_real=c_real)

    def g_batch(self, n: int, rng: Mapping[str, torch.Generator], noise: Noise) -> Batch:
        return self._fakes(n, rng, noise)

    def _fakes(self, n: int, rng: Mapping[str, torch.Generator], noise: Noise) -> Batch:
        c = self.condition(n, rng["noise"])
        return Batch(z=noise(n, rng["noise"]), c_g=c, real=None, c_d_real=None, c_d_fake=c)
