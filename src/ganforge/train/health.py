"""Training health from the live metric stream: Running, Converged, Collapsed, Diverged.

One implementation for every front end (the lab's status line today; the trainer's monitors and
the run report build on it). Fed with the step's losses and D accuracy, and now and then with
mode statistics of a fresh batch of samples (on mixtures) or a distance to real data (elsewhere).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

RUNNING, CONVERGED, COLLAPSED, DIVERGED = "Running", "Converged", "Collapsed", "Diverged"


@dataclass
class HealthConfig:
    warmup: int = 300  # steps before Collapsed / Converged may be declared
    window: int = 50  # steps of D accuracy averaged for "near 50%"
    acc_band: float = 0.12  # |mean D acc - 0.5| below this counts as "near 50%"
    loss_bound: float = 1e4  # |loss| above this counts as exploding
    min_share: float = 0.1  # a mode counts as covered with >= this share of its uniform count
    hq_converged: float = 0.8  # high-quality share needed to call a mixture converged
    patience: int = 2  # consecutive mode checks that must agree before the state changes


@dataclass
class Health:
    """Feed `observe` every step and `observe_modes` now and then; read `state` and `reason`."""

    cfg: HealthConfig = field(default_factory=HealthConfig)
    state: str = RUNNING
    reason: str = "training"
    _acc: deque = field(default_factory=deque)
    _verdicts: deque = field(default_factory=deque)
    step: int = 0

    def observe(self, step: int, loss_d: float, loss_g: float, d_acc: float) -> str:
        self.step = step
        bad = [(k, v) for k, v in (("D loss", loss_d), ("G loss", loss_g))
               if not math.isfinite(v) or abs(v) > self.cfg.loss_bound]
        if bad:
            self.state, self.reason = DIVERGED, f"{bad[0][0]} is {bad[0][1]:.3g} at step {step}"
            return self.state
        self._acc.append(d_acc)
        while len(self._acc) > self.cfg.window:
            self._acc.popleft()
        return self.state

    @property
    def mean_acc(self) -> float:
        return sum(self._acc) / len(self._acc) if self._acc else float("nan")

    def observe_modes(self, counts: list[int], hq: float) -> str:
        """Mode histogram of the high-quality samples of a fresh batch, and their share."""
        if self.state == DIVERGED:
            return self.state
        k = len(counts)
        n_hq = sum(counts)
        covered = sum(1 for c in counts if n_hq and c >= self.cfg.min_share * n_hq / k)
        balanced = abs(self.mean_acc - 0.5) <= self.cfg.acc_band
        if self.step < self.cfg.warmup:
            verdict = (RUNNING, f"warming up ({covered}/{k} modes covered)")
        elif n_hq == 0:
            verdict = (RUNNING, "no generated point is near a mode yet")
        elif covered < k:
            verdict = (COLLAPSED, f"only {covered} of {k} modes covered")
        elif hq >= self.cfg.hq_converged and balanced:
            verdict = (CONVERGED, f"all {k} modes covered, {100 * hq:.0f}% high quality, "
                                  f"D accuracy {100 * self.mean_acc:.0f}%")
        else:
            verdict = (RUNNING, f"all {k} modes covered, {100 * hq:.0f}% high quality")
        return self._settle(verdict)

    def observe_distance(self, distance: float, scale: float) -> str:
        """For data without modes: a distance to real samples (sliced Wasserstein), vs data scale."""
        if self.state == DIVERGED:
            return self.state
        close = distance <= 0.05 * scale
        balanced = abs(self.mean_acc - 0.5) <= self.cfg.acc_band
        if self.step >= self.cfg.warmup and close and balanced:
            verdict = (CONVERGED, f"distance to data {distance:.3f}, D accuracy "
                                  f"{100 * self.mean_acc:.0f}%")
        else:
            verdict = (RUNNING, f"distance to data {distance:.3f}")
        return self._settle(verdict)

    def _settle(self, verdict: tuple[str, str]) -> str:
        self._verdicts.append(verdict)
        while len(self._verdicts) > self.cfg.patience:
            self._verdicts.popleft()
        if len(self._verdicts) == self.cfg.patience and len({v[0] for v in self._verdicts}) == 1:
            self.state, self.reason = verdict
        elif verdict[0] == RUNNING and self.state == RUNNING:
            self.reason = verdict[1]
        return self.state
