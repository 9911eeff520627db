"""Run directories: train, resume, evaluate and sample a run. The CLI is a thin layer over these.

A run directory holds `config.yaml`, `metrics.jsonl`, `checkpoints/`, `samples/` and `eval.json`;
nothing is written outside it.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .config import RunConfig
from .data import build_data
from .errors import CheckpointError, ConfigError, DataError
from .metrics.modes import mode_stats, sliced_wasserstein
from .train.callbacks import Checkpointer, ImageGrid, JsonlLogger, PointPlotter, ProgressBar
from .train.state import generator_from, list_checkpoints, load_checkpoint, load_generator, restore
from .train.trainer import Trainer, fit, generate


def _prepare_new_run(out: Path, force: bool) -> None:
    if out.exists() and any(out.iterdir()):
        is_run = (out / "config.yaml").exists() or list_checkpoints(out)
        if not force:
            hint = "resume it with --resume, or pass --force to start over" if is_run else \
                "choose another --out"
            raise CheckpointError(f"{out} already exists and is not empty; {hint}")
        if not is_run:
            raise CheckpointError(f"{out} is not a ganforge run; refusing to delete it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def train(cfg: RunConfig, out: str | Path, force: bool = False, progress: bool = True,
          plots: bool = True, until: int | None = None) -> tuple[Trainer, dict[str, Any]]:
    """Start a new run in `out` and train it to `cfg.train.steps` (or stop after `until`)."""
    out = Path(out)
    _check_until(cfg, until)
    trainer = Trainer(cfg)  # every bad name or file fails here, before the run dir is touched
    _prepare_new_run(out, force)
    (out / "config.yaml").write_text(cfg.to_yaml())
    return trainer, _fit(trainer, out, progress, plots, until)


def _check_until(cfg: RunConfig, until: int | None) -> int:
    stop = cfg.train.steps if until is None else until
    if not 0 < stop <= cfg.train.steps:
        raise ConfigError(f"--until must be in 1..train.steps ({cfg.train.steps}), got {stop}")
    return stop


def resume(run: str | Path, cfg: RunConfig | None = None, overrides: list[str] | None = None,
           progress: bool = True, plots: bool = True, until: int | None = None,
           ) -> tuple[Trainer, dict[str, Any]]:
    """Continue a run from its latest checkpoint; `overrides` change e.g. train.steps."""
    from .config import apply_overrides, from_dict

    run = Path(run)
    ckpt = load_checkpoint(run)
    if cfg is None:
        cfg = from_dict(apply_overrides(ckpt.config.to_dict(), overrides or []))
    trainer = restore(Trainer(cfg), ckpt)
    if trainer.step >= cfg.train.steps:
        raise ConfigError(f"{run} is already at step {trainer.step} of train.steps="
                          f"{cfg.train.steps}; train longer with --set train.steps=N")
    (run / "config.yaml").write_text(cfg.to_yaml())
    return trainer, _fit(trainer, run, progress, plots, until)


def _fit(trainer: Trainer, out: Path, progress: bool, plots: bool,
         until: int | None = None) -> dict[str, Any]:
    cfg = trainer.cfg
    stop = _check_until(cfg, until)
    logger = JsonlLogger(out / "metrics.jsonl", cfg.train.log_every)
    plotter: PointPlotter | ImageGrid | None = None
    if plots:
        kind = ImageGrid if trainer.data.kind == "images" else PointPlotter
        plotter = kind(out / "samples", cfg.train.plot_every)
    callbacks: list[Any] = [logger, Checkpointer(out, cfg.train.ckpt_every, cfg.train.keep_last)]
    if plotter:
        callbacks.append(plotter)
    if progress:
        callbacks.append(ProgressBar(stop))
    fit(trainer, stop, callbacks)
    return {"run": str(out), "step": trainer.step, "last_log": logger.last,
            "plot": str(plotter.last_path) if plotter and plotter.last_path else None}


def provenance(ckpt_path: Path, step: int, n: int, seed: int, source: str) -> dict[str, Any]:
    return {
        "checkpoint": str(ckpt_path),
        "checkpoint_step": step,
        "n_samples": n,
        "seed": seed,
        "generator": source,
        "noise": "training distribution; no truncation, no rejection",
        "ganforge_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def evaluate(run: str | Path, n: int | None = None, seed: int | None = None,
             use_ema: bool | None = None, write: bool = True) -> dict[str, Any]:
    """Mode metrics (VEEGAN/PacGAN protocol) of a run's latest checkpoint; writes RUN/eval.json."""
    run = Path(run)
    ckpt = load_checkpoint(run)
    cfg = ckpt.config
    n = n or cfg.eval.n_samples
    seed = cfg.eval.seed if seed is None else seed
    use = (cfg.eval.use_ema if use_ema is None else use_ema) and ckpt.has_ema()
    g = generator_from(ckpt, use)
    source = "ema" if use else "g"
    try:
        data = build_data(cfg.data)
    except DataError as e:
        raise DataError(f"cannot evaluate: the run's data is unavailable ({e})") from None
    x = generate(g, cfg, n, torch.Generator().manual_seed(seed))
    result: dict[str, Any] = {"data": cfg.data.name}
    if data.modes is not None:
        stats = mode_stats(x, data.modes, data.std)
        result.update({k: stats[k] for k in ("modes", "modes_total", "hq", "reverse_kl")})
        result["mode_counts"] = stats["counts"]
        result["protocol"] = (f"VEEGAN/PacGAN: high quality = within {stats['threshold_std']:g} "
                              f"std ({data.std:g}) of the nearest mode")
    else:
        result.update({"modes": None, "modes_total": None, "hq": None, "reverse_kl": None})
    real = data.sample(n, torch.Generator().manual_seed(seed + 1))
    key = "sliced_wasserstein" if x.dim() == 2 else "sliced_wasserstein_pixels"
    result[key] = sliced_wasserstein(x.flatten(1), real.flatten(1), seed=seed)
    result["provenance"] = provenance(ckpt.path, ckpt.step, n, seed, source)
    if write:
        tmp = run / ".eval.json.tmp"
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        tmp.replace(run / "eval.json")
    return result


