"""One lab session: a ganforge Trainer driven step by step, and the frames the page draws.

The page speaks in a flat dict of settings (`dataset`, `lr_d`, `g_width` ...); each maps onto a
key of the run config, so a session is always an ordinary ganforge run and exports as one.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from ..config import DataConfig, RunConfig, from_dict
from ..data import DataSource, build_data
from ..data.toy import TOY_SETS, ToyData, kde_1d, load_toy
from ..errors import CheckpointError, ConfigError, GanforgeError
from ..generation import make_noise
from ..training.health import DIVERGED, Health, measure_quality
from ..training.state import Checkpoint, load_checkpoint, restore
from ..training.trainer import Trainer, TrainingDiverged, check_parts
from .images import ImageView, image_batches
from .page import (
    DEFAULTS,
    IMAGE_NETS,
    LAB_IMAGES,
    LAB_TRAIN,
    SETTING_KEYS,
    STRUCTURAL,
    USER_SETS,
    Limits,
    defaults_for,
    drawable,
    kind_of,
    num_json,
    options,
    page_state,
    points_json,
    settings_of,
    values_json,
)
from .slow_motion import SlowMotion


@functools.lru_cache(maxsize=2)
def _read_image_set(name: str, size: int, path: str | None) -> DataSource:
    return build_data(DataConfig(name=name, size=size, path=path))


def _image_set(cfg: DataConfig) -> DataSource:
    """An image set, read once per process (Fashion-MNIST takes a second): a reset or another
    session on the same set reuses it. Nothing writes to a data set, so sharing it is safe."""
    return _read_image_set(cfg.name, cfg.size, cfg.path)


class LabSession(SlowMotion, ImageView):
    def __init__(self, limits: Limits | None = None, settings: dict[str, Any] | None = None,
                 base: RunConfig | None = None, points: torch.Tensor | None = None):
        """A fresh session (step 0). base: a run config the settings are laid over (keys the page
        has no control for keep the run's values); see from_checkpoint."""
        self.limits = limits or Limits()
        self.base = None if base is None else base.to_dict()
        self.base_settings = None if base is None else settings_of(base)
        self.source: str | None = None  # the checkpoint a session was opened from
        self.settings: dict[str, Any] = dict(DEFAULTS if base is None else self.base_settings)
        if base is None and settings and kind_of(settings.get("dataset", "")) == "images":
            self.settings = defaults_for("images")
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
        name = changes.get("dataset", self.settings["dataset"])
        for key, hi in self._upper_bounds(kind_of(str(name)) == "images").items():
            if key in changes:
                v = changes[key]
                if not isinstance(v, (int, float)) or isinstance(v, bool) or v > hi:
                    raise ConfigError(f"{key} must be a number <= {hi}, got {v!r}")
        if "seed" in changes and changes["seed"] < 0:  # the only lower bound the config lacks
            raise ConfigError(f"seed must be a number >= 0, got {changes['seed']!r}")
        merged = self._target(changes)
        if merged["conditional"] and kind_of(merged["dataset"]) != "images":
            raise ConfigError("class-conditional training needs an image set with classes ("
                              + ", ".join(LAB_IMAGES) + ")")
        check_parts(self._config(merged))  # full validation by the config and the registries
        return changes

    def _target(self, changes: dict[str, Any]) -> dict[str, Any]:
        """The settings a change leads to: another kind of data (points <-> images) starts from
        that kind's defaults (a 2-D learning rate would wreck a DCGAN), else from the current ones."""
        name = changes.get("dataset", self.settings["dataset"])
        if not isinstance(name, str) or (name not in USER_SETS and name not in TOY_SETS
                                         and name not in LAB_IMAGES):
            raise ConfigError(f"unknown dataset {name!r}")
        same = kind_of(name) == kind_of(self.settings["dataset"])
        return dict(self.settings if same else defaults_for(kind_of(name)), **changes)

    def _upper_bounds(self, images: bool) -> dict[str, float]:
        """Every numeric setting's upper bound (the config checks the lower ones): one step's cost
        grows with widths, depths, batch, d_steps; the others have no use beyond theirs. Image
        nets cost far more per unit of width than the MLPs of points."""
        lim = self.limits
        width = lim.max_image_width if images else lim.max_width
        noise_dim = lim.max_image_noise_dim if images else lim.max_noise_dim
        return {"g_width": width, "d_width": width, "g_depth": lim.max_depth,
                "d_depth": lim.max_depth, "noise_dim": noise_dim, "batch_size": lim.max_batch,
                "d_steps": lim.max_d_steps, "penalty_every": lim.max_penalty_every, "pack": lim.max_pack,
                "lr_d": lim.max_lr, "lr_g": lim.max_lr, "penalty_weight": lim.max_penalty_weight,
                "seed": lim.max_seed, "ema": 1, "beta1": 1, "beta2": 1}

    def _config(self, settings: dict[str, Any]) -> RunConfig:
        name = settings["dataset"]
        base_name = None if self.base is None else self.base["data"]["name"]
        # a run's own config (`ganforge lab RUN`) underlies settings for the same kind of data
        base = self.base if base_name is not None and kind_of(base_name) == kind_of(name) else None
        overrides: dict[str, Any] = {}
        for key, value in settings.items():
            if base is not None and self.base_settings is not None and self.base_settings.get(key) == value:
                continue  # as the run has it (G's and D's betas, say, may differ there)
            for ck in SETTING_KEYS[key]:
                section, _, attr = ck.rpartition(".")
                target = overrides.setdefault(section, {}) if section else overrides
                target[attr] = value
        if name in USER_SETS:
            overrides["data"] = {"name": "csv", "path": "points.csv"}
        elif name in LAB_IMAGES and name != base_name:
            overrides["data"] = {"name": name, "size": LAB_IMAGES[name], "path": None}
        merged: dict[str, Any] = copy.deepcopy(base) if base is not None else {}
        if kind_of(name) == "images" and base is None:
            for section, vals in IMAGE_NETS.items():
                merged.setdefault(section, {}).update(vals)
        merged.setdefault("train", {}).update(LAB_TRAIN)
        for section, vals in overrides.items():
            if isinstance(vals, dict):
                merged.setdefault(section, {}).update(vals)
            else:
                merged[section] = vals
        if merged.get("data", {}).get("name") != "csv" and "path" in merged.get("data", {}) \
                and merged["data"]["name"] != base_name:
            merged["data"]["path"] = None  # a run's data path means nothing to another data set
        return from_dict(merged)

    def _data(self, name: str, cfg: RunConfig, points: torch.Tensor | None) -> DataSource:
        if name in USER_SETS:
            if points is None or len(points) < 2:
                pts = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [1.0, -1.0], [-1.0, 1.0]])
            else:
                pts = points
            return ToyData("points", "points from the page", points=pts, kind="points")
        if name in LAB_IMAGES:
            return _image_set(cfg.data)
        return load_toy(name)

    def apply(self, changes: dict[str, Any]) -> bool:
        """Change settings; returns True when the change rebuilt the nets (a reset).

        Atomic: when anything fails, the session keeps its settings and its trainer."""
        changes = self._validate(changes)
        self.slow_finish()
        settings = self._target(changes)
        if any(k in STRUCTURAL and v != self.settings.get(k) for k, v in settings.items()):
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
        dataset = self.settings["dataset"] if self.settings["dataset"] in USER_SETS else "draw"
        self._rebuild(self._target({"dataset": dataset}), t)

    def reset(self) -> None:
        """Fresh nets and optimisers from the current settings: step 0."""
        self._rebuild(self.settings, self.points)

    def _rebuild(self, settings: dict[str, Any], points: torch.Tensor | None) -> None:
        """Build a trainer (and what the page is shown) for these settings and points, and adopt
        them only once everything is built: a failure leaves the session as it was."""
        cfg = self._config(settings)
        data = self._data(settings["dataset"], cfg, points)
        trainer = Trainer(cfg, data, device=self.limits.device)
        gen = torch.Generator().manual_seed(cfg.seed + 7)
        batches = None
        if kind_of(settings["dataset"]) == "images":
            batches = image_batches(trainer, data, self.limits, gen)
            real_show, z_show, bounds = batches.real_show, batches.z_grid, (0.0, 1.0, 0.0, 1.0)
        else:
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
        self.batches = batches
        self.walk_class = 0
        self.class_counts: list[int] | None = None
        self.hist: dict[str, Any] | None = None
        self.checked_at = -math.inf
        self.health = Health()
        self.last: dict[str, float] = {}
        self.mode_info: dict[str, Any] = {}
        self.slow: dict[str, Any] | None = None  # the slow-motion step under way (phases done)

    @property
    def images(self) -> bool:
        return self.batches is not None

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
        """Live quality: mode coverage on mixtures, distance to data elsewhere, diversity and classes
        covered on images; updates health."""
        if self.images:
            self.image_check()
            return
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
        fixed x grid); its `real` / `fake` points are [x] singletons. Images: `images` (see
        lab/images.py) and no points."""
        t = self.trainer
        x0, x1, y0, y1 = self.bounds
        g = t.sampler(use_ema=True)
        with torch.no_grad():
            g.eval()
            fake = None if self.images else g(self.z_show.to(t.device)).float().cpu()
            if self.data.dim == 1:
                fake_pdf = kde_1d(g(self.z_density.to(t.device)).float().cpu(), self.x_grid,
                                  self._bandwidth())
        out: dict[str, Any] = {
            "type": "frame",
            "step": t.step,
            "bounds": [x0, x1, y0, y1],
            "real": [] if fake is None else points_json(self.real_show),
            "fake": [] if fake is None else points_json(fake),
            "stats": {k: num_json(self.last.get(k)) for k in ("loss_d", "loss_g", "d_acc")},
            "time": round(time.time(), 3),
            "state": page_state(self.playing, self.health.state),
            "health": self.health.state,
            "reason": self.health.reason,
            "quality": {k: num_json(v) for k, v in self.mode_info.items()},
            "settings": dict(self.settings),  # a copy: frames are sent after the lock is released
            "speed": self.speed,
            "playing": self.playing,
            "source": self.source,
        }
        if self.images:
            out["images"] = self.image_frame(g)
        elif self.data.dim == 1:
            out["density"] = {"x": values_json(self.x_grid), "real": values_json(self.real_pdf),
                              "fake": values_json(fake_pdf), "d": values_json(t.d_prob(self.x_grid[:, None]))}
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
        return {"k": k, "points": points_json(pts)}

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
        return points_json(push * scale)

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
            if self.images:
                self.image_check(force=False)
            else:
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
        if self.images:
            raise ConfigError("an image set has no points to download")
        pts = self.data.points if self.data.points is not None else self.real_show
        head = "x,y\n" if pts.shape[1] == 2 else "x\n"
        return head + "".join(",".join(f"{v:.6g}" for v in row) + "\n" for row in pts.tolist())


__all__ = ["DEFAULTS", "GanforgeError", "LabSession", "Limits", "options"]
