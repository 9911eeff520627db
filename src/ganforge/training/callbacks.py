"""What happens around a step: logging, plots, checkpoints, the progress bar.

Each callback is a small object with on_start / on_step / on_end / on_interrupt; the loop in
trainer.fit calls them in order. They are the trainer's only side effects. A user's own callback
(TensorBoard, W&B, ...) subclasses `Callback` and overrides what it needs; `ganforge.train(...,
callbacks=[...])` runs it after the built-in ones.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch

from .state import checkpoint_path, prune, save_checkpoint
from .trainer import Trainer

LOGGED = ("loss_d", "loss_g", "d_acc", "d_acc_real", "d_acc_fake", "grad_norm_d",
          "grad_norm_g", "penalty")


class Callback:
    """Hooks around training; every method is optional (the defaults do nothing).

    `stats` holds the step's numbers: step, loss_d, loss_g, d_acc, d_acc_real, d_acc_fake,
    grad_norm_d, grad_norm_g, penalty, time, and (with the health monitors) state."""

    def on_start(self, trainer: Trainer) -> None:
        """Before the first step (also after a resume or a rollback)."""

    def on_step(self, trainer: Trainer, stats: dict[str, Any]) -> None:
        """After every step; `trainer.step` is the number of steps done."""

    def on_end(self, trainer: Trainer) -> None:
        """After the last step."""

    def on_interrupt(self, trainer: Trainer) -> None:
        """On Ctrl-C or divergence (`trainer.diverged` then says why), before the error goes up."""


def epoch_of(trainer: Trainer) -> float:
    """Passes over the training points; for distributions sampled afresh, an epoch is a step."""
    size = trainer.data.size
    if size is None:
        return float(trainer.step)
    seen = trainer.step * trainer.cfg.train.batch_size * trainer.cfg.train.d_steps
    return seen / size


def _step_of(line: str) -> float:
    """The step of a metrics.jsonl line; a damaged line sorts last (dropped on resume)."""
    try:
        rec = json.loads(line)
        return float(rec.get("step", 0)) if isinstance(rec, dict) else math.inf
    except ValueError:
        return math.inf


class JsonlLogger(Callback):
    """Appends one JSON line per `every` steps to metrics.jsonl: means over the interval (under
    torchrun, of statistics already averaged over the ranks), with the job's world_size."""

    def __init__(self, path: str | Path, every: int) -> None:
        self.path = Path(path)
        self.every = every
        self._acc: dict[str, float] = {}
        self._count: dict[str, int] = {}  # finite values per key (fp16 steps skipped on overflow
        self._n = 0                        # have an infinite gradient norm: left out of the mean)
        self._t = time.perf_counter()
        self._state: str | None = None
        self.last: dict[str, Any] = {}

    def on_start(self, trainer: Trainer) -> None:
        # A resumed run continues the log: drop lines written after the checkpoint it resumes.
        if self.path.exists():
            keep = [ln for ln in self.path.read_text().splitlines()
                    if ln.strip() and _step_of(ln) <= trainer.step]
            self.path.write_text("".join(k + "\n" for k in keep))
        self._t = time.perf_counter()

    def on_step(self, trainer: Trainer, stats: dict[str, Any]) -> None:
        for k in LOGGED + trainer.stat_names:
            v = float(stats.get(k, 0.0))
            if math.isfinite(v):
                self._acc[k] = self._acc.get(k, 0.0) + v
                self._count[k] = self._count.get(k, 0) + 1
        self._state = stats.get("state")
        self._n += 1
        if trainer.step % self.every == 0:
            self.flush(trainer)

    def flush(self, trainer: Trainer) -> None:
        if not self._n:
            return
        now = time.perf_counter()
        rec: dict[str, Any] = {"step": trainer.step, "epoch": round(epoch_of(trainer), 4)}
        rec.update({k: round(v / self._count[k], 6) for k, v in self._acc.items()})
        rate = self._n * trainer.cfg.train.batch_size / max(now - self._t, 1e-9)
        rec["samples_per_s"] = round(rate, 1)  # the job's: batch_size is the global batch
        rec["world_size"] = trainer.world.size
        if self._state:
            rec["state"] = self._state
        self.last = rec
        with self.path.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        self._acc.clear()
        self._count.clear()
        self._n = 0
        self._t = now

    def on_end(self, trainer: Trainer) -> None:
        self.flush(trainer)

    def on_interrupt(self, trainer: Trainer) -> None:
        self.flush(trainer)


