"""Training health: small monitors fed by the trainer's metric stream, one verdict for the run.

States: Running, Converged, Collapsed, Diverged, Oscillating, Stalled, Overfitting. Every front end
uses this one implementation: the trainer (a callback logs the state to metrics.jsonl, shows it in
the progress bar and prints each new event with what to try), the lab's status line, and the run
report.

Two kinds of input:
- every step: losses, D accuracy (on fakes too), G's gradient norm and, with ADA, r_t
  (`Health.observe`);
- now and then, a *quality check* on a fixed batch of G's samples (`Health.observe_quality`):
  mode coverage on mixtures, sample diversity relative to real data on images, and a distance to
  real data (sliced Wasserstein) that serves as the tracked metric for progress.

Monitors:
  divergence   NaN / inf in losses or weights, or a loss beyond a bound          -> Diverged
  runaway      D right on ~all fakes for a window while G's gradient norm collapses -> Stalled
  overfitting  ADA's r_t = E[sign D(real)] at or above 0.9 for 200 steps in a row    -> Overfitting
  collapse     modes covered stay below all (mixtures) / diversity far below real  -> Collapsed
  progress     tracked metric: no progress over a window and still far from its best start
               (-> Stalled), large up-and-down swings (-> Oscillating), or at its best with
               D near 50% (-> Converged)
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import torch

RUNNING, CONVERGED, COLLAPSED, DIVERGED = "Running", "Converged", "Collapsed", "Diverged"
OSCILLATING, STALLED, OVERFITTING = "Oscillating", "Stalled", "Overfitting"
STATES = (RUNNING, CONVERGED, COLLAPSED, DIVERGED, OSCILLATING, STALLED, OVERFITTING)
# When two monitors disagree, the worse news wins.
PRIORITY = {DIVERGED: 6, COLLAPSED: 5, STALLED: 4, OVERFITTING: 3, OSCILLATING: 2, CONVERGED: 1,
            RUNNING: 0}
MEANING = {
    RUNNING: "training, nothing wrong seen yet",
    CONVERGED: "D is near chance (about 50%) and the tracked metric is at its best: more steps "
               "will change little",
    COLLAPSED: "G covers only some modes of the data, or its samples are far less diverse than "
               "real data (mode collapse)",
    DIVERGED: "a loss or weight became NaN / infinite or exploded; training cannot continue as is",
    OSCILLATING: "the tracked metric swings up and down without settling: G and D chase each other",
    STALLED: "no progress: the tracked metric has not improved for a while, or D wins outright and "
             "G's gradient has vanished",
    OVERFITTING: "D is overfitting: it calls nearly every real image real (ADA's r_t stays high) even "
                 "through the augmentation; it memorises the training set",
}
ADVICE = {
    "divergence": "lower the learning rates (opt_g.lr, opt_d.lr), add a penalty (loss.penalty=r1 or "
                  "gp), or spectral norm (d.spectral_norm=true)",
    "runaway": "use the non-saturating loss (loss.name=ns), lower opt_d.lr or raise opt_g.lr, add a "
               "penalty (loss.penalty=r1), spectral norm (d.spectral_norm=true) or DiffAugment "
               "(train.augment=color,translation)",
    "collapse": "pack D's inputs (d.pack=2, PacGAN), add minibatch std (d.mbstd=true), an EMA of G "
                "(train.ema=0.999), a penalty (loss.penalty=r1), or more G capacity (g.width)",
    "oscillation": "lower the learning rates, use Adam with beta1=0 or 0.5, add a penalty "
                   "(loss.penalty=r1) or an EMA of G (train.ema=0.999)",
    "stall": "check the data and the learning rates; try more D steps (train.d_steps=2), the "
             "non-saturating loss (loss.name=ns), or a larger lr",
    "convergence": "stop here or lower the learning rates (train.lr_end=0.1) to settle further",
    "overfitting": "raise train.ada_target (e.g. 0.7) or lower train.ada_kimg so that p grows faster, "
                   "use the full pipeline (train.ada_pipeline=bgc), or more data",
}


@dataclass
class Thresholds:
    """What counts as what. Defaults suit the toy recipes and the lab; all are plain numbers."""

    warmup: int = 300  # steps before Collapsed / Stalled / Oscillating / Converged may be declared
    window: int = 50  # steps of D accuracy averaged for "near 50%"
    acc_band: float = 0.12  # |mean D acc - 0.5| below this counts as "near 50%"
    loss_bound: float = 1e4  # |loss| above this counts as exploding
    runaway_window: int = 150  # steps of D accuracy on fakes / G gradient norms watched
    runaway_acc: float = 0.99  # D accuracy on fakes at least this over the whole window...
    vanish: float = 0.05  # ...while G's gradient norm fell below this fraction of its peak
    hq_converged: float = 0.8  # high-quality share needed to call a mixture converged
    diversity_collapsed: float = 0.5  # image diversity below this fraction of real data's
    effective_modes: float = 0.6  # mixtures: collapsed when exp(entropy of the mode counts) is below
    #                               this share of the modes (a few stray samples "cover" a mode)
    patience: int = 2  # consecutive quality checks that must agree before the state changes
    progress_checks: int = 8  # quality checks in the stall / oscillation window
    min_gain: float = 0.05  # "progress": the best tracked metric improved by this fraction
    near_best: float = 1.25  # "at its best": within this factor of the best value seen
    swing: float = 1.0  # oscillation: (max - min) above this multiple of the window's minimum
    overfit_rt: float = 0.9  # ADA's r_t at or above this...
    overfit_window: int = 200  # ...for this many steps in a row: D is overfitting


@dataclass
class Event:
    """A change of state, with what was seen and what to try."""

    step: int
    monitor: str
    state: str
    message: str
    advice: str = ""

    def line(self) -> str:
        tail = f" Try: {self.advice}." if self.advice else ""
        return f"step {self.step}: {self.state} ({self.monitor}): {self.message}.{tail}"

    def to_dict(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "state": self.state, "message": self.message,
                "advice": self.advice}


@dataclass
class Quality:
    """A quality check of a fixed batch of G's samples (see `measure_quality`)."""

    distance: float  # sliced Wasserstein distance to a fixed real batch: the tracked metric
    scale: float = 1.0  # the data's scale, for "close to the data"
    modes: int | None = None  # mixtures: modes covered (metrics.modes.covered_modes, as eval counts)
    modes_total: int | None = None
    hq: float | None = None  # mixtures: share of samples within 3 std of a mode
    counts: list[int] | None = None
    mode_stats: dict[str, Any] | None = None  # mixtures: the full VEEGAN/PacGAN statistics
    diversity: float | None = None  # images: mean pairwise distance, relative to real data's
    finite: bool = True


