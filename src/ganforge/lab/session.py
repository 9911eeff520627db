"""One lab session: a ganforge Trainer driven step by step, and the frames the page draws.

The page speaks in a flat dict of settings (`dataset`, `lr_d`, `g_width` ...); each maps onto a
key of the run config, so a session is always an ordinary ganforge run and exports as one.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from ..config import RunConfig, from_dict
from ..data.toy import TOY_SETS, ToyData, kde_1d, load_toy
from ..errors import CheckpointError, ConfigError, GanforgeError
from ..losses import LOSSES, d_accuracy
from ..penalties import PENALTIES
from ..training.health import DIVERGED, Health, measure_quality
from ..training.state import Checkpoint, load_checkpoint, restore
from ..training.trainer import Trainer, TrainingDiverged, check_parts, make_noise

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
}
# settings whose change rebuilds the nets (a reset); the others apply from the next step on
STRUCTURAL = {"dataset", "spectral_norm", "pack", "g_depth", "g_width", "d_depth", "d_width",
              "noise_dim", "noise", "seed"}
USER_SETS = {"draw", "csv"}  # points sent by the page

DEFAULTS: dict[str, Any] = {
    "dataset": "two", "loss": "ns", "penalty": "none", "penalty_weight": 1.0,
    "spectral_norm": False, "pack": 1, "d_steps": 1, "optimizer": "adam", "lr_d": 0.03,
    "lr_g": 0.03, "g_depth": 2, "g_width": 64, "d_depth": 2, "d_width": 64, "noise_dim": 2,
    "noise": "normal", "seed": 0, "batch_size": 128, "ema": 0.0, "beta1": 0.0, "beta2": 0.99,
    "penalty_every": 1,
}


# slow motion's phases: (name, what happens and why), in the order the step computes them
PHASES: tuple[tuple[str, str], ...] = (
    ("sample", "1/6 Sample: draw a batch of random noise z (grey) for G and a batch of real points "
               "(green) from the data. Fresh randomness each step keeps G from memorising one input."),
    ("g-forward", "2/6 G makes fakes: the generator turns each noise vector into a fake point (purple). "
                  "At first they are nowhere near the real data."),
    ("d-forward", "3/6 D scores real and fake: D gives every point a probability of being real. Its "
                  "loss is low when real points score high and fakes score low."),
    ("d-update", "4/6 D learns: the D loss gradient flows back into D's weights only, so the "
                 "boundary moves to separate real from fake better. G is not changed."),
    ("g-forward-d", "5/6 G's turn: the fakes go through the updated D. G's loss is low when D calls "
                    "them real; the arrows show which way each fake should move to fool D."),
    ("g-update", "6/6 G learns: G's loss gradient flows back through D (D's weights stay frozen) into "
                 "G's weights, and the fakes move (faint: before, solid: after). One step done."),
)


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
    max_message_chars: int = 1_000_000  # one message from the page; max_points pairs need ~45 each
    device: str = "cpu"  # where sessions train (`ganforge lab --device`): small nets step fastest on a CPU
    processes: bool = False  # a worker process per session (`ganforge lab` does): off the server's GIL


def options() -> dict[str, Any]:
    """What the page's menus offer, from the library's registries."""
    return {
        "datasets": [n for n in TOY_SETS.names() if n != "csv"] + ["draw", "csv"],
        "losses": LOSSES.names(),
        "penalties": ["none", *PENALTIES.names()],
        "optimizers": ["adam", "rmsprop", "sgd"],
        "noises": ["normal", "uniform"],
        "defaults": dict(DEFAULTS),
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
    set (or a CSV of points), unconditional, MLP nets."""
    cfg = ckpt.config
    if cfg.g.arch != "mlp" or cfg.d.arch != "mlp":
        return f"its nets are {cfg.g.arch} / {cfg.d.arch}; the lab draws MLP nets"
    if list(ckpt.data_shape) not in ([1], [2]) or cfg.data.name not in TOY_SETS:
        return (f"its data ({cfg.data.name}, shape {tuple(ckpt.data_shape)}) are not 1-D or 2-D "
                "points; the lab draws the toy sets")
    if cfg.train.conditional:
        return "it is class-conditional; the lab draws unconditional runs"
    return None