class PointPlotter(Callback):
    """Saves samples/step_XXXXXXX.png: real vs generated points over D's field (2-D data)."""

    def __init__(self, folder: str | Path, every: int, n: int = 1000) -> None:
        self.folder = Path(folder)
        self.every = every
        self.n = n
        self.last_path: Path | None = None

    def on_step(self, trainer: Trainer, stats: dict[str, Any]) -> None:
        if self.every and trainer.step % self.every == 0:
            self.plot(trainer, stats)

    def on_end(self, trainer: Trainer) -> None:
        if not (self.every and trainer.step % self.every == 0):
            self.plot(trainer, {})

    def plot(self, trainer: Trainer, stats: dict[str, Any]) -> Path:
        from ..viz import field_grid, plot_density_1d, plot_points

        real = trainer.data.sample(self.n, torch.Generator().manual_seed(0))
        fake = trainer.generate(self.n, torch.Generator().manual_seed(1)).cpu()  # same noise each time
        bounds = trainer.data.bounds()
        if trainer.data.shape == (1,):  # 1-D: densities and D(x) on one axis
            title = f"{trainer.cfg.data.name} — step {trainer.step}"
            xs = torch.linspace(bounds[0], bounds[1], 400)
            data = trainer.data
            pdf = data.density(xs[:, None]).numpy() if data.modes is not None else None
            self.last_path = plot_density_1d(
                self.folder / f"step_{trainer.step:07d}.png", xs.numpy(), pdf, fake,
                trainer.d_prob(xs[:, None]).numpy(), title, real)
            return self.last_path
        _, _, grid = field_grid(bounds)
        field = trainer.d_prob(grid).reshape(120, 120).numpy()
        title = f"{trainer.cfg.data.name} — step {trainer.step}"
        if stats:
            title += (f" — D loss {stats['loss_d']:.3f}  G loss {stats['loss_g']:.3f}"
                      f"  D acc {100 * stats['d_acc']:.0f}%")
        self.last_path = plot_points(
            self.folder / f"step_{trainer.step:07d}.png", real, fake, bounds, field, title,
            trainer.data.modes,
        )
        return self.last_path


class PeriodicPlot(Callback):
    """A picture every `every` steps and one at the end (unless the last step just made one)."""

    every: int

    def on_step(self, trainer: Trainer, stats: dict[str, Any]) -> None:
        if self.every and trainer.step % self.every == 0:
            self.plot(trainer)

    def on_end(self, trainer: Trainer) -> None:
        if not (self.every and trainer.step % self.every == 0):
            self.plot(trainer)

    def plot(self, trainer: Trainer) -> Path:
        raise NotImplementedError


class ImageGrid(PeriodicPlot):
    """Saves samples/step_XXXXXXX.png: a grid of G's images from the same noise every time."""

    def __init__(self, folder: str | Path, every: int, n: int = 64, nrow: int = 8) -> None:
        self.folder = Path(folder)
        self.every = every
        self.n = n
        self.nrow = nrow
        self.last_path: Path | None = None

    def plot(self, trainer: Trainer) -> Path:
        from ..viz import save_image_grid

        k = trainer.num_classes
        if k and k <= 20:  # one row per class
            labels = torch.arange(k).repeat_interleave(self.nrow)
            x = trainer.generate(len(labels), torch.Generator().manual_seed(1), labels=labels).cpu()
        else:
            x = trainer.generate(self.n, torch.Generator().manual_seed(1)).cpu()
        self.last_path = save_image_grid(self.folder / f"step_{trainer.step:07d}.png", x, self.nrow)
        return self.last_path


class TranslationGrid(PeriodicPlot):
    """Saves samples/step_XXXXXXX.png for image-to-image tasks: rows of input | output | target
    triplets on the same held-out pairs every time (the task's `preview`; a smaller input is shown
    with its pixels enlarged)."""

    def __init__(self, folder: str | Path, every: int, n: int = 24, per_row: int = 4) -> None:
        self.folder = Path(folder)
        self.every = every
        self.n = n
        self.per_row = per_row
        self.last_path: Path | None = None
        self.pairs: tuple[torch.Tensor, torch.Tensor] | None = None

    def on_start(self, trainer: Trainer) -> None:
        self.pairs = trainer.task.preview(self.n)

    def plot(self, trainer: Trainer) -> Path:
        from ..generation import translate
        from ..viz import save_image_grid

        if self.pairs is None:
            self.on_start(trainer)
        a, b = self.pairs  # type: ignore[misc]
        out = translate(trainer.sampler(), a)
        if a.shape[1] == 1 != out.shape[1]:  # grey inputs beside colour outputs
            a = a.expand(-1, out.shape[1], -1, -1)
        if a.shape[-2:] != out.shape[-2:]:  # super-resolution: show the input at the output's size
            a = torch.nn.functional.interpolate(a, size=out.shape[-2:], mode="nearest")
        x = torch.stack([a, out, b], 1).reshape(-1, *out.shape[1:])  # input, output, target, ...
        self.last_path = save_image_grid(self.folder / f"step_{trainer.step:07d}.png", x, 3 * self.per_row)
        return self.last_path