Verdict = tuple[str, str, str]  # (state, monitor, message)


class DivergenceMonitor:
    """The one definition of divergence: a loss that is NaN / infinite or beyond `loss_bound`. The
    trainer runs it on every D and G step (and stops with TrainingDiverged); Health records it."""

    def __init__(self, th: Thresholds) -> None:
        self.th = th

    def observe(self, step: int, stats: dict[str, float]) -> Verdict | None:
        for key in ("loss_d", "loss_g"):
            v = stats.get(key)
            if v is None:
                continue
            if not math.isfinite(v):
                return DIVERGED, "divergence", f"{key} became {v} at step {step}"
            if abs(v) > self.th.loss_bound:
                return (DIVERGED, "divergence",
                        f"{key} is {v:.3g} at step {step}, beyond ±{self.th.loss_bound:g}")
        return None


class RunawayMonitor:
    """D right on ~every fake for a sustained window while G's gradient norm collapses."""

    def __init__(self, th: Thresholds) -> None:
        self.th = th
        self.acc: deque[float] = deque(maxlen=th.runaway_window)
        self.grad: deque[float] = deque(maxlen=th.runaway_window)
        self.recent: deque[float] = deque(maxlen=20)  # the peak is of 20-step medians
        self.peak = 0.0

    def observe(self, step: int, stats: dict[str, float]) -> Verdict | None:
        acc, g = stats.get("d_acc_fake"), stats.get("grad_norm_g")
        if acc is None or g is None or not math.isfinite(g):
            return None
        self.acc.append(acc)
        self.grad.append(g)
        self.recent.append(g)
        if len(self.recent) == self.recent.maxlen:
            self.peak = max(self.peak, statistics.median(self.recent))
        if len(self.grad) < self.grad.maxlen:
            return None
        med = statistics.median(self.grad)
        mean_acc = sum(self.acc) / len(self.acc)
        if mean_acc >= self.th.runaway_acc and self.peak > 0 and med < self.th.vanish * self.peak:
            return (STALLED, "runaway",
                    f"D has been right on {100 * mean_acc:.1f}% of fakes for {len(self.acc)} steps while "
                    f"G's gradient norm fell to {100 * med / self.peak:.2g}% of its peak: D has won and "
                    "G's gradient vanishes")
        return None


