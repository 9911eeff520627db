"""Typed run configuration: dataclasses, YAML on disk, `--set a.b=c` overrides.

The config is the whole description of a run: a checkpoint stores it, and a run is reproducible
from it. Unknown keys and badly typed values are errors that name the key, raised as ConfigError.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from .errors import ConfigError


@dataclass
class DataConfig:
    """Which data to train on; `path` for data read from files (csv points, images)."""

    name: str = "grid25"
    path: str | None = None
    size: int = 0  # images: resize (and centre-crop) to size x size; 0 = as stored
    channels: int = 0  # images: 1 or 3; 0 = as stored (folders: RGB unless all grey)
    max_bad_share: float = 0.1  # image folders: unreadable files tolerated (skipped and counted)
    columns: str = ""  # tables: kinds forced by name, e.g. "zip:categorical,age:integer"
    holdout: float = 0.0  # tables: share of rows kept out of training (fixed split): eval's ML efficacy, DCR
    target: str = ""  # tables: the column eval's ML efficacy predicts; "" = `target`, else the last


@dataclass
class GConfig:
    """Generator: an MLP from `noise_dim` noise to the data dimension."""

    arch: str = "mlp"
    width: int = 128
    depth: int = 3
    activation: str = "relu"
    batch_norm: bool = False
    noise_dim: int = 2
    noise: str = "normal"  # normal | uniform (on [-1, 1])
    dropout: float = 0.5  # g.arch=unet: share of decoder units dropped, masks drawn from z (0 = none)
    # g.arch=style (StyleGAN2): z (noise_dim) -> mapping MLP -> w -> modulated synthesis net
    mapping_layers: int = 8  # depth of the mapping network
    w_dim: int = 0  # size of w; 0 = noise_dim
    lr_mult: float = 0.01  # the mapping network's learning-rate multiplier (equalised lr)
    max_channels: int = 256  # channels double per halving of the side from `width`, up to this
    style_mixing: float = 0.9  # share of training samples whose ws switch to a second z at a random layer
    rgb: str = "skip"  # skip (sum of upsampled RGB outputs) | resnet (residual blocks, one RGB at the end)


@dataclass
class DConfig:
    """Discriminator (critic); `pack` > 1 makes it judge that many samples jointly (PacGAN)."""

    arch: str = "mlp"
    width: int = 128
    depth: int = 3
    activation: str = "leaky_relu"
    batch_norm: bool = False
    spectral_norm: bool = False
    pack: int = 1
    cond: str = "projection"  # with train.conditional: projection | acgan
    mbstd: bool = False  # image D: minibatch standard deviation channel (ProGAN)
    max_channels: int = 256  # d.arch=style: channels double per halving of the side from `width`, up to this


@dataclass
class LossConfig:
    """Adversarial loss, an optional penalty on D, and optional weight clipping of D."""

    name: str = "ns"
    penalty: str = "none"  # none | gp | r1
    penalty_weight: float = 10.0
    penalty_every: int = 1  # lazy regularisation: every k-th D step, with weight x k
    clip: float = 0.0  # > 0: clamp D's weights to [-clip, clip] after each D step (WGAN)
    aux_weight: float = 1.0  # d.cond=acgan: weight of the auxiliary classification loss
    pl_weight: float = 0.0  # g.arch=style: path-length regularisation of G (StyleGAN2: 2); 0 = off
    pl_every: int = 4  # lazy: every k-th G step, with weight x k
    pl_decay: float = 0.01  # the running mean path length's update rate


@dataclass
class OptConfig:
    """One optimiser; G and D each have their own."""

    name: str = "adam"  # adam | sgd | rmsprop
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    weight_decay: float = 0.0


@dataclass
class TrainConfig:
    """The loop: how long, how big, and how often to log, plot and checkpoint."""

    steps: int = 2000
    batch_size: int = 256
    d_steps: int = 1
    ema: float = 0.0  # decay of the EMA copy of G; 0 = off
    lr_end: float = 1.0  # both lrs fall linearly to lr * lr_end at train.steps; 1 = constant
    log_every: int = 50
    plot_every: int = 1000  # 0 = only at the end
    ckpt_every: int = 1000  # 0 = only at the end
    keep_last: int = 3
    threads: int = 0  # torch intra-op threads; 0 = leave torch's default
    device: str = "auto"  # auto (CUDA, else MPS, else CPU) | cpu | cuda | cuda:N | mps
    precision: str = "fp32"  # fp32 | bf16 | fp16 (CUDA, with a GradScaler) | auto (the device's best)
    channels_last: bool = False  # images: NHWC memory layout, faster convolutions on CPU
    augment: str = ""  # images: DiffAugment policy, e.g. "color,translation,cutout"
    conditional: bool = False  # class-conditional G and D, classes taken from the data's labels
    eval_every: int = 0  # log eval.metrics to metrics.jsonl every K steps; 0 = off
    sampler: str = "random"  # rows per batch: random (with replacement) | epoch (a permutation per epoch)
    sync_bn: bool = False  # under torchrun on CUDA: batch-norm statistics over the global batch
    dist_timeout: float = 600.0  # seconds a rank waits for the others before the job stops (torchrun)
    ema_rampup: float = 0.0  # > 0: the EMA's half-life (in images) grows as step * batch * ema_rampup
    #                         until it reaches train.ema's (StyleGAN2-ADA: 0.05); 0 = off
    ada_target: float = 0.0  # > 0: adaptive augmentation (ADA) steering r_t = E[sign D(real)] to this (0.6)
    ada_interval: int = 4  # steps between adjustments of ADA's probability p
    ada_kimg: float = 100.0  # thousands of images over which p may move from 0 to 1
    ada_pipeline: str = "bgc"  # ADA's transforms: b (blit: flip, rot90, int shift) g (geometric) c (colour)
    progressive: int = 0  # > 0: progressive growing (g/d.arch=dcgan), steps per resolution phase
    progressive_batch: str = ""  # batch size per phase, e.g. "256,128,64"; "" = train.batch_size


@dataclass
class EvalConfig:
    """What `ganforge eval` (and the training-time eval, train.eval_every) measures, and on how many
    samples; samples always come from the training noise (no truncation, no rejection). Translation
    tasks (paired, superres, inpaint) score their held-out images instead: n_samples / n_during bound
    how many, and eval.features names the feature space of their FID (none: no FID)."""

    n_samples: int = 0  # 0 = the protocol's count: 2,500 points, 26,000 stacked MNIST, 10,000 images
    #                     (translation tasks: all held-out images, up to 10,000)
    seed: int = 12345  # noise; inpaint: its held-out masks
    use_ema: bool = True
    metrics: str = ""  # e.g. "fid,kid,pr"; "" = the data's defaults (see ganforge eval --help)
    features: str = ""  # extractor for fid/kid/pr/dc/is; "" = the data's natural one (translation: no FID)
    n_during: int = 2000  # samples (translation: held-out images at most) per training-time eval


@dataclass
class HealthConfig:
    """The training-health monitors (training/health.py) and what to do when a run diverges."""

    enabled: bool = True
    check_every: int = 0  # steps between quality checks of a fixed batch; 0 = steps / 100 (>= 25)
    warmup: int = 0  # steps before Collapsed / Stalled / Converged may be declared; 0 = 30% (>= 300)
    on_diverge: str = "rollback"  # rollback: last checkpoint, lower lrs, go on | stop
    lr_factor: float = 0.5  # each rollback multiplies both learning rates by this
    max_retries: int = 2  # rollbacks before the run stops
    loss_bound: float = 1e4  # |loss| beyond this counts as diverged


@dataclass
class TaskConfig:
    """What problem the run solves (a name in tasks.TASKS): `generate` (noise -> sample), `paired`
    (pix2pix: input image -> output image, data.name a paired set), `unpaired` (CycleGAN), `superres`
    (low-resolution photo -> `scale` x larger) or `inpaint` (fill masked holes). `l1_weight`: the
    lambda on L1(output, target) (inpaint: on the hole). `pretrain_steps`: the first steps train G on
    its task loss alone (no D step, no adversarial term). `unpaired` (CycleGAN: two domains, no
    pairs): `cycle_weight`, `identity_weight` (a share of it) and the `pool_size` of past fakes D
    judges. `inpaint`: `mask` mixed | strokes | boxes | data (the set's own masks), each random
    mask's hole share within [hole_min, hole_max]. Configs written before tasks existed load as `generate`."""

    kind: str = "generate"
    l1_weight: float = 100.0
    scale: int = 4  # superres: 2 or 4
    degrade: str = "bicubic"  # superres: how inputs are made, e.g. "bicubic,blur,noise,jpeg"
    pretrain_steps: int = 0
    mask: str = "mixed"  # inpaint
    hole_min: float = 0.1
    hole_max: float = 0.5
    cycle_weight: float = 10.0  # unpaired: lambda on the cycle loss |G_BA(G_AB(a)) - a| (+ B's)
    identity_weight: float = 0.5  # unpaired: identity loss weight, as a share of cycle_weight (0 = off)
    pool_size: int = 50  # unpaired: history of fakes D sees (Shrivastava et al. 2017), 0 = none


@dataclass
class RunConfig:
    seed: int = 0
    task: TaskConfig = field(default_factory=TaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    g: GConfig = field(default_factory=GConfig)
    d: DConfig = field(default_factory=DConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    opt_g: OptConfig = field(default_factory=OptConfig)
    opt_d: OptConfig = field(default_factory=OptConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    health: HealthConfig = field(default_factory=HealthConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# --- building configs from plain data ---------------------------------------------------------


def _is_optional(tp: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return True, args[0]
    return False, tp


def _coerce(value: Any, tp: Any, key: str) -> Any:
    optional, inner = _is_optional(tp)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"config key '{key}' cannot be empty")
    if inner is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"config key '{key}' must be true or false, got {value!r}")
    if inner is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"config key '{key}' must be an integer, got {value!r}")
    if inner is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML reads `1e-3` (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"config key '{key}' must be a number, got {value!r}")
    if inner is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"config key '{key}' must be a string, got {value!r}")
    raise ConfigError(f"config key '{key}' has an unsupported type")  # pragma: no cover


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        where = f"'{prefix}'" if prefix else "the config"
        raise ConfigError(f"{where} must be a mapping of keys to values, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            full = f"{prefix}.{key}" if prefix else str(key)
            known = ", ".join(fields)
            raise ConfigError(f"unknown config key '{full}' (known here: {known})")
    kwargs = {}
    for name, value in data.items():
        full = f"{prefix}.{name}" if prefix else name
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, value if value is not None else {}, full)
        elif isinstance(value, dict) and value:
            sub = next(iter(value))
            raise ConfigError(f"unknown config key '{full}.{sub}' ('{full}' is not a section)")
        else:
            kwargs[name] = _coerce(value, tp, full)
    return cls(**kwargs)


def _check(cfg: RunConfig) -> None:
    """Value checks that types alone cannot express; each names its key."""
    positive = {
        "train.steps": cfg.train.steps,
        "train.batch_size": cfg.train.batch_size,
        "train.d_steps": cfg.train.d_steps,
        "train.log_every": cfg.train.log_every,
        "train.keep_last": cfg.train.keep_last,
        "g.width": cfg.g.width,
        "g.noise_dim": cfg.g.noise_dim,
        "d.width": cfg.d.width,
        "d.pack": cfg.d.pack,
        "loss.penalty_every": cfg.loss.penalty_every,
        "eval.n_during": cfg.eval.n_during,
        "train.dist_timeout": cfg.train.dist_timeout,
        "g.mapping_layers": cfg.g.mapping_layers,
        "g.max_channels": cfg.g.max_channels,
        "d.max_channels": cfg.d.max_channels,
        "loss.pl_every": cfg.loss.pl_every,
        "train.ada_interval": cfg.train.ada_interval,
    }
    for key, v in positive.items():
        if v < 1:
            raise ConfigError(f"config key '{key}' must be >= 1, got {v}")
    # sizes a user can type are bounded: a typo must be an error, not hours of work or all the memory
    upper = {
        "train.batch_size": (cfg.train.batch_size, 1 << 20),
        "train.d_steps": (cfg.train.d_steps, 100),
        "train.keep_last": (cfg.train.keep_last, 1000),
        "g.width": (cfg.g.width, 16384),
        "d.width": (cfg.d.width, 16384),
        "g.depth": (cfg.g.depth, 64),
        "d.depth": (cfg.d.depth, 64),
        "g.noise_dim": (cfg.g.noise_dim, 16384),
        "d.pack": (cfg.d.pack, 64),
        "loss.penalty_every": (cfg.loss.penalty_every, 10000),
        "data.size": (cfg.data.size, 4096),
        "eval.n_samples": (cfg.eval.n_samples, 1_000_000),
        "eval.n_during": (cfg.eval.n_during, 100_000),
        "g.mapping_layers": (cfg.g.mapping_layers, 64),
        "g.w_dim": (cfg.g.w_dim, 16384),
        "g.max_channels": (cfg.g.max_channels, 16384),
        "d.max_channels": (cfg.d.max_channels, 16384),
        "loss.pl_every": (cfg.loss.pl_every, 10000),
        "train.ada_interval": (cfg.train.ada_interval, 10000),
        "train.progressive": (cfg.train.progressive, 10_000_000),
    }
    for key, (v, hi) in upper.items():
        if v > hi:
            raise ConfigError(f"config key '{key}' must be at most {hi:,}, got {v:,}")
    for key, v in {"g.depth": cfg.g.depth, "d.depth": cfg.d.depth}.items():
        if v < 0:
            raise ConfigError(f"config key '{key}' must be >= 0, got {v}")
    for key, v in {
        "train.plot_every": cfg.train.plot_every,
        "train.ckpt_every": cfg.train.ckpt_every,
        "train.threads": cfg.train.threads,
        "train.eval_every": cfg.train.eval_every,
        "health.check_every": cfg.health.check_every,
        "health.warmup": cfg.health.warmup,
        "health.max_retries": cfg.health.max_retries,
        "eval.n_samples": cfg.eval.n_samples,
        "loss.penalty_weight": cfg.loss.penalty_weight,
        "data.size": cfg.data.size,
        "data.channels": cfg.data.channels,
        "data.max_bad_share": cfg.data.max_bad_share,
        "train.lr_end": cfg.train.lr_end,
        "loss.clip": cfg.loss.clip,
        "opt_g.weight_decay": cfg.opt_g.weight_decay,
        "opt_d.weight_decay": cfg.opt_d.weight_decay,
        "task.l1_weight": cfg.task.l1_weight,
        "task.pretrain_steps": cfg.task.pretrain_steps,
        "task.cycle_weight": cfg.task.cycle_weight,
        "task.identity_weight": cfg.task.identity_weight,
        "task.pool_size": cfg.task.pool_size,
        "g.w_dim": cfg.g.w_dim,
        "loss.pl_weight": cfg.loss.pl_weight,
        "train.ema_rampup": cfg.train.ema_rampup,
        "train.progressive": cfg.train.progressive,
    }.items():
        if v < 0:
            raise ConfigError(f"config key '{key}' must be >= 0, got {v}")
    for key, v in {"opt_g.lr": cfg.opt_g.lr, "opt_d.lr": cfg.opt_d.lr}.items():
        if not v > 0:
            raise ConfigError(f"config key '{key}' must be > 0, got {v}")
    for key, v in {
        "train.ema": cfg.train.ema,
        "g.dropout": cfg.g.dropout,
        "opt_g.beta1": cfg.opt_g.beta1,
        "opt_g.beta2": cfg.opt_g.beta2,
        "opt_d.beta1": cfg.opt_d.beta1,
        "opt_d.beta2": cfg.opt_d.beta2,
        "train.ada_target": cfg.train.ada_target,
    }.items():
        if not 0 <= v < 1:
            raise ConfigError(f"config key '{key}' must be in [0, 1), got {v}")
    for key, v in {"g.lr_mult": cfg.g.lr_mult, "loss.pl_decay": cfg.loss.pl_decay,
                   "train.ada_kimg": cfg.train.ada_kimg}.items():
        if not v > 0:
            raise ConfigError(f"config key '{key}' must be > 0, got {v}")
    for key, v in {"g.style_mixing": cfg.g.style_mixing, "loss.pl_decay": cfg.loss.pl_decay}.items():
        if not 0 <= v <= 1:
            raise ConfigError(f"config key '{key}' must be in [0, 1], got {v}")
    if cfg.g.rgb not in ("skip", "resnet"):
        raise ConfigError(f"config key 'g.rgb' must be skip or resnet, got {cfg.g.rgb!r}")
    _check_style(cfg)
    if cfg.health.on_diverge not in ("rollback", "stop"):
        raise ConfigError(f"config key 'health.on_diverge' must be rollback or stop, "
                          f"got {cfg.health.on_diverge!r}")
    if not 0 < cfg.health.lr_factor < 1:
        raise ConfigError(f"config key 'health.lr_factor' must be in (0, 1), got {cfg.health.lr_factor}")
    if not cfg.health.loss_bound > 0:
        raise ConfigError(f"config key 'health.loss_bound' must be > 0, got {cfg.health.loss_bound}")
    from .device import PRECISIONS, check_device_name

    if cfg.train.precision not in PRECISIONS:
        raise ConfigError(f"config key 'train.precision' must be one of {', '.join(PRECISIONS)}, "
                          f"got {cfg.train.precision!r}")
    check_device_name(cfg.train.device)
    from .ada import check_pipeline

    check_pipeline(cfg.train.ada_pipeline)
    if cfg.train.ada_target > 0 and cfg.train.augment:
        raise ConfigError("train.ada_target (ADA) and train.augment (DiffAugment) exclude each other: "
                          "set one")
    _check_task(cfg)
    from .metrics.suite import parse_metrics

    parse_metrics(cfg.eval.metrics)  # names are checked now, not hours into a run
    if cfg.train.batch_size % cfg.d.pack:
        raise ConfigError(
            f"train.batch_size ({cfg.train.batch_size}) must be a multiple of d.pack ({cfg.d.pack})"
        )
    _check_progressive(cfg)


def parse_progressive_batch(text: str) -> tuple[int, ...]:
    """train.progressive_batch "256,128,64" -> (256, 128, 64): one global batch size per growing
    phase, the last repeating; "" -> () (every phase uses train.batch_size)."""
    if not text.strip():
        return ()
    sizes = []
    for part in text.split(","):
        try:
            n = int(part.strip())
        except ValueError:
            n = 0
        if not 1 <= n <= 1 << 20:
            raise ConfigError(f"config key 'train.progressive_batch' must be batch sizes in [1, {1 << 20:,}] "
                              f"separated by commas, e.g. 256,128,64; got {text!r}")
        sizes.append(n)
    return tuple(sizes)


def _check_progressive(cfg: RunConfig) -> None:
    """Progressive growing (train.progressive) is for DCGAN nets on images, generate task only."""
    sizes = parse_progressive_batch(cfg.train.progressive_batch)
    if not cfg.train.progressive:
        if sizes:
            raise ConfigError("train.progressive_batch needs train.progressive > 0 (steps per phase)")
        return
    if cfg.g.arch != "dcgan" or cfg.d.arch != "dcgan":
        raise ConfigError(f"train.progressive needs g.arch=dcgan and d.arch=dcgan, "
                          f"got {cfg.g.arch} / {cfg.d.arch}")
    if cfg.task.kind != "generate":
        raise ConfigError(f"train.progressive does not apply to task.kind={cfg.task.kind}: "
                          "it grows noise-to-image nets (task.kind=generate)")
    bad = [n for n in sizes if n % cfg.d.pack]
    if bad:
        raise ConfigError(f"train.progressive_batch sizes must be multiples of d.pack ({cfg.d.pack}), "
                          f"got {bad[0]}")


def _check_style(cfg: RunConfig) -> None:
    """Style nets make and judge images; path-length regularisation needs a style G."""
    from .data.toy import TOY_SETS

    for key, arch in (("g.arch", cfg.g.arch), ("d.arch", cfg.d.arch)):
        if arch == "style" and cfg.data.name in TOY_SETS:
            raise ConfigError(f"{key}=style needs image data; data.name={cfg.data.name} holds points")
    if cfg.loss.pl_weight > 0 and cfg.g.arch != "style":
        raise ConfigError(f"loss.pl_weight > 0 (path-length regularisation) needs g.arch=style, "
                          f"got g.arch={cfg.g.arch}")


def _check_task(cfg: RunConfig) -> None:
    """The task kind, and the settings that do not apply to it (one line each)."""
    if cfg.train.sampler not in ("random", "epoch"):
        raise ConfigError(f"config key 'train.sampler' must be random or epoch, got {cfg.train.sampler!r}")
    from .tasks import TASKS  # later kinds (unpaired, superres, inpaint) register there

    TASKS.get(cfg.task.kind)
    from .data.superres import check_scale, parse_degrade

    check_scale(cfg.task.scale)
    parse_degrade(cfg.task.degrade)
    if cfg.task.pretrain_steps > 10_000_000:
        raise ConfigError(f"config key 'task.pretrain_steps' must be at most 10,000,000, "
                          f"got {cfg.task.pretrain_steps:,}")
    if cfg.task.pool_size > 10_000:
        raise ConfigError(f"config key 'task.pool_size' must be at most 10,000 (fakes kept in memory), "
                          f"got {cfg.task.pool_size:,}")
    if (cfg.data.holdout or cfg.data.target) and cfg.task.kind != "table":
        raise ConfigError("data.holdout and data.target apply to task.kind=table")
    if cfg.data.columns or cfg.task.kind == "table":
        from .data.table import TABLE_SETS, parse_columns
        from .errors import DataError

        try:
            parse_columns(cfg.data.columns)
        except DataError as e:
            raise ConfigError(str(e)) from None
        if not 0.0 <= cfg.data.holdout < 1.0:
            raise ConfigError(f"config key 'data.holdout' must be in [0, 1), got {cfg.data.holdout}")
        if cfg.task.kind == "table" and cfg.data.name not in TABLE_SETS:
            raise ConfigError(f"task.kind=table needs data.name {' | '.join(TABLE_SETS)}, "
                              f"got {cfg.data.name!r}")
    if cfg.task.kind == "generate":
        if cfg.task.pretrain_steps:
            raise ConfigError("task.pretrain_steps does not apply to task.kind=generate: "
                              "it has no reconstruction loss to pre-train on")
        return
    why = {
        "train.conditional": (cfg.train.conditional, "the input image is the condition"),
        "eval.metrics": (bool(cfg.eval.metrics), "its scores are fixed by the task (PSNR, SSIM, L1 beside "
                         "a baseline; FID with eval.features)"),
        "train.ada_target": (cfg.train.ada_target > 0, "adaptive augmentation is for task.kind=generate"),
    }
    for key, (on, reason) in why.items():
        if on:
            raise ConfigError(f"{key} does not apply to task.kind={cfg.task.kind}: {reason}")


def from_dict(data: dict[str, Any] | None) -> RunConfig:
    cfg = _build(RunConfig, data or {}, "")
    _check(cfg)
    return cfg


def parse_override(text: str) -> tuple[str, Any]:
    """`a.b=value` -> ("a.b", parsed value); the value is read as YAML (so 3e-4, true, null work)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {text!r} must look like key=value, e.g. train.steps=3000")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    if isinstance(value, (dict, list)):
        value = raw  # `--set data.path=[x]` is a string, not a structure
    return key, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set dotted keys inside a nested dict; unknown keys are caught later by from_dict."""
    out = _deepcopy(data)
    for text in overrides:
        key, value = parse_override(text)
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"unknown config key '{key}' ('{part}' is not a section)")
            node = child
        node[parts[-1]] = value
    return out


def _deepcopy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deepcopy(v) for k, v in data.items()}
    return data


def load_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(e, "problem", None) or "not valid YAML"
        raise ConfigError(f"malformed YAML in {p}{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p} must hold a mapping of config keys, got {type(data).__name__}")
    return data


def load(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML recipe (or start from defaults), apply `key=value` overrides, validate."""
    data = load_yaml(path) if path is not None else {}
    return from_dict(apply_overrides(data, overrides or []))
