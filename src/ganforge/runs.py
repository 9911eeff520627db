"""Run directories: train, resume, evaluate and sample a run. The CLI is a thin layer over these.

A run directory holds `config.yaml`, `metrics.jsonl`, `checkpoints/`, `samples/` and `eval.json`;
nothing is written outside it. Under torchrun every rank trains (training/distributed.py) and rank 0
alone writes the run directory; the other ranks read only what they resume from.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from .config import RunConfig
from .data.images import ImageData
from .device import resolve_device
from .errors import CheckpointError, ConfigError
from .task_eval import SCORERS, EvalRequest
from .tasks import TASKS
from .training import distributed
from .training.callbacks import (
    Checkpointer,
    CycleGrid,
    EvalLogger,
    HealthWatch,
    ImageGrid,
    InpaintGrid,
    JsonlLogger,
    PointPlotter,
    ProgressBar,
    TableSamples,
    TranslationGrid,
)
from .training.distributed import World
from .training.health import Event, Thresholds
from .training.state import (
    checkpoint_path,
    list_checkpoints,
    load_checkpoint,
    restore,
    run_dir_of,
    save_checkpoint,
)
from .training.trainer import Trainer, TrainingDiverged, fit


def say_skipped(data: Any) -> None:
    """Image folders tolerate some unreadable files (data.max_bad_share); the user hears how many."""
    if isinstance(data, ImageData) and data.skipped:
        print(f"ganforge: note: {data.skipped} unreadable image file(s) skipped; using "
              f"{data.description}", file=sys.stderr)


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
          plots: bool = True, until: int | None = None, device: str | None = None,
          callbacks: list[Any] | tuple[Any, ...] = ()) -> tuple[Trainer, dict[str, Any]]:
    """Start a new run in `out` and train it to `cfg.train.steps` (or stop after `until`);
    `device` overrides train.device; `callbacks` run after the built-in ones."""
    out = Path(out)
    _check_until(cfg, until)
    world = distributed.from_env()
    dev = _rank_device(cfg, device, world)
    with distributed.session(world, dev, cfg.train.dist_timeout), _one_line_comm_errors():
        trainer = Trainer(cfg, device=dev, world=world)  # bad names, files, devices fail here,
        if world.main:                                  # before out is touched
            say_skipped(trainer.data)

        def start() -> None:
            _prepare_new_run(out, force)
            (out / "config.yaml").write_text(cfg.to_yaml())

        world.first("preparing the run directory", start)
        return trainer, _fit(trainer, out, progress, plots, until, list(callbacks))


def _rank_device(cfg: RunConfig, device: str | None, world: World) -> torch.device:
    """The device, chosen once: --device, else train.device; under torchrun, this rank's."""
    asked = device if device is not None else cfg.train.device
    return distributed.rank_device(resolve_device(asked), world, asked)


@contextmanager
def _one_line_comm_errors() -> Iterator[None]:
    """A collective that fails inside training (DDP's all-reduce runs in backward) raises c10d's
    long error; the user reads one line saying that another rank died or hung."""
    try:
        yield
    except RuntimeError as e:
        if distributed.is_comm_failure(e):
            raise distributed.lost_contact(e) from None
        raise


def _check_until(cfg: RunConfig, until: int | None) -> int:
    stop = cfg.train.steps if until is None else until
    if not 0 < stop <= cfg.train.steps:
        raise ConfigError(f"--until must be in 1..train.steps ({cfg.train.steps}), got {stop}")
    return stop