class CycleGrid(TranslationGrid):
    """samples/step_XXXXXXX.png for the unpaired task: the top half A -> B, the bottom half B -> A, each
    a row of input | output | target triplets, on the same held-out images every time; the target is
    the ground truth when the data knows it (glyphs), else the way back (G_BA(G_AB(a)): the cycle)."""

    views: dict[str, tuple[torch.Tensor, torch.Tensor | None]] | None = None

    def on_start(self, trainer: Trainer) -> None:
        from ..tasks.unpaired import UnpairedTask

        if not isinstance(trainer.task, UnpairedTask):
            raise TypeError(f"CycleGrid shows unpaired runs, not task.kind={trainer.task.name}")
        self.views = trainer.task.preview(self.n // 2)

    def plot(self, trainer: Trainer) -> Path:
        from ..generation import translate
        from ..nets.cycle import CycleGenerator
        from ..viz import save_image_grid

        if self.views is None:
            self.on_start(trainer)
        g = trainer.sampler()
        if not isinstance(g, CycleGenerator):
            raise TypeError("CycleGrid needs CycleGAN's pair of generators")
        rows = []
        for way, back in (("AtoB", "BtoA"), ("BtoA", "AtoB")):
            x, truth = self.views[way]  # type: ignore[index]
            out = translate(g.direction(way), x)
            target = truth if truth is not None else translate(g.direction(back), out)
            x, out, target = (t.expand(-1, 3, -1, -1) if t.shape[1] == 1 else t  # grey beside colour
                              for t in (x, out, target))
            rows.append(torch.stack([x, out, target], 1).reshape(-1, *out.shape[1:]))
        grid = torch.cat(rows)
        self.last_path = save_image_grid(self.folder / f"step_{trainer.step:07d}.png", grid, 3 * self.per_row)
        return self.last_path


class InpaintGrid(TranslationGrid):
    """samples/step_XXXXXXX.png for the inpaint task: rows of holed input (holes white) | filled |
    original triplets, on the same held-out images and masks every time (InpaintTask.held_out)."""

    def on_start(self, trainer: Trainer) -> None:
        from ..tasks.inpaint import InpaintTask

        if not isinstance(trainer.task, InpaintTask):
            raise TypeError(f"InpaintGrid shows inpainting runs, not task.kind={trainer.task.name}")
        self.pairs = trainer.task.held_out(self.n)

    def plot(self, trainer: Trainer) -> Path:
        from ..generation import inpaint
        from ..viz import save_image_grid

        if self.pairs is None:
            self.on_start(trainer)
        x, m = self.pairs  # type: ignore[misc]
        out = inpaint(trainer.sampler(), x, m)
        shown = x * (1 - m) + m  # the holes in white
        grid = torch.stack([shown, out, x], 1).reshape(-1, *out.shape[1:])
        self.last_path = save_image_grid(self.folder / f"step_{trainer.step:07d}.png", grid, 3 * self.per_row)
        return self.last_path


class Checkpointer(Callback):
    """Checkpoints every `every` steps, at the end, and when interrupted; keeps the last N."""

    def __init__(self, run_dir: str | Path, every: int, keep_last: int) -> None:
        self.run_dir = Path(run_dir)
        self.every = every
        self.keep_last = keep_last
        self.last_saved = -1

    def save(self, trainer: Trainer) -> None:
        if trainer.step == self.last_saved:
            return
        save_checkpoint(trainer, checkpoint_path(self.run_dir, trainer.step))
        prune(self.run_dir, self.keep_last)
        self.last_saved = trainer.step

    def on_start(self, trainer: Trainer) -> None:
        self.last_saved = trainer.step if trainer.step else -1

    def on_step(self, trainer: Trainer, stats: dict[str, Any]) -> None:
        if self.every and trainer.step % self.every == 0:
            self.save(trainer)

    def on_end(self, trainer: Trainer) -> None:
        self.save(trainer)

    def on_interrupt(self, trainer: Trainer) -> None:
        # never checkpoint a NaN, nor a step half done (a second Ctrl-C): neither resumes exactly
        if trainer.step > 0 and trainer.diverged is None and not trainer.in_step:
            self.save(trainer)


class EvalLogger(Callback):
    """Every `every` steps, appends {"step": s, "eval": measure(trainer)} to metrics.jsonl.

    `measure` is a plain function (the run builds it from eval.metrics), so this callback knows
    nothing about metrics; a resumed run's JsonlLogger trims these lines like any other."""

    def __init__(self, path: str | Path, every: int, measure: Any) -> None:
        self.path = Path(path)
        self.every = every
        self.measure = measure
        self.last: dict[str, Any] = {}

    def on_step(self, trainer: Trainer, stats: dict[str, Any]) -> None:
        if trainer.step % self.every:
            return
        with torch.no_grad():
            scores = self.measure(trainer)
        self.last = {"step": trainer.step, "eval": scores}
        with self.path.open("a") as f:
            f.write(json.dumps(self.last) + "\n")


class HealthWatch(Callback):
    """Feeds the health monitors (training/health.py): every step's statistics, and every `every`
    steps a quality check of a fixed batch of G's samples against a fixed real batch. Puts the
    state into the step's stats (metrics.jsonl, progress bar), appends each new event to
    metrics.jsonl as {"step", "event"} and prints it as one line. A divergence stops the loop
    (TrainingDiverged) before anything is checkpointed."""

    def __init__(self, path: str | Path, every: int, thresholds: Any, verbose: bool = True,
                 n: int = 1000) -> None:
        self.path = Path(path)
        self.every = every
        self.th = thresholds
        self.verbose = verbose
        self.n = n
        self.health: Any = None
        self.printed: list[str] = []

    def on_start(self, trainer: Trainer) -> None:
        from .health import Health, diversity

        self.health = Health(self.th)
        if not self.every:  # loss-based monitors only
            return
        gen = torch.Generator().manual_seed(trainer.cfg.eval.seed + 99)
        n = self.n if trainer.data.kind != "images" else min(self.n, 256)
        self.real = trainer.data.sample(n, gen)
        self.real_div = diversity(self.real) if self.real.dim() == 4 else None
        self.noise_seed = trainer.cfg.eval.seed + 98
        self.n_fake = n

    def _emit(self, trainer: Trainer) -> None:
        for ev in self.health.pop_events():
            with self.path.open("a") as f:
                f.write(json.dumps({"step": ev.step, "event": ev.to_dict()}) + "\n")
            if self.verbose:
                line = ev.line()
                self.printed.append(line)
                from tqdm import tqdm

                tqdm.write(f"health: {line}", file=sys.stderr)

    def check(self, trainer: Trainer) -> None:
        from .health import measure_quality

        # the EMA copy when there is one: what the user will sample, and steadier than G itself
        x = trainer.generate(self.n_fake, torch.Generator().manual_seed(self.noise_seed), use_ema=True).cpu()
        self.health.observe_quality(measure_quality(x, self.real, trainer.data, self.th, self.real_div))

    def on_step(self, trainer: Trainer, stats: dict[str, Any]) -> None:
        h = self.health
        h.observe(trainer.step, stats.get("loss_d", 0.0), stats.get("loss_g", 0.0),
                  stats.get("d_acc", math.nan), d_acc_fake=stats.get("d_acc_fake"),
                  grad_norm_g=stats.get("grad_norm_g"))
        if self.every and trainer.step % self.every == 0:
            self.check(trainer)
        stats["state"] = h.state
        self._emit(trainer)
        if h.state == "Diverged":
            from .trainer import TrainingDiverged

            trainer.diverged = h.reason
            raise TrainingDiverged(h.reason)

    def on_interrupt(self, trainer: Trainer) -> None:
        if trainer.diverged is not None and self.health.state != "Diverged":
            self.health.diverged(trainer.step, trainer.diverged)
            self._emit(trainer)


class ProgressBar(Callback):
    """tqdm bar on stderr: step, D loss, G loss, D accuracy."""

    def __init__(self, total: int, every: int = 10) -> None:
        self.total = total
        self.every = every
        self.bar: Any = None

    def on_start(self, trainer: Trainer) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, initial=trainer.step, desc="train", unit="step",
                        file=sys.stderr, dynamic_ncols=True,
                        mininterval=0.25 if sys.stderr.isatty() else 10.0)

    def on_step(self, trainer: Trainer, stats: dict[str, Any]) -> None:
        if trainer.step % self.every == 0 or trainer.step == self.total:
            state = f"  {stats['state']}" if stats.get("state") else ""
            self.bar.set_postfix_str(
                f"D loss {stats['loss_d']:.3f}  G loss {stats['loss_g']:.3f}  "
                f"D acc {100 * stats['d_acc']:.0f}%{state}", refresh=False)
            self.bar.update(trainer.step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_end(self, trainer: Trainer) -> None:
        self.close()

    def on_interrupt(self, trainer: Trainer) -> None:
        self.close()
