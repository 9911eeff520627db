"""What the lab's page speaks: its settings and the config keys each sets, its defaults and
bounds (Limits), which runs it can draw, and the rounded JSON shapes of what it is sent.

Kept apart from the session so that the server, the worker processes and the CLI read the same
tables, and the session module holds only the training and drawing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ..config import RunConfig
from ..data.toy import TOY_SETS
from ..losses import LOSSES
from ..penalties import PENALTIES
from ..training.state import Checkpoint

# page setting -> config keys it sets
SETTING_KEYS: dict[str, tuple[str, ...]] = {
    "dataset": ("data.name",),
    "loss": ("loss.name",),
    "penalty": ("loss.penalty",),
    "penalty_weight": ("loss.penalty_weight",),
    "spectral_norm": ("d.spectral_norm",),
    "pack": ("d.pack",),
    "d_steps": ("train.d_steps",),
    "optimizer": ("opt_g.name", "opt_d.name"),
    "lr_d": ("opt_d.lr",),
    "lr_g": ("opt_g.lr",),
    "g_depth": ("g.depth",),
    "g_width": ("g.width",),
    "d_depth": ("d.depth",),
    "d_width": ("d.width",),
    "noise_dim": ("g.noise_dim",),
    "noise": ("g.noise",),
    "seed": ("seed",),
    "batch_size": ("train.batch_size",),
    "ema": ("train.ema",),
    "beta1": ("opt_g.beta1", "opt_d.beta1"),
    "beta2": ("opt_g.beta2", "opt_d.beta2"),
    "penalty_every": ("loss.penalty_every",),
    "conditional": ("train.conditional",),
}
# settings whose change rebuilds the nets (a reset); the others apply from the next step on
STRUCTURAL = {"dataset", "spectral_norm", "pack", "g_depth", "g_width", "d_depth", "d_width",
              "noise_dim", "noise", "seed", "conditional"}
USER_SETS = {"draw", "csv"}  # points sent by the page

DEFAULTS: dict[str, Any] = {
    "dataset": "two", "loss": "ns", "penalty": "none", "penalty_weight": 1.0,
    "spectral_norm": False, "pack": 1, "d_steps": 1, "optimizer": "adam", "lr_d": 0.03,
    "lr_g": 0.03, "g_depth": 2, "g_width": 64, "d_depth": 2, "d_width": 64, "noise_dim": 2,
    "noise": "normal", "seed": 0, "batch_size": 128, "ema": 0.0, "beta1": 0.0, "beta2": 0.99,
    "penalty_every": 1, "conditional": False,
}
# The image sets the lab trains, at the side it trains them (digits: 8x8 upscaled, as
# configs/digits-tiny.yaml), with small DCGAN nets (the config keys the page has no control for).
LAB_IMAGES: dict[str, int] = {"digits": 16, "mnist": 28, "fashion-mnist": 28}
IMAGE_NETS = {"g": {"arch": "dcgan", "batch_norm": True, "activation": "relu"},
              "d": {"arch": "dcgan", "batch_norm": False, "activation": "leaky_relu"}}
# An image set starts from the DCGAN paper's recipe (Adam 2e-4..5e-4, beta1 0.5) at a width one
# CPU core trains at tens of steps a second; the 2-D defaults (lr 0.03, 2 noise dims) would not learn.
IMAGE_DEFAULTS: dict[str, Any] = dict(
    DEFAULTS, dataset="digits", lr_d=5e-4, lr_g=5e-4, beta1=0.5, beta2=0.999, noise_dim=32,
    g_width=32, d_width=32, batch_size=64)


def kind_of(dataset: str) -> str:
    """"images" for the lab's image sets, "points" for the toy sets and the page's own points."""
    return "images" if dataset in LAB_IMAGES else "points"


def defaults_for(kind: str) -> dict[str, Any]:
    return dict(IMAGE_DEFAULTS if kind == "images" else DEFAULTS)


@dataclass
class Limits:
    """Bounds that keep one session from taking the machine."""

    max_sessions: int = 8
    max_points: int = 5000
    max_width: int = 256
    max_depth: int = 6
    max_noise_dim: int = 16
    max_batch: int = 1024
    max_d_steps: int = 10  # D updates per step (the page offers 1-10): a step's time grows with it
    max_penalty_every: int = 100
    max_pack: int = 8
    max_lr: float = 10.0
    max_penalty_weight: float = 1000.0
    max_seed: int = 2**32 - 1  # torch takes up to 2**64 - 1; the page's number input up to 2**53
    max_steps_per_s: float = 1000.0
    idle_seconds: float = 600.0
    field_resolution: int = 40
    n_show: int = 300  # real / fake points drawn
    n_eval: int = 1000  # samples for the live mode statistics
    density_points: int = 200  # 1-D view: x grid of the densities and D(x)
    n_density: int = 2000  # 1-D view: G's samples behind its density estimate
    max_image_width: int = 64  # image nets: channels next to the image (they double inwards)
    max_image_noise_dim: int = 128
    grid_cols: int = 8  # image view: G's samples from fixed noise, 8 x 8 (conditional: a row per class)
    n_real_show: int = 16  # image view: real images beside them, with D's verdict
    hist_bins: int = 20  # image view: the histogram of D's outputs (on the quality check's batches)
    walk_points: int = 24  # image view: G along a loop through noise space (the slider's stops)
    slow_images: int = 8  # image view, slow motion: the images of the batch shown
    n_eval_images: int = 300  # image view: G's samples behind the live quality check
    max_message_chars: int = 1_000_000  # one message from the page; max_points pairs need ~45 each
    device: str = "cpu"  # where sessions train (`ganforge lab --device`): small nets step fastest on a CPU
    processes: bool = False  # a worker process per session (`ganforge lab` does): off the server's GIL


def options() -> dict[str, Any]:
    """What the page's menus offer, from the library's registries."""
    return {
        "datasets": [n for n in TOY_SETS.names() if n != "csv"] + ["draw", "csv"] + list(LAB_IMAGES),
        "image_sets": list(LAB_IMAGES),
        "losses": LOSSES.names(),
        "penalties": ["none", *PENALTIES.names()],
        "optimizers": ["adam", "rmsprop", "sgd"],
        "noises": ["normal", "uniform"],
        "defaults": dict(DEFAULTS),
        "image_defaults": dict(IMAGE_DEFAULTS),
    }


LAB_TRAIN = {"steps": 10**9, "threads": 0, "log_every": 1}  # a session steps until the page stops it


def settings_of(cfg: RunConfig) -> dict[str, Any]:
    """The page's settings of a run config (each read from the first config key it sets)."""
    flat = cfg.to_dict()
    out: dict[str, Any] = {}
    for key, cks in SETTING_KEYS.items():
        section, _, name = cks[0].rpartition(".")
        out[key] = flat[section][name] if section else flat[name]
    return out