def resume(run: str | Path, cfg: RunConfig | None = None, overrides: list[str] | None = None,
           progress: bool = True, plots: bool = True, until: int | None = None,
           device: str | None = None, callbacks: list[Any] | tuple[Any, ...] = (),
           out: str | Path | None = None, force: bool = False) -> tuple[Trainer, dict[str, Any]]:
    """Continue a run from its latest checkpoint, or from a checkpoint file; `overrides` change
    e.g. train.steps. A file that is not its run's latest checkpoint (an earlier step, a lab
    export) continues in a new run directory `out`, so no later history is overwritten."""
    from .config import apply_overrides, from_dict

    run = Path(run)
    ckpt = load_checkpoint(run)  # every rank reads it (multi-node: a shared file system)
    run_dir, new = _resume_dir(run, ckpt.path, out)
    if cfg is None:
        cfg = from_dict(apply_overrides(ckpt.config.to_dict(), overrides or []))
    world = distributed.from_env()
    dev = _rank_device(cfg, device, world)
    with distributed.session(world, dev, cfg.train.dist_timeout), _one_line_comm_errors():
        trainer = restore(Trainer(cfg, device=dev, world=world), ckpt)
        if world.main:
            say_skipped(trainer.data)
        if trainer.step >= cfg.train.steps:
            raise ConfigError(f"{run} is already at step {trainer.step} of train.steps="
                              f"{cfg.train.steps}; train longer with --set train.steps=N")
        _check_until(cfg, until)

        def start() -> None:
            if new:  # a branch starts with the checkpoint it came from: rollbacks and resumes find it
                _prepare_new_run(run_dir, force)
                save_checkpoint(trainer, checkpoint_path(run_dir, trainer.step))
            (run_dir / "config.yaml").write_text(cfg.to_yaml())

        world.first("preparing the run directory", start)
        return trainer, _fit(trainer, run_dir, progress, plots, until, list(callbacks))


def _resume_dir(given: Path, ckpt_path: Path, out: str | Path | None) -> tuple[Path, bool]:
    """Where a resumed run goes, and whether that is a new run directory (a branch)."""
    target = Path(out) if out is not None else None
    if given.is_dir():
        if target is not None and target.resolve() != given.resolve():
            return target, True  # branch a run into a new directory
        return given, False
    owner = run_dir_of(ckpt_path)
    found = list_checkpoints(owner) if owner is not None else []
    latest = bool(found) and found[-1][1].resolve() == ckpt_path.resolve()
    in_place = target is None or (owner is not None and target.resolve() == owner.resolve())
    if not in_place:
        return target, True  # type: ignore[return-value]
    if owner is not None and latest:
        return owner, False
    why = (f"it is not the latest checkpoint of {owner}" if owner is not None
           else "it belongs to no run directory")
    raise CheckpointError(f"cannot resume {given} in place: {why}; pass --out NEW_RUN_DIR to "
                          "continue from it in a new run directory")


# by the data's kind for tasks that generate from noise, else by the task's name; points otherwise
PLOTTERS = {"images": ImageGrid, "paired": TranslationGrid, "superres": TranslationGrid,
            "inpaint": InpaintGrid, "unpaired": CycleGrid, "table": TableSamples}


def _plotter(kind: str) -> Any:
    return PLOTTERS.get(kind, PointPlotter)


