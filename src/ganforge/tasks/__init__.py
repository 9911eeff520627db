"""Tasks: how a batch of data becomes G's inputs, D's real samples and D's conditions, plus the
task's own loss terms.

The trainer never branches on the kind of problem; it asks its task (base.Task). `generate` (z -> x,
with or without classes), `paired` (pix2pix), `unpaired` (CycleGAN), `superres` and `inpaint` (fill
masked holes) are here."""

from . import inpaint, paired, table, unpaired  # noqa: F401  (register "inpaint", "paired", "table", "unpaired")
from .base import TASKS, Batch, Noise, Task, TaskDefaults
from .generate import GenerateTask
from .paired import PairedTask
from .superres import SuperResTask
from .unpaired import UnpairedTask

__all__ = ["TASKS", "Batch", "GenerateTask", "Noise", "PairedTask", "SuperResTask", "Task", "TaskDefaults",
           "UnpairedTask"]