def sample(run: str | Path, n: int, seed: int, out: str | Path,
           use_ema: bool = True, label: int | None = None) -> Path:
    """Write n generated samples to .csv / .npy, or (images) a .png grid; the name picks."""
    out = Path(out)
    if out.suffix not in (".csv", ".npy", ".png"):
        raise DataError(f"output {out} must end in .csv, .npy or .png")
    if n < 1:
        raise DataError(f"-n must be >= 1, got {n}")
    ckpt, g = load_generator(run, use_ema=use_ema)
    labels = None
    k = getattr(g, "num_classes", 0)
    if label is not None:
        if not k:
            raise DataError("--label needs a class-conditional model (train.conditional=true)")
        if not 0 <= label < k:
            raise DataError(f"--label must be in 0..{k - 1}, got {label}")
        labels = torch.full((n,), label, dtype=torch.int64)
    t = generate(g, ckpt.config, n, torch.Generator().manual_seed(seed), labels=labels)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".png":
        if t.dim() != 4:
            raise DataError("a .png grid needs an image model; use .csv or .npy for points")
        from .viz import save_image_grid

        save_image_grid(out, t, nrow=max(1, min(16, round(n**0.5))))
        return out
    x = t.numpy()
    if out.suffix == ".csv" and x.ndim > 2:
        x = x.reshape(len(x), -1)
    if out.suffix == ".npy":
        np.save(out, x)
    else:
        header = ",".join(f"x{i}" for i in range(x.shape[1])) if x.shape[1] != 2 else "x,y"
        np.savetxt(out, x, delimiter=",", header=header, comments="", fmt="%.7g")
    return out