def effective_modes(counts: list[int] | None) -> float:
    """exp(entropy) of the samples' spread over the modes: K for an even spread, 1 for one mode.
    Mode counting alone calls a mode covered on a handful of samples, so a G that piles 97% of its
    mass on one of two modes still "covers" both."""
    if not counts or sum(counts) == 0:
        return math.inf
    total = sum(counts)
    return math.exp(-sum(c / total * math.log(c / total) for c in counts if c > 0))


class OverfitMonitor:
    """ADA's r_t (E[sign D(real)], `ada_rt`) at or above `overfit_rt` for `overfit_window` steps in a
    row: D separates the reals it has memorised even through the augmentation (Karras et al. 2020
    use r_t as their overfitting measure). Silent for runs without ADA (no `ada_rt`)."""

    def __init__(self, th: Thresholds) -> None:
        self.th = th
        self.run = 0  # consecutive steps with r_t >= overfit_rt

    def observe(self, step: int, stats: dict[str, float]) -> Verdict | None:
        rt = stats.get("ada_rt")
        if rt is None or not math.isfinite(rt):
            return None
        self.run = self.run + 1 if rt >= self.th.overfit_rt else 0
        if self.run >= self.th.overfit_window:
            return (OVERFITTING, "overfitting", f"D is overfitting: r_t = E[sign D(real)] has stayed at or "
                    f"above {self.th.overfit_rt:g} for {self.run} steps (now {rt:.2f}); raise ada_target "
                    "/ more data")
        return None


class CollapseMonitor:
    def __init__(self, th: Thresholds) -> None:
        self.th = th
        self.best_modes = 0
        self.recent: deque[int] = deque(maxlen=4)  # modes covered at the last few checks

    def check(self, step: int, q: Quality) -> Verdict | None:
        if q.modes is not None and q.modes_total:
            prev_best = self.best_modes
            self.best_modes = max(self.best_modes, q.modes)
            # still gaining modes (a new high over the last checks) is progress, not collapse
            gaining = not self.recent or q.modes > max(self.recent)
            self.recent.append(q.modes)
            if step >= self.th.warmup and q.hq and q.modes < q.modes_total and not gaining:
                fell = f" (down from {prev_best})" if q.modes < prev_best else ""
                return COLLAPSED, "collapse", f"only {q.modes} of {q.modes_total} modes covered{fell}"
            eff = effective_modes(q.counts)
            if (step >= self.th.warmup and q.hq and q.modes_total > 1 and not gaining
                    and eff < self.th.effective_modes * q.modes_total):
                return (COLLAPSED, "collapse", f"{q.modes} of {q.modes_total} modes covered, but the "
                        f"samples pile onto {eff:.1f} of them (exp of the entropy of the mode counts)")
        if q.diversity is not None and step >= self.th.warmup and q.diversity < self.th.diversity_collapsed:
            return (COLLAPSED, "collapse", f"samples are {100 * q.diversity:.0f}% as diverse as real data "
                    f"(mean pairwise distance of a fixed batch)")
        return None


