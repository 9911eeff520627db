"""The one trainer: builds the parts a config names, knows the order of a step, runs the loop.

Everything random in training draws from one seeded `torch.Generator` per role (data, noise,
penalty), so a run is reproducible from its config and resumes exactly from a checkpoint.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from ..augment import build_augment
from ..config import OptConfig, RunConfig
from ..data import DataSource, build_data
from ..errors import ConfigError, GanforgeError
from ..losses import LOSSES, d_accuracy
from ..nets import build_d, build_g
from ..penalties import PENALTIES
from .ema import make_ema, update_ema

RNG_ROLES = ("data", "noise", "penalty", "augment")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
NOISES = ("normal", "uniform")
_ROLE_OFFSET = {"init": 0, "data": 1, "noise": 2, "penalty": 3, "eval": 4, "augment": 5}


class TrainingDiverged(GanforgeError):
    """A loss became NaN or infinite."""


def cpu_has_bf16() -> bool:
    """AVX512-BF16 or AMX: bf16 matrix work runs at ~3x the fp32 rate on such CPUs."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(name: str) -> str:
    if name == "auto":
        return "bf16" if cpu_has_bf16() else "fp32"
    return name


def role_seed(seed: int, role: str) -> int:
    """Distinct, stable seeds per role derived from the run seed."""
    return (seed * 1_000_003 + _ROLE_OFFSET[role]) % (2**63)


def make_noise(kind: str, n: int, dim: int, gen: torch.Generator) -> torch.Tensor:
    if kind == "normal":
        return torch.randn(n, dim, generator=gen)
    if kind == "uniform":
        return torch.rand(n, dim, generator=gen) * 2 - 1
    raise ConfigError(f"unknown noise distribution {kind!r} (known: {', '.join(NOISES)})")


def build_optimizer(cfg: OptConfig, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """adam (beta1, beta2), sgd (momentum = beta1) or rmsprop (alpha = beta2)."""
    if cfg.name == "adam":
        params = list(params)
        kw = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)
        try:  # the fused kernel: one call for all tensors, ~1/3 less time per step on small nets
            return torch.optim.Adam(params, fused=True, **kw)
        except (RuntimeError, TypeError, ValueError):
            return torch.optim.Adam(params, **kw)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.beta1,
                               weight_decay=cfg.weight_decay)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, alpha=cfg.beta2,
                                   weight_decay=cfg.weight_decay)
    raise ConfigError(f"unknown optimizer {cfg.name!r} (known: {', '.join(OPTIMIZERS)})")


def check_parts(cfg: RunConfig) -> None:
    """Resolve every part a config names, so a bad name fails before anything is built."""
    LOSSES.get(cfg.loss.name)
    if cfg.loss.penalty != "none":
        PENALTIES.get(cfg.loss.penalty)
    for key, oc in (("opt_g.name", cfg.opt_g), ("opt_d.name", cfg.opt_d)):
        if oc.name not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {oc.name!r} for {key} (known: {', '.join(OPTIMIZERS)})")
    if cfg.g.noise not in NOISES:
        raise ConfigError(f"unknown noise distribution {cfg.g.noise!r} (known: {', '.join(NOISES)})")


def _apply_opt_settings(opt: torch.optim.Optimizer, cfg: OptConfig) -> None:
    for group in opt.param_groups:
        group["lr"] = cfg.lr
        group["weight_decay"] = cfg.weight_decay
        if isinstance(opt, torch.optim.Adam):
            group["betas"] = (cfg.beta1, cfg.beta2)
        elif isinstance(opt, torch.optim.SGD):
            group["momentum"] = cfg.beta1
        elif isinstance(opt, torch.optim.RMSprop):
            group["alpha"] = cfg.beta2


def _grad_norm(params: Iterable[nn.Parameter]) -> float:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    return float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))))


