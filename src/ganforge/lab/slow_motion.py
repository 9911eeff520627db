"""Slow motion: one real training step of a lab session in six phases, pausing on each.

The same calls as `Trainer.train_step`, made one at a time (begin_step, the D steps, g_step,
end_step), so every number the page shows is the trainer's own; the phases that only look
(sample, G's forward pass, D's scores, G through D) change nothing.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import ConfigError, GanforgeError
from ..losses import d_accuracy
from ..training.health import DIVERGED
from ..training.trainer import TrainingDiverged
from .images import encode
from .page import num_json, points_json, values_json

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

# the same phases told for images (no field, no arrows: frames and pictures instead)
IMAGE_PHASES: tuple[str, ...] = (
    "1/6 Sample: draw a batch of random noise z for G and a batch of real images from the data set. "
    "Fresh randomness each step keeps G from memorising one input.",
    "2/6 G makes fakes: the generator turns each noise vector into an image. At first they are "
    "grey blur, nothing like the real images.",
    "3/6 D scores real and fake: D gives every image a probability of being real (frame: blue = "
    "\"real\", red = \"fake\"). Its loss is low when real images score high and fakes score low.",
    "4/6 D learns: the D loss gradient flows back into D's weights only, so D gets better at telling "
    "these real images from these fakes. G is not changed.",
    "5/6 G's turn: the fakes go through the updated D. G's loss is low when D calls them real; its "
    "gradient says how every pixel of every fake should change to fool D.",
    "6/6 G learns: G's loss gradient flows back through D (D's weights stay frozen) into G's weights. "
    "The same noise now makes new fakes (bottom row), and D is asked again. One step done.",
)


class SlowMotion:
    """LabSession's slow-motion methods (a mixin: they use its trainer, health, limits, _record
    and _arrows). `self.slow` holds the step in progress, None outside slow motion."""

    slow: dict[str, Any] | None

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
        try:
            with torch.no_grad():
                if phase == 0:  # the batch d_step will draw: the same generators, then put back
                    rd, rn = t.rng["data"], t.rng["noise"]
                    states = rd.get_state(), rn.get_state()
                    real, slow["c_real"] = t.task.real(n, rd)
                    slow["c"] = t.task.condition(n, rn)
                    slow["z"] = t.noise(n, rn)
                    rd.set_state(states[0])
                    rn.set_state(states[1])
                    slow["real"] = real.float()
                elif phase == 1:
                    slow["fake"] = t.g(slow["z"], slow["c"]).float()
                elif phase == 2:
                    c_both = None if slow["c"] is None else torch.cat([slow["c_real"], slow["c"]])
                    out = t.d(torch.cat([slow["real"], slow["fake"]]), c_both)
                    s_r, s_f = out.score.float().split(n // t.d.spec.pack)
                    acc_r, acc_f = d_accuracy(t.loss, s_r, s_f)
                    slow["stats"] = {"loss_d": t.loss.d(s_r, s_f).item(), "d_acc": (acc_r + acc_f) / 2}
                elif phase == 4:
                    score = t.d(slow["fake"], slow["c"]).score.float()
                    slow["stats"] = dict(slow["stats"], loss_g_before=t.loss.g(score).item())
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
                    slow["fake_after"] = t.g(slow["z"], slow["c"]).float()
                self._record(stats)
        except TrainingDiverged as e:
            self.health.diverged(t.step, str(e))
            self.slow = None
            raise GanforgeError(f"training diverged: {e}") from None
        slow["done"] = phase
        draw = self._slow_images(phase, slow) if slow["real"].dim() == 4 else self._slow_points(phase, slow)
        if phase == 5:
            self.slow = None
        name, text = PHASES[phase]
        if slow["real"].dim() == 4:
            text = IMAGE_PHASES[phase]
        return {"phase": phase, "phase_name": name, "phase_text": text, "phases": len(PHASES),
                "slow": draw, "phase_stats": {k: num_json(v) for k, v in slow.get("stats", {}).items()}}

    def _slow_points(self, phase: int, slow: dict[str, Any]) -> dict[str, Any]:
        """What the canvas shows of a phase on points: noise, the batch, D's verdicts, arrows."""
        t = self.trainer
        m = min(t.cfg.train.batch_size, self.limits.n_show)
        draw: dict[str, Any] = {"real": points_json(slow["real"][:m]), "z": points_json(slow["z"][:m, :2])
                                if slow["z"].shape[1] >= 2 else [[float(v), 0.0] for v in slow["z"][:m, 0]]}
        if "fake" in slow:
            draw["fake"] = points_json(slow["fake"][:m])
        if phase in (2, 3):
            draw["p_real"] = [round(float(v), 3) for v in t.d_prob(slow["real"][:m])]
            draw["p_fake"] = [round(float(v), 3) for v in t.d_prob(slow["fake"][:m])]
        if phase == 4:
            draw["arrows"] = self._arrows(slow["fake"][:m].cpu())
        if phase == 5:
            draw["fake_after"] = points_json(slow["fake_after"][:m])
        return draw

    def _slow_images(self, phase: int, slow: dict[str, Any]) -> dict[str, Any]:
        """What the image view shows of a phase: the first images of the batch (real, G's fakes,
        and after G's update the same noise's new fakes), with D's verdicts from phase 2 on."""
        t = self.trainer
        m = min(t.cfg.train.batch_size, self.limits.slow_images)

        def cut(c: torch.Tensor | None) -> torch.Tensor | None:
            return None if c is None else c[:m]

        draw: dict[str, Any] = {"n": m, "real": encode(slow["real"][:m])}
        if "fake" in slow:
            draw["fake"] = encode(slow["fake"][:m])
        if phase >= 2:
            draw["p_real"] = values_json(t.d_prob(slow["real"][:m], cut(slow["c_real"])))
            draw["p_fake"] = values_json(t.d_prob(slow["fake"][:m], cut(slow["c"])))
        if phase == 5:
            draw["fake_after"] = encode(slow["fake_after"][:m])
            draw["p_after"] = values_json(t.d_prob(slow["fake_after"][:m], cut(slow["c"])))
        return draw

    def slow_finish(self) -> None:
        """Leave slow motion: a step whose D update is done gets its G update (the trainer never
        stays half a step); one that only looked so far is dropped."""
        slow, self.slow = self.slow, None
        if slow is not None and slow.get("begun"):
            try:
                self._record(self.trainer.end_step(dict(slow["stats"], **self.trainer.g_step())))
            except TrainingDiverged as e:
                self.health.diverged(self.trainer.step, str(e))