class ProgressMonitor:
    """The tracked metric (distance to data) over the last quality checks."""

    def __init__(self, th: Thresholds) -> None:
        self.th = th
        self.history: deque[float] = deque(maxlen=th.progress_checks)
        self.first: float | None = None
        self.best = math.inf
        self.best_at = 0  # index of the check that set the best
        self.n = 0

    def check(self, step: int, q: Quality, mean_acc: float) -> Verdict | None:
        d = q.distance
        balanced = math.isfinite(mean_acc) and abs(mean_acc - 0.5) <= self.th.acc_band
        good_modes = q.modes is None or (q.modes == q.modes_total and (q.hq or 0) >= self.th.hq_converged)
        if not math.isfinite(d):  # no tracked metric: mixtures can still be judged by their modes
            if step >= self.th.warmup and q.modes is not None and balanced and good_modes:
                return CONVERGED, "convergence", (f"all {q.modes_total} modes covered, "
                                                  f"{100 * (q.hq or 0):.0f}% high quality, D accuracy "
                                                  f"{100 * mean_acc:.0f}%")
            return None
        self.n += 1
        if self.first is None:
            self.first = d
        if d < self.best * (1 - self.th.min_gain):
            self.best_at = self.n
        self.best = min(self.best, d)
        self.history.append(d)
        if step < self.th.warmup:
            return None
        h = list(self.history)
        full = len(h) == self.history.maxlen
        if full:
            signs = [math.copysign(1, b - a) for a, b in zip(h, h[1:], strict=False) if b != a]
            turns = sum(1 for a, b in zip(signs, signs[1:], strict=False) if a != b)
            lo, hi = min(h), max(h)
            if turns >= len(h) // 2 and hi - lo > self.th.swing * lo:
                return (OSCILLATING, "oscillation", f"the distance to data swung between {lo:.3g} and "
                        f"{hi:.3g} over the last {len(h)} checks")
            stuck = self.n - self.best_at >= len(h)
            if stuck and self.first and self.best > 0.5 * self.first:
                return (STALLED, "stall", f"no progress over the last {len(h)} checks: the distance to "
                        f"data is {d:.3g}, it started at {self.first:.3g}")
        # Mixtures are judged by their modes (all covered, most samples high quality): the distance
        # of 1,000 samples is too noisy to be asked to stay within near_best of its best there.
        if q.modes is not None:
            at_best = True
        else:
            close = d <= 0.05 * q.scale or (self.first and d <= 0.2 * self.first)
            at_best = bool(close) and d <= self.th.near_best * self.best
        if balanced and good_modes and at_best:
            msg = f"D accuracy {100 * mean_acc:.0f}%, distance to data {d:.3g} (best {self.best:.3g})"
            if q.modes is not None:
                msg = f"all {q.modes_total} modes covered, {100 * (q.hq or 0):.0f}% high quality, " + msg
            return CONVERGED, "convergence", msg
        return None