class LabSession:
    def __init__(self, limits: Limits | None = None, settings: dict[str, Any] | None = None,
                 base: RunConfig | None = None, points: torch.Tensor | None = None):
        """A fresh session (step 0). base: a run config the settings are laid over (keys the page
        has no control for keep the run's values); see from_checkpoint."""
        self.limits = limits or Limits()
        self.base = None if base is None else base.to_dict()
        self.base_settings = None if base is None else settings_of(base)
        self.source: str | None = None  # the checkpoint a session was opened from
        self.settings: dict[str, Any] = dict(DEFAULTS if base is None else self.base_settings)
        self.points: torch.Tensor | None = points
        self.speed: float = 4.0
        self.playing = False
        self.closed = False  # set by stop(): run_for returns after the step under way
        self._frame_s = self._check_s = 0.0  # recent wall time of a frame / a quality check
        self.last_seen = time.monotonic()
        if settings:
            self.settings.update(self._validate(settings))
        elif base is not None:
            self._validate(self.settings)  # the lab's bounds hold for a run's settings too
        self.reset()

    @classmethod
    def from_checkpoint(cls, source: str | Path | Checkpoint, limits: Limits | None = None
                        ) -> LabSession:
        """A session restored from a run directory's latest checkpoint (or a checkpoint file):
        the run's config (its page settings, and its other keys as they were), its weights,
        optimiser and RNG states and its step; paused. Runs the lab cannot draw are refused."""
        ckpt = source if isinstance(source, Checkpoint) else load_checkpoint(source)
        why = drawable(ckpt)
        if why is None and ckpt.config.data.name == "csv":
            points = load_toy("csv", ckpt.config.data.path).points
        else:
            points = None
        try:
            if why is not None:
                raise ConfigError(why)
            s = cls(limits, base=ckpt.config, points=points)
            restore(s.trainer, ckpt)
        except GanforgeError as e:
            raise CheckpointError(f"{ckpt.path}: the lab cannot open this run: {e}") from None
        s.source = str(ckpt.path)
        return s

    # --- settings ----------------------------------------------------------------------------
    def _validate(self, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = [k for k in changes if k not in SETTING_KEYS]
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]!r}")
        for key, v in changes.items():  # NaN slips through every "v < bound" check
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigError(f"{key} must be a finite number, got {v!r}")
        for key, hi in self._upper_bounds().items():
            if key in changes:
                v = changes[key]
                if not isinstance(v, (int, float)) or isinstance(v, bool) or v > hi:
                    raise ConfigError(f"{key} must be a number <= {hi}, got {v!r}")
        if "seed" in changes and changes["seed"] < 0:  # the only lower bound the config lacks
            raise ConfigError(f"seed must be a number >= 0, got {changes['seed']!r}")
        name = changes.get("dataset")
        if name is not None and name not in USER_SETS and name not in TOY_SETS:
            raise ConfigError(f"unknown dataset {name!r}")
        merged = dict(self.settings, **changes)
        check_parts(self._config(merged))  # full validation by the config and the registries
        return changes

    def _upper_bounds(self) -> dict[str, float]:
        """Every numeric setting's upper bound (the config checks the lower ones): one step's cost
        grows with widths, depths, batch, d_steps; the others have no use beyond theirs."""
        lim = self.limits
        return {"g_width": lim.max_width, "d_width": lim.max_width, "g_depth": lim.max_depth,
                "d_depth": lim.max_depth, "noise_dim": lim.max_noise_dim, "batch_size": lim.max_batch,
                "d_steps": lim.max_d_steps, "penalty_every": lim.max_penalty_every, "pack": lim.max_pack,
                "lr_d": lim.max_lr, "lr_g": lim.max_lr, "penalty_weight": lim.max_penalty_weight,
                "seed": lim.max_seed, "ema": 1, "beta1": 1, "beta2": 1}

    def _config(self, settings: dict[str, Any]) -> RunConfig:
        overrides: dict[str, Any] = {}
        for key, value in settings.items():
            if self.base_settings is not None and self.base_settings.get(key) == value:
                continue  # as the run has it (G's and D's betas, say, may differ there)
            for ck in SETTING_KEYS[key]:
                section, _, name = ck.rpartition(".")
                target = overrides.setdefault(section, {}) if section else overrides
                target[name] = value
        if settings["dataset"] in USER_SETS:
            overrides["data"] = {"name": "csv", "path": "points.csv"}
        merged: dict[str, Any] = copy.deepcopy(self.base) if self.base is not None else {}
        merged.setdefault("train", {}).update(LAB_TRAIN)
        for section, vals in overrides.items():
            if isinstance(vals, dict):
                merged.setdefault(section, {}).update(vals)
            else:
                merged[section] = vals
        if merged.get("data", {}).get("name") != "csv" and "path" in merged.get("data", {}):
            merged["data"]["path"] = None  # a run's CSV file means nothing to another data set
        return from_dict(merged)

    def _data(self, name: str, points: torch.Tensor | None) -> ToyData:
        if name in USER_SETS:
            if points is None or len(points) < 2:
                pts = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [1.0, -1.0], [-1.0, 1.0]])
            else:
                pts = points
            return ToyData("points", "points from the page", points=pts, kind="points")
        return load_toy(name)

    def apply(self, changes: dict[str, Any]) -> bool:
        """Change settings; returns True when the change rebuilt the nets (a reset).

        Atomic: when anything fails, the session keeps its settings and its trainer."""
        changes = self._validate(changes)
        self.slow_finish()
        settings = dict(self.settings, **changes)
        if any(k in STRUCTURAL and v != self.settings.get(k) for k, v in changes.items()):
            self._rebuild(settings, self.points)
            return True
        old = self.trainer.cfg
        try:
            self.trainer.update_config(self._config(settings))  # a new optimiser name: a fresh one
        except Exception:
            with contextlib.suppress(Exception):  # best effort; the first error is the one to report
                self.trainer.update_config(old)
            raise
        self.settings = settings
        return False

    def set_points(self, points: list[list[float]]) -> None:
        """Points drawn or loaded on the page become the data set (a reset)."""
        if not isinstance(points, list) or len(points) > self.limits.max_points:
            raise ConfigError(f"points must be a list of at most {self.limits.max_points} [x, y]")
        try:
            t = torch.tensor(points, dtype=torch.float32)
        except (TypeError, ValueError):
            raise ConfigError("points must be [x, y] pairs of numbers") from None
        if t.ndim != 2 or t.shape[1] != 2 or not torch.isfinite(t).all():
            raise ConfigError("points must be finite [x, y] pairs")
        if len(t) < 2:
            raise ConfigError("draw at least 2 points")
        settings = dict(self.settings)
        if settings["dataset"] not in USER_SETS:
            settings["dataset"] = "draw"
        self._rebuild(settings, t)

    def reset(self) -> None:
        """Fresh nets and optimisers from the current settings: step 0."""
        self._rebuild(self.settings, self.points)

    def _rebuild(self, settings: dict[str, Any], points: torch.Tensor | None) -> None:
        """Build a trainer (and what the page is shown) for these settings and points, and adopt
        them only once everything is built: a failure leaves the session as it was."""
        cfg = self._config(settings)
        data = self._data(settings["dataset"], points)
        trainer = Trainer(cfg, data, device=self.limits.device)
        gen = torch.Generator().manual_seed(cfg.seed + 7)
        n = self.limits.n_show
        real_show = data.sample(n, gen)
        z_show = make_noise(cfg.g.noise, n, cfg.g.noise_dim, gen)
        bounds = data.bounds()
        if settings["dataset"] == "draw":  # the page's drawing window, grown to fit
            x0, x1, y0, y1 = bounds
            bounds = (min(x0, -2.0), max(x1, 2.0), min(y0, -2.0), max(y1, 2.0))
        if data.dim == 1:  # the 1-D view: densities on a fixed grid, G's from a fixed noise batch
            x0, x1, _, _ = bounds
            self.x_grid = torch.linspace(x0, x1, self.limits.density_points)
            z_density = make_noise(cfg.g.noise, self.limits.n_density, cfg.g.noise_dim, gen)
            real_pdf = (data.density(self.x_grid[:, None]) if data.modes is not None else
                        kde_1d(data.sample(self.limits.n_density, gen), self.x_grid, self._bandwidth()))
            self.z_density, self.real_pdf = z_density, real_pdf
        self.settings, self.points, self.data, self.trainer = settings, points, data, trainer
        self.real_show, self.z_show, self.bounds = real_show, z_show, bounds
        self.health = Health()
        self.last: dict[str, float] = {}
        self.mode_info: dict[str, Any] = {}
        self.slow: dict[str, Any] | None = None  # the slow-motion step under way (phases done)

    # --- training ----------------------------------------------------------------------------
    def stop(self) -> None:
        """The page is gone: pause, and make a run_for in another thread return after its step."""
        self.closed = True
        self.playing = False

    def step(self, which: str = "both") -> dict[str, float]:
        """One step of D only, G only, or both (a full trainer step)."""
        self.slow_finish()
        if self.health.state == DIVERGED:
            return self.last
        t = self.trainer
        try:
            if which == "both":
                s = t.train_step()
            elif which == "d":
                s = dict(self.last, **t.d_step(t.step * t.cfg.train.d_steps))  # keeps no fake batch
            elif which == "g":
                s = dict(self.last, **t.g_step())
            else:
                raise ConfigError(f"step must be 'd', 'g' or 'both', got {which!r}")
        except TrainingDiverged as e:
            self.health.diverged(t.step, str(e))
            return self.last
        s.setdefault("loss_d", math.nan)
        s.setdefault("loss_g", math.nan)
        s.setdefault("d_acc", math.nan)
        s["step"] = t.step
        self.last = s
        if which == "both":
            self.health.observe(t.step, s["loss_d"], s["loss_g"], s["d_acc"],
                                d_acc_fake=s.get("d_acc_fake"), grad_norm_g=s.get("grad_norm_g"))
        return s

    def run_for(self, n_steps: int, budget_s: float) -> int:
        """Up to n_steps full steps, stopping early when the time budget is spent or on stop()."""
        t0 = time.perf_counter()
        done = 0
        while done < n_steps and not self.closed and time.perf_counter() - t0 < budget_s:
            self.step("both")
            done += 1
            if self.health.state == DIVERGED:
                break
        return done

    def check(self) -> None:
        """Live quality: mode coverage on mixtures, distance to data elsewhere; updates health."""
        gen = torch.Generator().manual_seed(1)
        x = self.trainer.generate(self.limits.n_eval, gen).cpu()
        real = self.data.sample(self.limits.n_eval, gen)
        x0, x1, _, _ = self.bounds
        q = measure_quality(x, real, self.data, self.health.cfg, scale=x1 - x0)  # the trainer's check
        self.health.observe_quality(q)
        if not q.finite:
            return
        if q.mode_stats is not None:
            r = q.mode_stats
            self.mode_info = {"modes": r["modes"], "modes_total": r["modes_total"], "hq": r["hq"],
                              "reverse_kl": r["reverse_kl"]}
        else:
            self.mode_info = {"distance": q.distance}

    # --- slow motion: one step in phases, on the real trainer ----------------------------------
    def slow_step(self, phase: int) -> dict[str, Any]:
        """Run phase `phase` (0..5, in order; 0 starts a new step) of one training step and return
        what the page draws for it. Phases 0-2 and 4 only look (nothing changes); 3 is D's update
        (`train.d_steps` D steps), 5 is G's update, which ends the step: the same calls as
        `Trainer.train_step`, one at a time, so every number shown is the trainer's own."""
        if isinstance(phase, bool) or not isinstance(phase, int) or not 0 <= phase < len(PHASES):
            raise ConfigError(f"phase must be an integer 0-{len(PHASES) - 1}, got {phase!r}")
        if self.health.state == DIVERGED:
            raise GanforgeError("training diverged: press Reset before a slow-motion step")
        if phase == 0:
            self.slow_finish()
            self.slow = {"done": -1}
        slow = self.slow
        expected = 0 if slow is None else slow["done"] + 1
        if phase != expected:
            raise ConfigError(f"slow-motion phase {phase} is out of order: the next phase is {expected}")
        t = self.trainer
        n = t.cfg.train.batch_size
        m = min(n, self.limits.n_show)
        try:
            with torch.no_grad():
                if phase == 0:  # the batch d_step will draw: the same generators, then put back
                    rd, rn = t.rng["data"], t.rng["noise"]
                    states = rd.get_state(), rn.get_state()
                    real, _ = t.task.real(n, rd)
                    t.task.condition(n, rn)
                    slow["z"] = t.noise(n, rn)
                    rd.set_state(states[0])
                    rn.set_state(states[1])
                    slow["real"] = real.float()
                elif phase == 1:
                    slow["fake"] = t.g(slow["z"]).float()
                elif phase == 2:
                    out = t.d(torch.cat([slow["real"], slow["fake"]]))
                    s_r, s_f = out.score.float().split(n // t.d.spec.pack)
                    acc_r, acc_f = d_accuracy(t.loss, s_r, s_f)
                    slow["stats"] = {"loss_d": t.loss.d(s_r, s_f).item(), "d_acc": (acc_r + acc_f) / 2}
                elif phase == 4:
                    slow["stats"] = dict(slow["stats"],
                                         loss_g_before=t.loss.g(t.d(slow["fake"]).score.float()).item())
            if phase == 3:
                t.begin_step()
                slow["begun"] = True
                k = t.cfg.train.d_steps
                for i in range(k):
                    stats = t.d_step(t.step * k + i, keep_fake=i == k - 1)
                slow["stats"] = dict(slow["stats"], **stats)
            elif phase == 5:
                stats = t.end_step(dict(slow["stats"], **t.g_step()))
                slow["begun"] = False
                slow["stats"] = stats
                with torch.no_grad():
                    slow["fake_after"] = t.g(slow["z"]).float()
                self._record(stats)
        except TrainingDiverged as e:
            self.health.diverged(t.step, str(e))
            self.slow = None
            raise GanforgeError(f"training diverged: {e}") from None
        slow["done"] = phase
        draw: dict[str, Any] = {"real": _r(slow["real"][:m]), "z": _r(slow["z"][:m, :2])
                                if slow["z"].shape[1] >= 2 else [[float(v), 0.0] for v in slow["z"][:m, 0]]}
        if "fake" in slow:
            draw["fake"] = _r(slow["fake"][:m])
        if phase in (2, 3):
            draw["p_real"] = [round(float(v), 3) for v in t.d_prob(slow["real"][:m])]
            draw["p_fake"] = [round(float(v), 3) for v in t.d_prob(slow["fake"][:m])]
        if phase == 4:
            draw["arrows"] = self._arrows(slow["fake"][:m].cpu())
        if phase == 5:
            draw["fake_after"] = _r(slow["fake_after"][:m])
            self.slow = None
        name, text = PHASES[phase]
        return {"phase": phase, "phase_name": name, "phase_text": text, "phases": len(PHASES),
                "slow": draw, "phase_stats": {k: _num(v) for k, v in slow.get("stats", {}).items()}}

    def slow_finish(self) -> None:
        """Leave slow motion: a step whose D update is done gets its G update (the trainer never
        stays half a step); one that only looked so far is dropped."""
        slow, self.slow = self.slow, None
        if slow is not None and slow.get("begun"):
            try:
                self._record(self.trainer.end_step(dict(slow["stats"], **self.trainer.g_step())))
            except TrainingDiverged as e:
                self.health.diverged(self.trainer.step, str(e))

    def _record(self, s: dict[str, float]) -> None:
        """A finished full step's statistics: shown, and watched by the health monitors."""
        s.setdefault("loss_d", math.nan)
        s.setdefault("loss_g", math.nan)
        s.setdefault("d_acc", math.nan)
        self.last = s
        self.health.observe(s["step"], s["loss_d"], s["loss_g"], s["d_acc"],
                            d_acc_fake=s.get("d_acc_fake"), grad_norm_g=s.get("grad_norm_g"))

    # --- what the page draws -------------------------------------------------------------------
    def frame(self, arrows: bool = True, manifold: bool = True) -> dict[str, Any]:
        """What the page draws. 2-D data: points, D's field over the window, G's manifold and the
        gradient arrows. 1-D data: the GAN paper's Figure 1 instead (`density`: the real density,
        a kernel density estimate of G's samples from a fixed noise batch, and D(x), all on one
        fixed x grid); its `real` / `fake` points are [x] singletons."""
        t = self.trainer
        x0, x1, y0, y1 = self.bounds
        g = t.sampler(use_ema=True)
        with torch.no_grad():
            g.eval()
            fake = g(self.z_show.to(t.device)).float().cpu()
            if self.data.dim == 1:
                fake_pdf = kde_1d(g(self.z_density.to(t.device)).float().cpu(), self.x_grid,
                                  self._bandwidth())
        out: dict[str, Any] = {
            "type": "frame",
            "step": t.step,
            "bounds": [x0, x1, y0, y1],
            "real": _r(self.real_show),
            "fake": _r(fake),
            "stats": {k: _num(self.last.get(k)) for k in ("loss_d", "loss_g", "d_acc")},
            "time": round(time.time(), 3),
            "state": page_state(self.playing, self.health.state),
            "health": self.health.state,
            "reason": self.health.reason,
            "quality": {k: _num(v) for k, v in self.mode_info.items()},
            "settings": dict(self.settings),  # a copy: frames are sent after the lock is released
            "speed": self.speed,
            "playing": self.playing,
            "source": self.source,
        }
        if self.data.dim == 1:
            out["density"] = {"x": _v(self.x_grid), "real": _v(self.real_pdf), "fake": _v(fake_pdf),
                              "d": _v(t.d_prob(self.x_grid[:, None]))}
        else:
            r = self.limits.field_resolution
            gy, gx = torch.meshgrid(torch.linspace(y0, y1, r), torch.linspace(x0, x1, r), indexing="ij")
            field = t.d_prob(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1))
            out["field"] = {"n": r, "values": [round(float(v), 3) for v in field]}
            if manifold:
                out["manifold"] = self._manifold(g)
            if arrows:
                out["arrows"] = self._arrows(fake)
        g.train(g is t.g)
        return out

    def _bandwidth(self) -> float:
        """Kernel width of the 1-D density estimates: 1/60 of the window."""
        x0, x1, _, _ = self.bounds
        return (x1 - x0) / 60

    def _manifold(self, g: torch.nn.Module, k: int = 15) -> dict[str, Any]:
        """G applied to a k x k grid of noise (first two noise dims; the rest held at 0)."""
        cfg = self.trainer.cfg
        span = 2.0 if cfg.g.noise == "normal" else 1.0
        lin = torch.linspace(-span, span, k)
        zz = torch.zeros(k * k, cfg.g.noise_dim)
        a, b = torch.meshgrid(lin, lin, indexing="ij")
        zz[:, 0] = a.reshape(-1)
        if cfg.g.noise_dim > 1:
            zz[:, 1] = b.reshape(-1)
        with torch.no_grad():
            pts = g(zz.to(self.trainer.device)).float().cpu()
        return {"k": k, "points": _r(pts)}

    def _arrows(self, fake: torch.Tensor) -> list[list[float]]:
        """Direction G's loss pushes each shown fake point: -d loss_g / d x, scaled for display."""
        t = self.trainer
        x = fake.detach().to(t.device).clone().requires_grad_(True)
        t.d.eval()
        try:
            loss = t.loss.g(t.d(x.repeat_interleave(t.d.spec.pack, 0)).score)
            (grad,) = torch.autograd.grad(loss, x)
        finally:
            t.d.train()
            t.d.zero_grad(set_to_none=True)
        push = -grad.cpu()
        norm = push.norm(dim=1, keepdim=True)
        x0, x1, _, _ = self.bounds
        scale = 0.06 * (x1 - x0) / (norm.max() + 1e-12)
        return _r(push * scale)

    @property
    def health_state(self) -> str:
        return self.health.state

    def tick(self, n_steps: int, budget_s: float, check: bool) -> dict[str, Any]:
        """One tick of a playing page: up to n_steps steps, the live quality check when due, and
        the frame to draw, all within budget_s of wall time: training gets what the check and the
        frame (timed on the last ticks) leave, so the page keeps its frame rate when the cores are
        shared. One call, so a session in a worker process costs one round trip per tick."""
        spare = budget_s - self._frame_s - (self._check_s if check else 0.0)
        if n_steps and spare > 0:
            self.run_for(n_steps, spare)
        if check:
            t0 = time.perf_counter()
            self.check()
            self._check_s = 0.5 * self._check_s + 0.5 * (time.perf_counter() - t0)
        t0 = time.perf_counter()
        frame = self.frame()
        self._frame_s = 0.5 * self._frame_s + 0.5 * (time.perf_counter() - t0)
        return frame

    # --- export --------------------------------------------------------------------------------
    def config(self) -> RunConfig:
        return self._config(self.settings)

    def export_checkpoint(self, path: str) -> int:
        """A ganforge checkpoint of the session (config: the settings, train.steps = the step);
        returns the step."""
        from ..training.state import save_checkpoint

        cfg = self.config()
        cfg.train.steps = max(self.trainer.step, 1)
        save_checkpoint(self.trainer, Path(path), cfg)
        return self.trainer.step

    def config_yaml(self, steps: int | None = None) -> str:
        cfg = self.config().to_dict()
        cfg["train"]["steps"] = max(int(steps or self.trainer.step), 1)
        cfg["train"]["threads"] = 0
        cfg["train"]["log_every"] = 50
        head = "# exported from the ganforge lab; run with: ganforge train THIS.yaml --out runs/lab\n"
        if self.settings["dataset"] in USER_SETS:
            head += "# data.path points.csv: the points drawn or loaded in the lab (export them too)\n"
        return head + yaml.safe_dump(cfg, sort_keys=False)

    def points_csv(self) -> str:
        pts = self.data.points if self.data.points is not None else self.real_show
        head = "x,y\n" if pts.shape[1] == 2 else "x\n"
        return head + "".join(",".join(f"{v:.6g}" for v in row) + "\n" for row in pts.tolist())


def page_state(playing: bool, health: str) -> str:
    """The status line's State: Paused when not playing and nothing is wrong, else the health."""
    return "Paused" if not playing and health == "Running" else health


def _r(t: torch.Tensor) -> list[list[float]]:
    return [[round(float(a), 4) for a in row] for row in t.tolist()]


def _v(t: torch.Tensor) -> list[float]:
    return [round(float(a), 5) for a in t.reshape(-1).tolist()]


def _num(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 5) if math.isfinite(v) else None
    return v


__all__ = ["DEFAULTS", "GanforgeError", "LabSession", "Limits", "options"]
