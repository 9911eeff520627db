"""Training: the step and the loop (trainer), checkpoints (state), EMA, callbacks."""

from .trainer import Trainer, TrainingDiverged, fit

__all__ = ["Trainer", "TrainingDiverged", "fit"]