def health_watch(cfg: RunConfig, log: Path, verbose: bool) -> HealthWatch | None:
    """The monitors with the run's settings (auto check interval and warmup from train.steps).
    Quality checks (collapse, progress) judge samples drawn from noise alone, so only the generate
    task has them; other tasks keep the loss-based monitors (divergence, runaway D)."""
    if not cfg.health.enabled:
        return None
    steps = cfg.train.steps
    every = cfg.health.check_every or max(25, steps // 100)
    if not TASKS.get(cfg.task.kind).from_noise:
        every = 0
    th = Thresholds(warmup=cfg.health.warmup or max(300, 3 * steps // 10), loss_bound=cfg.health.loss_bound)
    return HealthWatch(log, every, th, verbose=verbose)


class _Rank0Callbacks:
    """The built-in callbacks of one pass of the loop (logs, health, checkpoints, plots, evals,
    progress) and the user's. Under torchrun only rank 0 has any: the others train and write
    nothing."""

    def __init__(self, trainer: Trainer, out: Path, progress: bool, plots: bool, stop: int,
                 extra: list[Any]) -> None:
        cfg = trainer.cfg
        self.logger: JsonlLogger | None = None
        self.watch: HealthWatch | None = None
        self.plotter: PointPlotter | ImageGrid | TranslationGrid | None = None
        self.all: list[Any] = []
        if not trainer.world.main:
            return
        self.logger = JsonlLogger(out / "metrics.jsonl", cfg.train.log_every)
        self.watch = health_watch(cfg, out / "metrics.jsonl", verbose=True)  # events print even if quiet
        if plots:
            kind = trainer.data.kind if trainer.task.from_noise else trainer.task.name
            self.plotter = _plotter(kind)(out / "samples", cfg.train.plot_every)
        self.all = [self.watch] if self.watch else []
        self.all += [self.logger, Checkpointer(out, cfg.train.ckpt_every, cfg.train.keep_last)]
        if self.plotter:
            self.all.append(self.plotter)
        if cfg.train.eval_every:
            self.all.append(_training_eval(trainer, out / "metrics.jsonl", progress))
        if progress:
            self.all.append(ProgressBar(stop))
        self.all += extra

    def info(self, out: Path, step: int, retries: int) -> dict[str, Any]:
        plotter, watch = self.plotter, self.watch
        return {"run": str(out), "step": step, "last_log": self.logger.last if self.logger else {},
                "plot": str(plotter.last_path) if plotter and plotter.last_path else None,
                "state": watch.health.state if watch else None,
                "events": [ev.line() for ev in watch.health.events] if watch else [],
                "retries": retries}


def _fit(trainer: Trainer, out: Path, progress: bool, plots: bool,
         until: int | None = None, extra: list[Any] | None = None) -> dict[str, Any]:
    """The loop with its callbacks; on divergence, roll back and lower the lrs (health.on_diverge).
    Under torchrun the callbacks run on rank 0 only; every rank rolls back together."""
    retries = 0
    while True:
        cfg = trainer.cfg
        stop = _check_until(cfg, until)
        cbs = _Rank0Callbacks(trainer, out, progress, plots, stop, extra or [])
        try:
            fit(trainer, stop, cbs.all)
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
    return cbs.info(out, trainer.step, retries)


def _roll_back(trainer: Trainer, out: Path, attempt: int, why: str, progress: bool) -> Trainer:
    """Back to the last checkpoint (or the start) with both learning rates times health.lr_factor."""
    from dataclasses import replace

    cfg = trainer.cfg
    f = cfg.health.lr_factor
    new = replace(cfg, opt_g=replace(cfg.opt_g, lr=cfg.opt_g.lr * f),
                  opt_d=replace(cfg.opt_d, lr=cfg.opt_d.lr * f))
    saved = list_checkpoints(out)  # every rank: rank 0 wrote it before the ranks agreed to stop
    fresh = Trainer(new, trainer.data, device=trainer.device, world=trainer.world)
    if saved:  # the config's (lowered) lrs win over the checkpoint's
        fresh = restore(fresh, load_checkpoint(saved[-1][1]))
    if not trainer.world.main:
        return fresh
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
    """train.eval_every: the task's scores (task_eval.SCORERS) of the EMA copy (G when none) on
    eval.n_during samples (fixed noise) or held-out images (at most), logged to metrics.jsonl as
    {"step", "eval": {...}}. Built once: reference features and baselines are not recomputed."""
    cfg = trainer.cfg
    req = EvalRequest(cfg, cfg.eval.n_during, cfg.eval.seed, device=trainer.device)
    scorer = SCORERS.get(cfg.task.kind)(trainer.task, req)
    if progress:
        from tqdm import tqdm

        tqdm.write(f"evaluating {cfg.task.kind} scores every {cfg.train.eval_every} steps", file=sys.stderr)

    def measure(t: Trainer) -> dict[str, float]:
        return scorer(t.sampler(cfg.eval.use_ema)).scalars

    return EvalLogger(log, cfg.train.eval_every, measure)
