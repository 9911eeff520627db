"""Tasks: how a batch of data becomes G's condition, D's real samples and D's condition.

The trainer never branches on the kind of problem; it asks its task. `generate` (z -> x, with or
without classes) is the one task today; image-to-image tasks add theirs here."""

from .generate import TASKS, GenerateTask, Task

__all__ = ["TASKS", "GenerateTask", "Task"]