class Trainer:
    """Holds the nets, optimisers and RNGs of one run; `train_step()` does one G update."""

    def __init__(self, cfg: RunConfig, data: DataSource | None = None) -> None:
        check_parts(cfg)
        self.cfg = cfg
        self.data = data if data is not None else build_data(cfg.data)
        self.loss = LOSSES.get(cfg.loss.name)
        self.penalty = None if cfg.loss.penalty == "none" else PENALTIES.get(cfg.loss.penalty)
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        self.num_classes = self.data.num_classes if cfg.train.conditional else 0
        if cfg.train.conditional and not self.num_classes:
            raise ConfigError(f"train.conditional needs labelled data; {cfg.data.name} has none")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(role_seed(cfg.seed, "init"))
            self.g = build_g(cfg.g, self.data.shape, self.num_classes)
            self.d = build_d(cfg.d, self.data.shape, self.num_classes)
        self.acgan = self.num_classes > 0 and cfg.d.cond == "acgan"
        self.augment = build_augment(cfg.train.augment)
        if self.augment is not None and len(self.data.shape) != 3:
            raise ConfigError("train.augment (DiffAugment) needs image data")
        self.precision = resolve_precision(cfg.train.precision)
        self.channels_last = cfg.train.channels_last and len(self.data.shape) == 3
        if self.channels_last:
            self.g.to(memory_format=torch.channels_last)
            self.d.to(memory_format=torch.channels_last)
        self.g_ema = make_ema(self.g) if cfg.train.ema > 0 else None
        self.opt_g = build_optimizer(cfg.opt_g, self.g.parameters())
        self.opt_d = build_optimizer(cfg.opt_d, self.d.parameters())
        self.rng = {r: torch.Generator().manual_seed(role_seed(cfg.seed, r)) for r in RNG_ROLES}
        self.step = 0
        self.diverged = False
        self._fake_for_g: tuple[torch.Tensor, torch.Tensor | None] | None = None

    # --- hyper-parameters that may change between steps (resume with --set, the lab) --------
    def update_config(self, cfg: RunConfig) -> None:
        """Adopt settings that do not change the nets' shapes, from the next step on."""
        old = self.cfg
        self.cfg = cfg
        self.loss = LOSSES.get(cfg.loss.name)
        self.penalty = None if cfg.loss.penalty == "none" else PENALTIES.get(cfg.loss.penalty)
        if cfg.opt_g.name != old.opt_g.name:  # another optimiser: fresh state, same weights
            self.opt_g = build_optimizer(cfg.opt_g, self.g.parameters())
        if cfg.opt_d.name != old.opt_d.name:
            self.opt_d = build_optimizer(cfg.opt_d, self.d.parameters())
        _apply_opt_settings(self.opt_g, cfg.opt_g)
        _apply_opt_settings(self.opt_d, cfg.opt_d)
        if cfg.train.ema > 0 and self.g_ema is None:
            self.g_ema = make_ema(self.g)

    # --- the step ------------------------------------------------------------------------------
    def noise(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return make_noise(self.cfg.g.noise, n, self.cfg.g.noise_dim, gen)

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast for the nets' forward passes; losses and penalties stay in fp32."""
        if self.precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    # Class-conditional models take labels: real ones come with the data, fake ones are drawn
    # uniformly over the classes from the noise generator.
    def _real(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.num_classes:
            x, y = self.data.sample_labeled(n, self.rng["data"])
            return self._layout(x), y
        return self._layout(self.data.sample(n, self.rng["data"])), None

    def _labels(self, n: int) -> torch.Tensor | None:
        if not self.num_classes:
            return None
        return torch.randint(self.num_classes, (n,), generator=self.rng["noise"])

    def _g(self, n: int, y: torch.Tensor | None) -> torch.Tensor:
        z = self.noise(n, self.rng["noise"])
        return self.g(z, y) if self.num_classes else self.g(z)

    def _d(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's score, and with ACGAN its class logits."""
        out = self.d(x, y) if self.num_classes else self.d(x)
        if self.acgan:
            return out[:, 0], out[:, 1:]
        return out, None

    def _aux(self, logits: torch.Tensor | None, y: torch.Tensor | None) -> torch.Tensor | float:
        """ACGAN's auxiliary loss: cross-entropy of D's class head on the true / asked class."""
        if logits is None or y is None:
            return 0.0
        return self.cfg.loss.aux_weight * F.cross_entropy(logits.float(), y)

    def d_step(self, index: int = 0, keep_fake: bool = False) -> dict[str, float]:
        """One D update; `index` counts D steps over the run (for lazy penalties).

        With `keep_fake`, G's forward pass keeps its graph so that the G step that follows can
        reuse the same fake batch (as the canonical DCGAN example does) instead of a new one."""
        cfg = self.cfg
        n = cfg.train.batch_size
        real, y_real = self._real(n)
        y_fake = self._labels(n)
        with torch.set_grad_enabled(keep_fake), self.autocast():
            fake_g = self._g(n, y_fake)
        fake = fake_g.detach().float()
        self._fake_for_g = (fake_g, y_fake) if keep_fake else None
        if self.augment is not None:  # D sees real and fake through the same augmentation
            real = self.augment(real, self.rng["augment"])
            fake = self.augment(fake, self.rng["augment"])
        with self.autocast():
            if cfg.d.batch_norm or cfg.d.mbstd:  # batch statistics must not mix real and fake
                (out_r, cls_r), (out_f, cls_f) = self._d(real, y_real), self._d(fake, y_fake)
            else:  # one pass over both halves: half the per-call overhead
                y = None if y_real is None else torch.cat([y_real, y_fake])
                out, cls = self._d(torch.cat([real, fake]), y)
                out_r, out_f = out.split(n // cfg.d.pack)
                cls_r, cls_f = cls.split(n) if cls is not None else (None, None)
        out_r, out_f = out_r.float(), out_f.float()
        loss_d = self.loss.d(out_r, out_f)
        total = loss_d + self._aux(cls_r, y_real) + self._aux(cls_f, y_fake)
        pen = 0.0
        every = cfg.loss.penalty_every
        if self.penalty is not None and index % every == 0:
            # Lazy regularisation (Karras et al. 2020, StyleGAN2 sec. 3.1): every k-th step, x k.
            d = self.d if not self.num_classes else _WithLabels(self.d, y_real, self.acgan)
            p = self.penalty(d, real, fake, self.rng["penalty"])
            total = total + cfg.loss.penalty_weight * every * p
            pen = p.item()
        self.opt_d.zero_grad(set_to_none=True)
        total.backward()
        gnorm = _grad_norm(self.d.parameters())
        self.opt_d.step()
        if cfg.loss.clip > 0:
            with torch.no_grad():
                for prm in self.d.parameters():
                    prm.clamp_(-cfg.loss.clip, cfg.loss.clip)
        acc_r, acc_f = d_accuracy(self.loss, out_r, out_f)
        return {"loss_d": loss_d.item(), "penalty": pen, "grad_norm_d": gnorm,
                "d_acc_real": acc_r, "d_acc_fake": acc_f, "d_acc": (acc_r + acc_f) / 2}

    def g_step(self) -> dict[str, float]:
        """One G update, on the fake batch kept by the last D step or else on fresh noise."""
        n = self.cfg.train.batch_size
        kept, self._fake_for_g = self._fake_for_g, None
        self.d.requires_grad_(False)  # G's step needs no gradients for D's weights
        try:
            with self.autocast():
                if kept is None:
                    y = self._labels(n)
                    fake = self._g(n, y)
                else:
                    fake, y = kept
                if self.augment is not None:  # G's gradient flows back through it
                    fake = self.augment(fake, self.rng["augment"])
                out, cls = self._d(fake, y)
            loss_g = self.loss.g(out.float()) + self._aux(cls, y)
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
        finally:
            self.d.requires_grad_(True)
        gnorm = _grad_norm(self.g.parameters())
        self.opt_g.step()
        if self.g_ema is not None:
            update_ema(self.g_ema, self.g, self.cfg.train.ema, self.step)
        return {"loss_g": loss_g.item(), "grad_norm_g": gnorm}

    def lr_scale(self) -> float:
        """Linear decay from 1 at step 0 to train.lr_end at train.steps."""
        t = self.cfg.train
        frac = min(self.step / t.steps, 1.0)
        return 1.0 + (t.lr_end - 1.0) * frac

    def train_step(self) -> dict[str, float]:
        """`train.d_steps` D updates, then one G update; returns the step's statistics."""
        if self.cfg.train.lr_end != 1.0:
            scale = self.lr_scale()
            for opt, oc in ((self.opt_g, self.cfg.opt_g), (self.opt_d, self.cfg.opt_d)):
                for group in opt.param_groups:
                    group["lr"] = oc.lr * scale
        self.g.train()
        self.d.train()
        k = self.cfg.train.d_steps
        for i in range(k):
            stats = self.d_step(self.step * k + i, keep_fake=i == k - 1)
        stats.update(self.g_step())
        self.step += 1
        stats["step"] = self.step
        bad = [k for k in ("loss_d", "loss_g") if not math.isfinite(stats[k])]
        if bad:
            self.diverged = True
            self.diverged_reason = f"{bad[0]} became {stats[bad[0]]} at step {self.step}"
            raise TrainingDiverged(
                f"{self.diverged_reason}; lower the learning rates or add a penalty "
                "(loss.penalty=gp|r1), then resume from the last checkpoint"
            )
        return stats

    # --- using the nets ------------------------------------------------------------------------
    def sampler(self, use_ema: bool = True) -> nn.Module:
        return self.g_ema if (use_ema and self.g_ema is not None) else self.g

    @torch.no_grad()
    def generate(self, n: int, gen: torch.Generator, use_ema: bool = True,
                 labels: torch.Tensor | None = None) -> torch.Tensor:
        """n samples from the training noise distribution: no truncation, no rejection."""
        return generate(self.sampler(use_ema), self.cfg, n, gen, labels=labels)

    @torch.no_grad()
    def d_prob(self, x: torch.Tensor) -> torch.Tensor:
        """D's P(real) at each point; with packing, a point is judged as `pack` copies of itself."""
        was_training = self.d.training
        self.d.eval()
        try:
            pack = self.cfg.d.pack
            return self.loss.prob(self.d(x.repeat_interleave(pack, 0)))
        finally:
            self.d.train(was_training)


@torch.no_grad()
def generate(g: nn.Module, cfg: RunConfig, n: int, gen: torch.Generator,
             chunk: int = 8192, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Samples of G in eval mode; a conditional G gets `labels`, else classes drawn uniformly."""
    k = getattr(g, "num_classes", 0)
    if k and labels is None:
        labels = torch.randint(k, (n,), generator=gen)
    was_training = g.training
    g.eval()
    try:
        parts = []
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            z = make_noise(cfg.g.noise, m, cfg.g.noise_dim, gen)
            parts.append(g(z, labels[start:start + m]) if k else g(z))
        return torch.cat(parts)
    finally:
        g.train(was_training)


class _WithLabels(nn.Module):
    """D with its labels bound, scoring only: what the penalties differentiate."""

    def __init__(self, d: nn.Module, y: torch.Tensor, acgan: bool) -> None:
        super().__init__()
        self.d, self.y, self.acgan = d, y, acgan
        self.pack = getattr(d, "pack", 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.d(x, self.y)
        return out[:, 0] if self.acgan else out


class Callback(Protocol):
    def on_start(self, trainer: Trainer) -> None: ...
    def on_step(self, trainer: Trainer, stats: dict[str, Any]) -> None: ...
    def on_end(self, trainer: Trainer) -> None: ...
    def on_interrupt(self, trainer: Trainer) -> None: ...


def fit(trainer: Trainer, until: int, callbacks: list[Any] = ()) -> Trainer:  # type: ignore[assignment]
    """Train until `trainer.step == until`, calling each callback around every step."""
    for cb in callbacks:
        cb.on_start(trainer)
    t0 = time.perf_counter()
    try:
        while trainer.step < until:
            stats = trainer.train_step()
            stats["time"] = time.perf_counter() - t0
            for cb in callbacks:
                cb.on_step(trainer, stats)
    except (KeyboardInterrupt, TrainingDiverged):
        for cb in callbacks:
            cb.on_interrupt(trainer)
        raise
    for cb in callbacks:
        cb.on_end(trainer)
    return trainer
