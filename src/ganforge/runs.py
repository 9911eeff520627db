"""Run directories: train, resume, evaluate and sample a run. The CLI is a thin layer over these.

A run directory holds `config.yaml`, `metrics.jsonl`, `checkpoints/`, `samples/` and `eval.json`;
nothing is written outside it.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import RunConfig
from .data import build_data
from .data.images import StackedData
from .errors import CheckpointError, ConfigError, DataError
from .evaluation import Evaluator, default_metrics, flat_scores, protocol_n, versions
from .metrics.modes import STACKED_N
from .metrics.suite import parse_metrics
from .train.callbacks import (
    Checkpointer,
    EvalLogger,
    HealthWatch,
    ImageGrid,
    JsonlLogger,
    PointPlotter,
    ProgressBar,
)
from .train.health import Event, Thresholds
from .train.state import (
    generator_from,
    list_checkpoints,
    load_checkpoint,
    load_generator,
    restore,
)
from .train.trainer import Trainer, TrainingDiverged, fit, generate


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


def health_watch(cfg: RunConfig, log: Path, verbose: bool) -> HealthWatch | None:
    """The monitors with the run's settings (auto check interval and warmup from train.steps)."""
    if not cfg.health.enabled:
        return None
    steps = cfg.train.steps
    every = cfg.health.check_every or max(25, steps // 100)
    th = Thresholds(warmup=cfg.health.warmup or max(300, 3 * steps // 10), loss_bound=cfg.health.loss_bound)
    return HealthWatch(log, every, th, verbose=verbose)


def _fit(trainer: Trainer, out: Path, progress: bool, plots: bool,
         until: int | None = None) -> dict[str, Any]:
    """The loop with its callbacks; on divergence, roll back and lower the lrs (health.on_diverge)."""
    retries = 0
    while True:
        cfg = trainer.cfg
        stop = _check_until(cfg, until)
        logger = JsonlLogger(out / "metrics.jsonl", cfg.train.log_every)
        watch = health_watch(cfg, out / "metrics.jsonl", verbose=True)  # events print even if quiet
        plotter: PointPlotter | ImageGrid | None = None
        if plots:
            kind = ImageGrid if trainer.data.kind == "images" else PointPlotter
            plotter = kind(out / "samples", cfg.train.plot_every)
        callbacks: list[Any] = [watch] if watch else []
        callbacks += [logger, Checkpointer(out, cfg.train.ckpt_every, cfg.train.keep_last)]
        if plotter:
            callbacks.append(plotter)
        if cfg.train.eval_every:
            callbacks.append(_training_eval(trainer, out / "metrics.jsonl", progress))
        if progress:
            callbacks.append(ProgressBar(stop))
        try:
            fit(trainer, stop, callbacks)
            break
        except TrainingDiverged as e:
            if cfg.health.on_diverge != "rollback" or retries >= cfg.health.max_retries:
                saved = list_checkpoints(out)
                where = f"; the run is resumable from step {saved[-1][0]}" if saved else \
                    "; no checkpoint was written before it"
                tried = f" after {retries} rollback(s)" if retries else ""
                raise TrainingDiverged(f"training diverged{tried}: {e}{where}") from None
            retries += 1
            trainer = _roll_back(trainer, out, retries, str(e), progress)
    return {"run": str(out), "step": trainer.step, "last_log": logger.last,
            "plot": str(plotter.last_path) if plotter and plotter.last_path else None,
            "state": watch.health.state if watch else None,
            "events": [ev.line() for ev in watch.health.events] if watch else [],
            "retries": retries}


def _roll_back(trainer: Trainer, out: Path, attempt: int, why: str, progress: bool) -> Trainer:
    """Back to the last checkpoint (or the start) with both learning rates times health.lr_factor."""
    from dataclasses import replace

    cfg = trainer.cfg
    f = cfg.health.lr_factor
    new = replace(cfg, opt_g=replace(cfg.opt_g, lr=cfg.opt_g.lr * f),
                  opt_d=replace(cfg.opt_d, lr=cfg.opt_d.lr * f))
    saved = list_checkpoints(out)
    fresh = Trainer(new)
    if saved:  # the config's (lowered) lrs win over the checkpoint's
        fresh = restore(fresh, load_checkpoint(saved[-1][1]))
    (out / "config.yaml").write_text(new.to_yaml())
    ev = Event(fresh.step, "recovery", "Running",
               f"{why}; rolled back to step {fresh.step} with opt_g.lr {new.opt_g.lr:.3g} and opt_d.lr "
               f"{new.opt_d.lr:.3g} (rollback {attempt} of {cfg.health.max_retries})")
    # the restarted JsonlLogger drops the lines after fresh.step (a future that did not happen)
    with (out / "metrics.jsonl").open("a") as fh:
        fh.write(json.dumps({"step": ev.step, "event": ev.to_dict()}) + "\n")
    if progress:
        print(f"health: {ev.line()}", file=sys.stderr)
    return fresh


def _training_eval(trainer: Trainer, log: Path, progress: bool) -> EvalLogger:
    """train.eval_every: eval.metrics on eval.n_during samples of the EMA copy (G when none),
    the same fixed noise seed each time, logged to metrics.jsonl as {"step", "eval": {...}}."""
    cfg = trainer.cfg
    names = parse_metrics(cfg.eval.metrics) or default_metrics(trainer.data)
    n, seed = cfg.eval.n_during, cfg.eval.seed
    evaluator = Evaluator(cfg, names, n, seed, progress=False)
    if progress:
        from tqdm import tqdm

        tqdm.write(f"evaluating {', '.join(names)} on {n} samples every {cfg.train.eval_every} steps",
                   file=sys.stderr)

    def measure(t: Trainer) -> dict[str, float]:
        x = t.generate(n, torch.Generator().manual_seed(seed), use_ema=cfg.eval.use_ema)
        return flat_scores(evaluator(x))

    return EvalLogger(log, cfg.train.eval_every, measure)


def evaluate(run: str | Path, n: int | None = None, seed: int | None = None,
             use_ema: bool | None = None, write: bool = True, metrics: str | list[str] | None = None,
             features: str | None = None, ref: str | None = None, progress: bool = False,
             inception_weights: str | None = None) -> dict[str, Any]:
    """Score a run's latest checkpoint; merges the scores into RUN/eval.json, each with provenance."""
    run = Path(run)
    ckpt = load_checkpoint(run)
    cfg = ckpt.config
    seed = cfg.eval.seed if seed is None else seed
    use = (cfg.eval.use_ema if use_ema is None else use_ema) and ckpt.has_ema()
    try:
        data = build_data(cfg.data)
    except DataError as e:
        raise DataError(f"cannot evaluate: the run's data is unavailable ({e})") from None
    names = parse_metrics(metrics) or parse_metrics(cfg.eval.metrics) or default_metrics(data)
    n = n or cfg.eval.n_samples or protocol_n(data, names)
    if n < 2:
        raise DataError(f"-n must be >= 2, got {n}")
    g = generator_from(ckpt, use)
    x = generate(g, cfg, n, torch.Generator().manual_seed(seed))
    opts = {"inception_weights": inception_weights} if inception_weights else {}
    report = Evaluator(cfg, names, n, seed, features, ref, progress, opts, data=data)(x)
    if "modes" in names and isinstance(data, StackedData) and n != STACKED_N:
        report.warnings.append(f"modes: the stacked-MNIST protocol uses {STACKED_N:,} samples, this is "
                               f"{n:,}; modes and KL are not comparable with published rows")
    common = {"checkpoint": str(ckpt.path), "checkpoint_step": ckpt.step, "seed": seed,
              "generator": "ema" if use else "g",
              "noise": "training distribution; no truncation, no rejection",
              "versions": versions(),
              "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    for entry in report.results.values():
        entry["provenance"] = {**entry.pop("provenance", {}), **common}
    path = run / "eval.json" if run.is_dir() else run.parent.parent / "eval.json"
    old: dict[str, Any] = {}
    if write and path.exists():
        try:
            old = json.loads(path.read_text()).get("metrics", {})
        except (ValueError, AttributeError):
            old = {}
    result = {"data": cfg.data.name, "run": str(run), "eval_json": str(path), "checkpoint_step": ckpt.step,
              "metrics": {**old, **report.results}, "warnings": report.warnings,
              "computed": list(report.results)}
    if write:
        tmp = path.with_name(".eval.json.tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        tmp.replace(path)
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
