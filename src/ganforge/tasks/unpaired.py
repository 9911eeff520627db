"""The `unpaired` task: CycleGAN (Zhu et al. 2017). Two domains, no pairs: G_AB turns A into B, G_BA turns
B into A, and each is kept honest by the other: G_BA(G_AB(a)) must give a back (the cycle loss, lambda =
`task.cycle_weight`, 10), and a B image fed to G_AB should pass unchanged (the identity loss,
`task.identity_weight` x lambda, 0.5 x 10, which keeps colours and layout). Two PatchGAN critics D_A, D_B
(nets/cycle.py stacks the pairs into one G and one D for the trainer); the paper uses the LSGAN loss
(`loss.name=lsgan` in the recipe).

D judges fakes from a history of `task.pool_size` (50) past fakes, half the time (Shrivastava et al.
2017, CycleGAN sec. 4): it then cannot chase G's latest move alone, which damps oscillation. The pool's
draws come from the data generator and the pool is part of the checkpoint, so runs resume exactly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..config import DataConfig, RunConfig
from ..data.images import to_float
from ..errors import ConfigError
from ..nets import Discriminator, Generator, build_d, build_g
from ..nets.cycle import CycleDiscriminator, CycleGenerator
from .base import TASKS, Batch, Noise, TaskDefaults


class HistoryPool:
    """Up to `size` past fakes on the device. Each new fake is stored while there is room; once full,
    with probability 1/2 D gets a stored fake instead and the new one takes its place."""

    def __init__(self, size: int, device: torch.device) -> None:
        self.size = size
        self.device = device
        self.images: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.images is None else len(self.images)

    def __call__(self, fake: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if self.size == 0:
            return fake
        n = len(fake)
        swap = torch.rand(n, generator=gen) < 0.5  # drawn every step, full or not: a fixed stream
        slot = torch.randint(self.size, (n,), generator=gen)
        out = fake.clone()
        for i in range(n):
            if len(self) < self.size:
                new = fake[i:i + 1].detach().clone()
                self.images = new if self.images is None else torch.cat([self.images, new])
            elif swap[i]:
                j = int(slot[i])
                out[i] = self.images[j]  # type: ignore[index]
                self.images[j] = fake[i].detach()  # type: ignore[index]
        return out

    def state(self) -> dict[str, torch.Tensor]:
        return {} if self.images is None else {"pool": self.images}

    def load(self, tensors: Mapping[str, torch.Tensor], shape: tuple[int, ...]) -> None:
        extra = set(tensors) - {"pool"}
        if extra:
            raise ValueError(f"unknown task state {', '.join(sorted(extra))}")
        pool = tensors.get("pool")
        if pool is not None and (tuple(pool.shape[1:]) != shape or len(pool) > self.size):
            raise ValueError(f"the history pool holds {tuple(pool.shape)}, not up to {self.size} x {shape}")
        self.images = None if pool is None else pool.to(self.device, torch.float32)


@TASKS.register("unpaired")
class UnpairedTask(TaskDefaults):
    name = "unpaired"
    from_noise = False
    num_classes = 0
    stat_names: tuple[str, ...] = ("cycle", "identity")
    streams = 2  # A's rows and B's rows are drawn apart

    def __init__(self, data: Any, cycle_weight: float, identity_weight: float, pool_size: int,
                 device: torch.device) -> None:
        if data.kind != "unpaired":
            raise ConfigError(f"task.kind=unpaired needs two image domains; data.name={data.name} holds "
                              f"{data.kind} data")
        sa, sb = tuple(data.shape_a), tuple(data.shape_b)
        if sa[1:] != sb[1:]:
            raise ConfigError(f"{data.name}: A images {sa} and B images {sb} differ in size; set data.size")
        if identity_weight > 0 and sa[0] != sb[0]:
            raise ConfigError(f"{data.name}: the identity loss feeds B images to G_AB, but A has {sa[0]} "
                              f"channels and B {sb[0]}; set task.identity_weight=0 or data.channels")
        if cycle_weight < 0 or identity_weight < 0 or pool_size < 0:
            raise ConfigError("task.cycle_weight, task.identity_weight and task.pool_size must be >= 0")
        self.data = data
        self.device = device
        self.ca, self.cb = sa[0], sb[0]
        self.cycle_weight = cycle_weight
        self.identity_weight = identity_weight
        # the A -> B direction's output and input; the nets stack both directions (nets/cycle.py)
        self.shape: tuple[int, ...] = sb
        self.cond_shape: tuple[int, ...] = sa
        self.stacked: tuple[int, ...] = (sb[0] + sa[0], *sa[1:])  # what D judges: [b | a]
        self.pool = HistoryPool(pool_size, device)

    @classmethod
    def from_config(cls, data: Any, cfg: RunConfig, device: torch.device) -> UnpairedTask:
        t = cfg.task
        return cls(data, t.cycle_weight, t.identity_weight, t.pool_size, device)

    @staticmethod
    def load_data(cfg: DataConfig) -> Any:
        from ..data import build_unpaired

        return build_unpaired(cfg)

    @staticmethod
    def build_g(cfg: RunConfig, shape: tuple[int, ...], num_classes: int,
                cond_shape: tuple[int, ...]) -> Generator:
        """G_AB (A = `cond_shape` -> B = `shape`) and G_BA, both of `g.arch`."""
        return CycleGenerator(build_g(cfg.g, shape, 0, cond_shape), build_g(cfg.g, cond_shape, 0, shape))

    @staticmethod
    def build_d(cfg: RunConfig, shape: tuple[int, ...], num_classes: int,
                cond_shape: tuple[int, ...]) -> Discriminator:
        """D_A and D_B, both of `d.arch`, unconditional."""
        return CycleDiscriminator(build_d(cfg.d, cond_shape, 0, ()), build_d(cfg.d, shape, 0, ()))

    # --- batches and losses ----------------------------------------------------------------------
    def batch(self, n: int, rng: Mapping[str, torch.Generator], noise: Noise) -> Batch:
        a, b = self.data.sample(n, rng["data"], self.draws(0), self.draws(1))
        a, b = a.to(self.device), b.to(self.device)
        return Batch(z=noise(n, rng["noise"]), c_g=torch.cat([a, b], 1), real=torch.cat([b, a], 1),
                     c_d_real=None, c_d_fake=None)

    def g_batch(self, n: int, rng: Mapping[str, torch.Generator], noise: Noise) -> Batch:
        """G needs images of both domains, as a D step's batch has."""
        return self.batch(n, rng, noise)

    def swap(self, x: torch.Tensor, first: int) -> torch.Tensor:
        """[x1 | x2] -> [x2 | x1], x1 having `first` channels."""
        return torch.cat([x[:, first:], x[:, :first]], 1)

    def extra_g_loss(self, fake: torch.Tensor, batch: Batch, g: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """cycle_weight * (mean |G_BA(G_AB(a)) - a|, |G_AB(G_BA(b)) - b| averaged) + identity_weight *
        cycle_weight * (the same for G_AB(b) vs b, G_BA(a) vs a): CycleGAN's weights, halved along
        with its adversarial sum (nets/cycle.py)."""
        if batch.real is None or batch.c_g is None:
            raise ValueError("an unpaired batch carries both domains' images")
        back = g(batch.z, self.swap(fake, self.cb))  # [G_AB(fake_a) | G_BA(fake_b)] = [rec_b | rec_a]
        cycle = (back.float() - batch.real.float()).abs().mean()
        loss, stats = self.cycle_weight * cycle, {"cycle": cycle.item(), "identity": 0.0}
        if self.identity_weight > 0:
            same = g(batch.z, batch.real)  # [G_AB(b) | G_BA(a)], which should be [b | a]
            idt = (same.float() - batch.real.float()).abs().mean()
            loss = loss + self.identity_weight * self.cycle_weight * idt
            stats["identity"] = idt.item()
        return loss, stats

    def d_fakes(self, fake: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return self.pool(fake, gen)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {**super().state_tensors(), **self.pool.state()}

    def load_state_tensors(self, tensors: Mapping[str, torch.Tensor]) -> None:
        """The history pool (`pool`) and the samplers' positions (`draws*`, TaskDefaults)."""
        self.pool.load({k: v for k, v in tensors.items() if not k.startswith("draws")}, self.stacked)
        super().load_state_tensors({k: v for k, v in tensors.items() if k.startswith("draws")})

    # --- what grids and scores show -------------------------------------------------------------
    def preview(self, n: int) -> dict[str, tuple[torch.Tensor, torch.Tensor | None]]:
        """Held-out images of each side (training images when none are held out) on the CPU, each
        with its ground truth in the other domain when the data knows it: {"AtoB": (a, b_true or
        None), "BtoA": (b, a_true or None)}."""
        data = self.data.test if self.data.test is not None else self.data
        truth_a, truth_b = data.a_truth, data.b_truth
        return {"AtoB": (to_float(data.a[:n]), None if truth_a is None else to_float(truth_a[:n])),
                "BtoA": (to_float(data.b[:n]), None if truth_b is None else to_float(truth_b[:n]))}