def drawable(ckpt: Checkpoint) -> str | None:
    """Why the lab cannot draw a checkpoint's run (None when it can): 1-D or 2-D points of a toy
    set (or a CSV of points) with MLP nets, unconditional; or one of the lab's image sets (digits,
    MNIST, Fashion-MNIST, grey, at most 32 pixels a side) with DCGAN nets, conditional or not."""
    cfg = ckpt.config
    shape = list(ckpt.data_shape)
    if cfg.data.name in LAB_IMAGES:
        if cfg.g.arch != "dcgan" or cfg.d.arch != "dcgan":
            return f"its nets are {cfg.g.arch} / {cfg.d.arch}; the lab draws image runs with DCGAN nets"
        if len(shape) != 3 or shape[0] != 1 or shape[1] > 32:
            return f"its images are {tuple(shape)}; the lab draws grey images up to 32 x 32"
        return None
    if cfg.g.arch != "mlp" or cfg.d.arch != "mlp":
        return f"its nets are {cfg.g.arch} / {cfg.d.arch}; the lab draws MLP nets"
    if shape not in ([1], [2]) or cfg.data.name not in TOY_SETS:
        known = ", ".join(LAB_IMAGES)
        return (f"its data ({cfg.data.name}, shape {tuple(shape)}) are not 1-D or 2-D points of a toy "
                f"set nor one of the lab's image sets ({known})")
    if cfg.train.conditional:
        return "it is class-conditional; the lab draws class-conditional runs of image sets only"
    return None


def page_state(playing: bool, health: str) -> str:
    """The status line's State: Paused when not playing and nothing is wrong, else the health."""
    return "Paused" if not playing and health == "Running" else health


def points_json(t: torch.Tensor) -> list[list[float]]:
    """Points for the page, rounded (frames are sent many times a second)."""
    return [[round(float(a), 4) for a in row] for row in t.tolist()]


def values_json(t: torch.Tensor) -> list[float]:
    """Values for the page, rounded."""
    return [round(float(a), 5) for a in t.reshape(-1).tolist()]


def num_json(v: Any) -> Any:
    """A number for the page: rounded, and None for NaN / infinity (not JSON)."""
    if isinstance(v, float):
        return round(v, 5) if math.isfinite(v) else None
    return v