@dataclass
class Health:
    """The run's state from all monitors. Feed `observe` every step and `observe_quality` now and
    then; read `state`, `reason`; `pop_events()` gives the changes of state since the last call."""

    cfg: Thresholds = field(default_factory=Thresholds)
    state: str = RUNNING
    reason: str = "training"
    step: int = 0
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.divergence = DivergenceMonitor(self.cfg)
        self.runaway = RunawayMonitor(self.cfg)
        self.overfit = OverfitMonitor(self.cfg)
        self.collapse = CollapseMonitor(self.cfg)
        self.progress = ProgressMonitor(self.cfg)
        self._acc: deque[float] = deque(maxlen=self.cfg.window)
        self._verdicts: deque[Verdict] = deque(maxlen=self.cfg.patience)
        self._step_verdict: Verdict | None = None
        self._new: list[Event] = []

    @property
    def mean_acc(self) -> float:
        return sum(self._acc) / len(self._acc) if self._acc else float("nan")

    def observe(self, step: int, loss_d: float, loss_g: float, d_acc: float,
                **more: float) -> str:
        """One training step's statistics (d_acc_fake and grad_norm_g feed the runaway monitor,
        ada_rt the overfitting monitor)."""
        self.step = step
        if self.state == DIVERGED:
            return self.state
        stats = {"loss_d": loss_d, "loss_g": loss_g, "d_acc": d_acc, **more}
        v = self.divergence.observe(step, stats)
        if v:
            return self._set(v)
        if math.isfinite(d_acc):
            self._acc.append(d_acc)
        found = [v for v in (self.runaway.observe(step, stats), self.overfit.observe(step, stats)) if v]
        self._step_verdict = max(found, key=lambda v: PRIORITY[v[0]]) if found else None
        if self._step_verdict and PRIORITY[self._step_verdict[0]] > PRIORITY[self.state]:
            return self._set(self._step_verdict)
        return self.state

    def diverged(self, step: int, message: str) -> str:
        """Something outside the monitors saw a NaN (a weight, a sample, the trainer itself)."""
        self.step = step
        if self.state != DIVERGED:
            self._set((DIVERGED, "divergence", message))
        return self.state

    def observe_quality(self, q: Quality) -> str:
        """A quality check; the state changes only when `patience` checks in a row agree."""
        if self.state == DIVERGED:
            return self.state
        if not q.finite:
            return self.diverged(self.step, f"generated samples are not finite at step {self.step}")
        found = [v for v in (self.collapse.check(self.step, q),
                             self.progress.check(self.step, q, self.mean_acc),
                             self._step_verdict) if v]
        if found:
            verdict = max(found, key=lambda v: PRIORITY[v[0]])
        else:
            verdict = (RUNNING, "", self._running_reason(q))
        self._verdicts.append(verdict)
        agree = len(self._verdicts) == self._verdicts.maxlen and len({v[0] for v in self._verdicts}) == 1
        if agree and verdict[0] != self.state:
            if verdict[0] == RUNNING:  # a problem went away: say so, with what is seen now
                verdict = (RUNNING, verdict[1] or "progress", f"no longer {self.state}: {verdict[2]}")
            self._set(verdict)
        elif verdict[0] == self.state:
            self.reason = verdict[2]
        return self.state

    def _running_reason(self, q: Quality) -> str:
        if self.step < self.cfg.warmup:
            covered = f" ({q.modes}/{q.modes_total} modes covered)" if q.modes is not None else ""
            return "warming up" + covered
        if q.modes is not None:
            if not q.hq:
                return "no generated point is near a mode yet"
            return f"{q.modes}/{q.modes_total} modes covered, {100 * (q.hq or 0):.0f}% high quality"
        return f"distance to data {q.distance:.3g}"

    def _set(self, verdict: Verdict) -> str:
        state, monitor, message = verdict
        self.state, self.reason = state, message
        ev = Event(self.step, monitor or "progress", state, message,
                   ADVICE.get(monitor, "") if state != RUNNING else "")
        self.events.append(ev)
        self._new.append(ev)
        return self.state

    def pop_events(self) -> list[Event]:
        out, self._new = self._new, []
        return out

    # --- the lab's older entry points, kept as thin wrappers ----------------------------------
    def observe_modes(self, counts: list[int], hq: float, distance: float = math.nan) -> str:
        from ..metrics.modes import covered_modes

        covered = covered_modes(counts)
        return self.observe_quality(Quality(distance, 1.0, covered, len(counts), hq, list(counts)))

    def observe_distance(self, distance: float, scale: float) -> str:
        return self.observe_quality(Quality(distance, scale))


# --- the quality check both the trainer and the lab run --------------------------------------


def diversity(x: torch.Tensor, max_dim: int = 1024) -> float:
    """Mean pairwise Euclidean distance of a batch (images flattened, downsampled to <= max_dim)."""
    if x.dim() == 4 and x[0].numel() > max_dim:
        side = max(4, int((max_dim / x.shape[1]) ** 0.5))
        x = torch.nn.functional.adaptive_avg_pool2d(x.float(), side)
    f = x.reshape(len(x), -1).double()
    d = torch.cdist(f, f)
    n = len(f)
    return float(d.sum() / (n * (n - 1))) if n > 1 else 0.0


def measure_quality(fake: torch.Tensor, real: torch.Tensor, data: Any, th: Thresholds,
                    real_diversity: float | None = None, scale: float = 1.0) -> Quality:
    """The quality check: fixed fake batch vs fixed real batch; modes when the data has them."""
    from ..metrics.modes import mode_stats, sliced_wasserstein

    if not torch.isfinite(fake).all():
        return Quality(math.nan, scale, finite=False)
    dist = sliced_wasserstein(fake.flatten(1) if fake.dim() > 2 else fake,
                              real.flatten(1) if real.dim() > 2 else real, seed=0)
    q = Quality(dist, scale)
    modes = data.modes  # every data source says (None: no known modes)
    if modes is not None:
        r = mode_stats(fake, modes, data.std)  # eval's statistics: the same covered count
        q.modes, q.modes_total, q.hq = r["modes"], r["modes_total"], r["hq"]
        q.counts, q.mode_stats = r["counts"], r
    if fake.dim() == 4:
        ref = real_diversity if real_diversity is not None else diversity(real)
        q.diversity = diversity(fake) / ref if ref > 0 else None
    return q
