"""The one trainer: builds the parts a config names, knows the order of a step, runs the loop.

Everything random in training draws from one seeded `torch.Generator` per role (data, noise,
penalty, augment), so a run is reproducible from its config and resumes exactly from a checkpoint.
The device is chosen once (`train.device`) and everything the trainer owns lives there: nets, EMA,
optimiser state, the noise / penalty / augment generators, batches. Data draws stay on the CPU,
where the data set is held, and each batch is moved.

Under torchrun (`world`, training/distributed.py) G and D train wrapped in DistributedDataParallel
and each rank keeps its rows of the global batch; with one process nothing of that runs, and the
numbers are those of the single-process trainer.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..ada import AdaptiveAugment
from ..augment import build_augment
from ..config import OptConfig, RunConfig, parse_progressive_batch
from ..data import DataSource
from ..device import Precision, make_scaler, resolve_device, resolve_precision
from ..errors import ConfigError, GanforgeError
from ..generation import check_noise, generate, make_noise
from ..losses import LOSSES, d_accuracy
from ..nets import Discriminator, DOut, Generator
from ..nets.progressive import Growing, fade_real, phase, phase_batch, samples_drawn
from ..penalties import PENALTIES
from ..tasks import TASKS, Batch
from .distributed import SOLO, World, sync_batch_norm, wrap
from .ema import make_ema, update_ema
from .health import DivergenceMonitor, Thresholds
from .rng import RNG_ROLES, role_generators, role_seed

OPTIMIZERS = ("adam", "rmsprop", "sgd")
# D's statistics in a pre-training step, where D does not step: no loss, a coin's accuracy
RESTING_D = {"loss_d": 0.0, "penalty": 0.0, "grad_norm_d": 0.0, "d_acc_real": 0.5, "d_acc_fake": 0.5,
             "d_acc": 0.5}


class TrainingDiverged(GanforgeError):
    """A loss became NaN, infinite or exploded (health.DivergenceMonitor decides)."""


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
    check_noise(cfg.g.noise)


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


def _cat(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    return None if a is None or b is None else torch.cat([a, b])


class Trainer:
    """Holds the nets, optimisers and RNGs of one run; `train_step()` does one G update.

    `device` overrides `train.device` (the CLI's --device); nothing else chooses a device. `world`
    is this process's place in a torchrun job (runs.py joins it and gives each rank its device)."""

    def __init__(self, cfg: RunConfig, data: DataSource | None = None,
                 device: str | torch.device | None = None, world: World = SOLO) -> None:
        check_parts(cfg)
        self.cfg = cfg
        self.world = world
        for size in (cfg.train.batch_size, *parse_progressive_batch(cfg.train.progressive_batch)):
            self.local_batch = world.local_batch(size)
            if self.local_batch % cfg.d.pack:
                raise ConfigError(f"each of the {world.size} processes gets {self.local_batch} samples, "
                                  f"not a multiple of d.pack ({cfg.d.pack}); change train.batch_size")
        self.device = resolve_device(device if device is not None else cfg.train.device)
        self.precision: Precision = resolve_precision(cfg.train.precision, self.device)
        kind = TASKS.get(cfg.task.kind)
        self.data = data if data is not None else kind.load_data(cfg.data)
        self.task = kind.from_config(self.data, cfg, self.device)
        self.task.use_sampler(cfg.train.sampler)  # which rows each batch takes (data/draws.py)
        self.num_classes = self.task.num_classes
        self.class_names: tuple[str, ...] = tuple(self.task.class_names) if self.num_classes else ()
        shape, cond_shape = self.task.shape, self.task.cond_shape
        self.loss = LOSSES.get(cfg.loss.name)
        self.penalty = None if cfg.loss.penalty == "none" else PENALTIES.get(cfg.loss.penalty)
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        with torch.random.fork_rng(devices=[]):  # built on the CPU: the same weights on any device
            torch.manual_seed(role_seed(cfg.seed, "init"))
            # through the task: a table's G takes its span layout from the task's data
            g = self.task.build_g(cfg, shape, self.num_classes, cond_shape)
            d = self.task.build_d(cfg, shape, self.num_classes, cond_shape)
        if cfg.train.sync_bn:
            g, d = sync_batch_norm(g, self.device, world), sync_batch_norm(d, self.device, world)
        self.g: Generator = g.to(self.device)
        self.d: Discriminator = d.to(self.device)
        self.augment = build_augment(cfg.train.augment)
        if self.augment is not None and len(shape) != 3:
            raise ConfigError("train.augment (DiffAugment) needs image data")
        # ADA (ada.py) takes DiffAugment's place: the same calls, real and fake alike, p steered by D
        self.ada: AdaptiveAugment | None = None
        if cfg.train.ada_target > 0:
            if len(shape) != 3:
                raise ConfigError("train.ada_target (adaptive augmentation) needs image data")
            self.ada = AdaptiveAugment.from_config(cfg.train)
            self.augment = self.ada
        self.channels_last = cfg.train.channels_last and len(shape) == 3
        if self.channels_last:
            self.g.to(memory_format=torch.channels_last)
            self.d.to(memory_format=torch.channels_last)
        # self.g / self.d are the nets themselves (checkpoints, EMA, sampling, D's verdicts); the
        # DDP wrappers (the nets themselves for one process) run the forward passes whose
        # gradients must be averaged over ranks
        # train.progressive: levels not yet grown (or faded out) take no part in a forward pass
        self.growing = isinstance(self.g, Growing) and isinstance(self.d, Growing)
        self.g_ddp = wrap(self.g, self.device, world, find_unused=self.growing)
        self.d_ddp = wrap(self.d, self.device, world, find_unused=self.growing)
        self.g_ema: Generator | None = make_ema(self.g) if cfg.train.ema > 0 else None
        self.opt_g = build_optimizer(cfg.opt_g, self.g.parameters())
        self.opt_d = build_optimizer(cfg.opt_d, self.d.parameters())
        self.scaler_g = make_scaler(self.precision)
        self.scaler_d = make_scaler(self.precision)
        self.rng = role_generators(cfg.seed, self.device)
        self.g.bind_rng(self.rng["g"])  # G's own training draws (style G: noise, mixing)
        # path-length regularisation (style G): the running mean path length, checkpointed
        self.pl_mean = torch.zeros((), device=self.device)
        self.divergence = DivergenceMonitor(Thresholds(loss_bound=cfg.health.loss_bound))
        self.step = 0
        self.batch_size = cfg.train.batch_size  # the global batch of this step (grow() sets it)
        self.grow()
        self.diverged: str | None = None  # why training stopped on a NaN / exploding loss
        self.in_step = False  # True while a step is half done: no checkpoint may be taken then
        self._kept: tuple[torch.Tensor, Batch] | None = None  # G's output (with its graph), its batch

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
        self.grow()
        _apply_opt_settings(self.opt_g, cfg.opt_g)
        _apply_opt_settings(self.opt_d, cfg.opt_d)
        if cfg.train.ema > 0 and self.g_ema is None:
            self.g_ema = make_ema(self.g)
            self.grow()
        self.divergence = DivergenceMonitor(Thresholds(loss_bound=cfg.health.loss_bound))
        if self.ada is not None and cfg.train.ada_target > 0:
            self.ada.configure(cfg.train)


    def grow(self) -> None:
        """Progressive growing (train.progressive): the nets' stage and fade and the phase's batch
        size, from the step alone, so a resumed run (or a checkpoint's G) recomputes them exactly.
        Without growing: train.batch_size."""
        t = self.cfg.train
        self.batch_size = t.batch_size
        if self.growing and t.progressive:
            stage, alpha = phase(self.step, t.progressive, self.g.levels)  # type: ignore[attr-defined]
            for net in (self.g, self.d, self.g_ema):
                if isinstance(net, Growing):
                    net.set_growth(stage, alpha)
            self.batch_size = phase_batch(parse_progressive_batch(t.progressive_batch), stage, t.batch_size)
        self.local_batch = self.world.local_batch(self.batch_size)

    def samples_drawn(self) -> int:
        """Real samples drawn per D step so far (the global batch of each step taken, summed)."""
        t = self.cfg.train
        if not (self.growing and t.progressive):
            return self.step * t.batch_size
        return samples_drawn(self.step, t.progressive, self.g.levels,  # type: ignore[attr-defined]
                             parse_progressive_batch(t.progressive_batch), t.batch_size)

    @property
    def stat_names(self) -> tuple[str, ...]:
        """Per-step statistics besides the common ones (callbacks.LOGGED): the task's, then ADA's,
        progressive growing's and path length's."""
        return (tuple(self.task.stat_names) + (("ada_p", "ada_rt") if self.ada is not None else ())
                + (("level", "alpha") if self.growing else ())
                + (("pl_penalty", "pl_mean") if self.cfg.loss.pl_weight > 0 else ()))

    def _faded(self, real: torch.Tensor) -> torch.Tensor:
        """Real images at D's current level (fade included) while growing; else themselves."""
        d = self.d
        if not isinstance(d, Growing) or not self.growing:
            return real
        return fade_real(real, d.side, d.fading, d.alpha)

    # --- the step ------------------------------------------------------------------------------
    def noise(self, n: int, gen: torch.Generator) -> torch.Tensor | None:
        """G's noise for n samples (None for a G that takes none, e.g. a U-Net without dropout)."""
        dim = self.g.spec.z_dim
        return make_noise(self.cfg.g.noise, n, dim, gen, self.device) if dim else None

    def autocast(self) -> Any:
        """Mixed precision for the nets' forward passes; losses and penalties stay in fp32."""
        return self.precision.autocast()

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _aux(self, logits: torch.Tensor | None, y: torch.Tensor | None) -> torch.Tensor | float:
        """ACGAN's auxiliary loss: cross-entropy of D's class head on the true / asked class."""
        if logits is None or y is None:
            return 0.0
        return self.cfg.loss.aux_weight * F.cross_entropy(logits.float(), y)

    def _update(self, loss: torch.Tensor, opt: torch.optim.Optimizer, net: nn.Module,
                scaler: torch.amp.GradScaler | None) -> float:
        """Backward, gradient norm (of the true, unscaled gradients), optimiser step."""
        opt.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            gnorm = _grad_norm(net.parameters())
            opt.step()
            return gnorm
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        gnorm = _grad_norm(net.parameters())
        scaler.step(opt)  # skipped when the fp16 gradients overflowed; the scale then shrinks
        scaler.update()
        return gnorm

    def _check(self, stats: dict[str, float], step: int) -> None:
        """Divergence, judged on the mean over ranks, so that every rank stops on the same step."""
        stats.update(self.world.mean(stats))
        verdict = self.divergence.observe(step, stats)
        if verdict is not None:
            self.diverged = verdict[2]
            raise TrainingDiverged(
                f"{self.diverged}; lower the learning rates or add a penalty "
                "(loss.penalty=gp|r1), then resume from the last checkpoint"
            )

    def _augmented(self, x: torch.Tensor,
                   c: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x through one DiffAugment draw; an image condition (pix2pix's input, inpainting's holed
        image and mask, superres's input brought to x's size) rides along in the same draw, stacked on
        the channels, so D judges the transformed pair and x stays c's partner. Class labels stay."""
        gen = self.world.fork(self.rng["augment"])
        if c is None or c.dim() != 4:
            return self.augment(x, gen), c  # type: ignore[misc]
        if c.shape[-2:] != x.shape[-2:]:
            c = F.interpolate(c.float(), size=x.shape[-2:], mode="bicubic", align_corners=False)
        both = self.augment(torch.cat([x, c.to(x.dtype)], 1), gen)  # type: ignore[misc]
        return both[:, :x.shape[1]], both[:, x.shape[1]:]

    def d_step(self, index: int = 0, keep_fake: bool = False) -> dict[str, float]:
        """One D update; `index` counts D steps over the run (for lazy penalties).

        With `keep_fake`, G's forward pass keeps its graph so that the G step that follows can
        reuse the same fake batch (as the canonical DCGAN example does) instead of a new one."""
        cfg = self.cfg
        n = self.local_batch
        batch = self._rows(self.task.batch(self.batch_size, self.rng, self.noise))
        real, c_real, c_fake = self._layout(self._faded(batch.real)), batch.c_d_real, batch.c_d_fake
        # only a forward pass whose graph G's step will use goes through DDP
        g = self.g_ddp if keep_fake else self.g
        with torch.set_grad_enabled(keep_fake), self.autocast():
            fake_g = g(batch.z, batch.c_g)
        fake = self.task.d_fakes(fake_g.detach().float(), self.rng["data"])  # CycleGAN: a history pool
        self._kept = (fake_g, batch) if keep_fake else None
        if self.augment is not None:  # D sees real and fake through the same augmentation
            real, c_real = self._augmented(real, c_real)
            fake, c_fake = self._augmented(fake, c_fake)
        with self.autocast():
            if cfg.d.batch_norm or cfg.d.mbstd:  # batch statistics must not mix real and fake
                # two DDP forwards, one backward: each parameter's gradient is still accumulated
                # (and all-reduced) once
                out_r, out_f = self.d_ddp(real, c_real), self.d_ddp(fake, c_fake)
            else:  # one pass over both halves: half the per-call overhead
                out = self.d_ddp(torch.cat([real, fake]), _cat(c_real, c_fake))
                s_r, s_f = out.score.split(n // self.d.spec.pack)
                l_r, l_f = out.logits.split(n) if out.logits is not None else (None, None)
                out_r, out_f = DOut(s_r, l_r), DOut(s_f, l_f)
        score_r, score_f = out_r.score.float(), out_f.score.float()
        if self.ada is not None:  # r_t: how sure D is of the reals it sees (through the augmentation)
            self.ada.observe(self.loss.prob(score_r.detach()), n)
        loss_d = self.loss.d(score_r, score_f)
        total = loss_d + self._aux(out_r.logits, c_real) + self._aux(out_f.logits, c_fake)
        pen = 0.0
        every = cfg.loss.penalty_every
        if self.penalty is not None and index % every == 0:
            # Lazy regularisation (Karras et al. 2020, StyleGAN2 sec. 3.1): every k-th step, x k.
            # Through D itself, not its DDP wrapper: DDP does not support the double backward of
            # autograd.grad(create_graph=True). The penalty's gradient joins the loss's in the
            # same backward, so DDP's hook still fires once per parameter, with the sum.
            def critic(x: torch.Tensor) -> torch.Tensor:
                return self.d(x, c_real).score

            p = self.penalty(critic, real, fake, self.world.fork(self.rng["penalty"]), self.d.spec.pack)
            total = total + cfg.loss.penalty_weight * every * p
            pen = p.item()
        gnorm = self._update(total, self.opt_d, self.d, self.scaler_d)
        if cfg.loss.clip > 0:
            with torch.no_grad():
                for prm in self.d.parameters():
                    prm.clamp_(-cfg.loss.clip, cfg.loss.clip)
        acc_r, acc_f = d_accuracy(self.loss, score_r, score_f)
        stats = {"loss_d": loss_d.item(), "penalty": pen, "grad_norm_d": gnorm,
                 "d_acc_real": acc_r, "d_acc_fake": acc_f, "d_acc": (acc_r + acc_f) / 2}
        self._check(stats, self.step + 1)
        return stats

    def _rows(self, batch: Batch) -> Batch:
        """This rank's rows of a batch drawn for the global batch (all of it for one process)."""
        if self.world.size == 1:
            return batch
        return Batch(*(self.world.rows(t) for t in batch))

    def _real_scores(self, batch: Batch) -> torch.Tensor:
        """The frozen D's scores of the step's real samples (relativistic losses in G's step), seen
        through DiffAugment as the fakes are."""
        if batch.real is None:
            raise ValueError("a relativistic loss needs the step's real samples in G's batch")
        real, c = self._layout(self._faded(batch.real)), batch.c_d_real
        if self.augment is not None:
            real, c = self._augmented(real, c)
        with self.autocast():
            return self.d(real, c).score.float()

    def adversarial(self) -> bool:
        """False for the first `task.pretrain_steps` steps: G learns from its task's own loss alone
        (ESRGAN's PSNR-oriented pre-training) and D does not step. A schedule read from the config, the
        same for every task with a reconstruction loss: the trainer does not ask which task it holds."""
        return self.step >= self.cfg.task.pretrain_steps

    def g_step(self) -> dict[str, float]:
        """One G update, on the fake batch kept by the last D step or else on fresh noise; while
        pre-training, on the task's loss alone (D is not run)."""
        adversarial = self.adversarial()
        kept, self._kept = self._kept, None
        self.d.requires_grad_(False)  # G's step needs no gradients for D's weights
        try:
            with self.autocast():
                if kept is None:
                    batch = self._rows(self.task.g_batch(self.batch_size, self.rng, self.noise))
                    fake = self.g_ddp(batch.z, batch.c_g)
                else:
                    fake, batch = kept
                # G's first pass went through DDP; a task that runs G again (CycleGAN's cycle and
                # identity) gets G itself: its gradients join the same backward, all-reduced once
                extra, extra_stats = self.task.extra_g_loss(fake, batch, self.g)  # on G's own output
                c = batch.c_d_fake
                if adversarial and self.augment is not None:  # G's gradient flows back through it
                    fake, c = self._augmented(fake, c)
                # D is frozen here: D itself, not its DDP wrapper, which would wait for gradients
                # of D's weights that this backward never makes
                out = self.d(fake, c) if adversarial else None
            if out is not None and self.loss.g_real is not None:  # relativistic: real scores too
                real_scores = self._real_scores(batch)
                loss_g = self.loss.g_real(out.score.float(), real_scores) + self._aux(out.logits, c)
            elif out is not None:
                loss_g = self.loss.g(out.score.float()) + self._aux(out.logits, c)
            else:
                loss_g = torch.zeros((), device=self.device)
            pl = self._path_length() if adversarial and self._pl_due() else None
            if pl is not None:  # lazy: every pl_every-th G step, with weight x pl_every
                extra = extra + self.cfg.loss.pl_weight * self.cfg.loss.pl_every * pl
            gnorm = self._update(loss_g + extra, self.opt_g, self.g, self.scaler_g)
        finally:
            self.d.requires_grad_(True)
        if self.cfg.loss.pl_weight > 0:
            extra_stats = {**extra_stats, "pl_penalty": 0.0 if pl is None else pl.item(),
                           "pl_mean": float(self.pl_mean)}
        if self.g_ema is not None:
            update_ema(self.g_ema, self.g, self.cfg.train.ema, self.step, self.cfg.train.ema_rampup)
        stats = {"loss_g": loss_g.item(), "grad_norm_g": gnorm, **extra_stats}
        self._check(stats, self.step + 1)
        return stats

    def _pl_due(self) -> bool:
        return self.cfg.loss.pl_weight > 0 and self.step % self.cfg.loss.pl_every == 0

    def _path_length(self) -> torch.Tensor:
        """StyleGAN2's path-length penalty (Karras et al. 2020, sec. 3.2): E[(|J_w^T y| - a)^2], with
        y ~ N(0, I) / sqrt(H W) on G's images and a the running mean `pl_mean` (rate loss.pl_decay),
        on half a batch (StyleGAN2's pl_batch_shrink 2). Through G itself, not its DDP wrapper (double
        backward); its gradients join G's step's backward."""
        from ..nets.style import StyleGenerator

        g = self.g
        if not isinstance(g, StyleGenerator):  # config.py allows loss.pl_weight with g.arch=style only
            raise ConfigError("loss.pl_weight > 0 needs g.arch=style")
        n = max(self.cfg.train.batch_size // 2, self.world.size)
        batch = self._rows(self.task.g_batch(n, self.rng, self.noise))
        with self.autocast():
            ws = g.training_ws(batch.z, batch.c_g, update_w_avg=False)
            img = g.synthesis(ws, noise="random", gen=self.world.fork(self.rng["g"])).float()
        h, w = img.shape[2:]
        y = torch.randn(img.shape, generator=self.world.fork(self.rng["penalty"]),
                        device=self.rng["penalty"].device).to(img.device) / (h * w) ** 0.5
        (grad,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
        lengths = grad.float().square().sum(2).mean(1).sqrt()
        with torch.no_grad():
            self.pl_mean.copy_(self.pl_mean.lerp(lengths.mean(), self.cfg.loss.pl_decay))
        return (lengths - self.pl_mean).square().mean()

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The trainer's own training state for the checkpoint (exact resume): pl_mean."""
        return {"pl_mean": self.pl_mean}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        if "pl_mean" in tensors:  # absent in checkpoints written before path-length regularisation
            self.pl_mean.copy_(tensors["pl_mean"].to(self.pl_mean.device))

    def lr_scale(self) -> float:
        """Linear decay from 1 at step 0 to train.lr_end at train.steps."""
        t = self.cfg.train
        frac = min(self.step / t.steps, 1.0)
        return 1.0 + (t.lr_end - 1.0) * frac

    def begin_step(self) -> None:
        """Open a step: the learning-rate schedule, training mode; a step is now half done."""
        if self.cfg.train.lr_end != 1.0:
            scale = self.lr_scale()
            for opt, oc in ((self.opt_g, self.cfg.opt_g), (self.opt_d, self.cfg.opt_d)):
                for group in opt.param_groups:
                    group["lr"] = oc.lr * scale
        self.grow()
        if self.world.size > 1:  # each rank its own per-pixel noise / mixing draws, reseeded per step
            self.g.bind_rng(self.world.fork(self.rng["g"]))
        self.g.train()
        self.d.train()
        self.in_step = True

    def end_step(self, stats: dict[str, float]) -> dict[str, float]:
        """Close the step opened by begin_step: count it; returns stats with the new step. While
        growing, the step's level and alpha join the stats, and the nets move to the next step's
        (so G sampled now is G as its checkpoint loads)."""
        if self.growing:
            stats["level"], stats["alpha"] = float(self.d.stage), self.d.alpha  # type: ignore[attr-defined]
        self.step += 1
        self.in_step = False
        if self.ada is not None:  # every ada_interval steps p moves so that r_t nears ada_target
            stats.update(self.ada.end_step(self.world))
        self.grow()
        stats["step"] = self.step
        return stats

    def train_step(self) -> dict[str, float]:
        """`train.d_steps` D updates, then one G update; returns the step's statistics.

        The same as begin_step, the D steps, g_step, end_step (the lab's slow motion calls them
        one at a time). While pre-training (task.pretrain_steps) there is no D step: D's statistics
        read RESTING_D."""
        self.begin_step()
        k = self.cfg.train.d_steps
        stats = dict(RESTING_D)
        if self.adversarial():
            for i in range(k):
                stats = self.d_step(self.step * k + i, keep_fake=i == k - 1)
        stats.update(self.g_step())
        return self.end_step(stats)

    # --- using the nets ------------------------------------------------------------------------
    def sampler(self, use_ema: bool = True) -> Generator:
        return self.g_ema if (use_ema and self.g_ema is not None) else self.g

    @torch.no_grad()
    def generate(self, n: int, gen: torch.Generator, use_ema: bool = True,
                 labels: torch.Tensor | None = None) -> torch.Tensor:
        """n samples (on the run's device) from the training noise: no truncation, no rejection."""
        if labels is not None:
            labels = labels.to(self.device)
        return generate(self.sampler(use_ema), self.cfg.g.noise, n, gen, labels=labels)

    @torch.no_grad()
    def d_prob(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """D's P(real) for each sample (on the CPU), in eval mode; a class-conditional D judges
        each with its label. With packing, a sample is judged as `pack` copies of itself; a patch D's
        verdict is the mean over its patches."""
        was_training = self.d.training
        self.d.eval()
        try:
            pack = self.d.spec.pack
            c = None if labels is None else labels.to(self.device).repeat_interleave(pack, 0)
            out = self.d(x.to(self.device).repeat_interleave(pack, 0), c)
            p = self.loss.prob(out.score.float())
            return p.reshape(len(p), -1).mean(1).cpu()
        finally:
            self.d.train(was_training)


class _FinishTheStep:
    """Ctrl-C lets the step in progress finish, so that the checkpoint taken on the way out
    resumes exactly; a second Ctrl-C stops at once (and nothing half-done is checkpointed)."""

    def __init__(self) -> None:
        self.requested = False
        self._old: Any = None

    def __enter__(self) -> _FinishTheStep:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


_GO_ON, _CTRL_C, _DIVERGED = 0, 1, 2


def _after_step(trainer: Trainer, callbacks: list[Any], stats: dict[str, Any],
                ctrl_c: _FinishTheStep) -> None:
    """The callbacks of a step, then whether to stop. Under torchrun the ranks agree first (the
    worst wins): a Ctrl-C seen by one rank, or a health verdict made on rank 0 alone, stops every
    rank after the same step, so none waits for a step the others never take."""
    diverged: TrainingDiverged | None = None
    try:
        for cb in callbacks:
            cb.on_step(trainer, stats)
    except TrainingDiverged as e:
        diverged = e
    mine = _DIVERGED if diverged else _CTRL_C if ctrl_c.requested else _GO_ON
    verdict = trainer.world.agree(mine)
    if verdict == _DIVERGED:
        if diverged is None:
            trainer.diverged = trainer.diverged or "another rank's health check saw divergence"
            diverged = TrainingDiverged(trainer.diverged)
        raise diverged
    if verdict == _CTRL_C:
        raise KeyboardInterrupt


def fit(trainer: Trainer, until: int, callbacks: Iterable[Any] = ()) -> Trainer:
    """Train until `trainer.step == until`, calling each callback around every step
    (training/callbacks.py: on_start, on_step, on_end, on_interrupt)."""
    callbacks = list(callbacks)
    for cb in callbacks:
        cb.on_start(trainer)
    t0 = time.perf_counter()
    try:
        with _FinishTheStep() as ctrl_c:
            while trainer.step < until:
                stats = trainer.train_step()
                stats["time"] = time.perf_counter() - t0
                _after_step(trainer, callbacks, stats, ctrl_c)
    except (KeyboardInterrupt, TrainingDiverged):
        for cb in callbacks:
            cb.on_interrupt(trainer)
        raise
    for cb in callbacks:
        cb.on_end(trainer)
    return trainer


__all__ = ["RNG_ROLES", "Trainer", "TrainingDiverged", "build_optimizer", "check_parts", "fit", "role_seed"]
