"""Training: the step and the loop (trainer), checkpoints (state), EMA, callbacks, health.

`Trainer`, `TrainingDiverged` and `fit` are imported on first use, so reading a checkpoint
(state.py) or the health monitors does not import the training loop."""

from __future__ import annotations

from typing import Any

__all__ = ["Trainer", "TrainingDiverged", "fit"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'ganforge.training' has no attribute {name!r}")
