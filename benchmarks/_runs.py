"""What the benchmark scripts share: a run directory per job, reused when the same job finished."""

from __future__ import annotations

import json
from pathlib import Path


def finished(job: dict, key: str) -> dict | None:
    """The record of a finished run of this job (same `key` value), unless --fresh."""
    done = Path(job["dir"]) / "bench.json"
    if done.exists() and not job["fresh"]:
        rec = json.loads(done.read_text())
        if rec.get(key) == job[key]:
            return rec
    return None


def clean_dir(out: Path) -> None:
    """A run directory without old checkpoints: a retrained job must not mix with a past one."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("checkpoints/*"):
        old.unlink()


def write_results(lines: list[str], out: str | Path, t0: float) -> None:
    """Print the table and write it with a footer naming the versions, the date and the wall time.
    (A hand-written account below the table is overwritten too: it would describe older numbers.)"""
    import platform
    import time

    import torch

    from ganforge import __version__

    wall = (time.time() - t0) / 60
    lines = [*lines, f"ganforge {__version__}, torch {torch.__version__}, Python "
             f"{platform.python_version()}, {platform.machine()}; {time.strftime('%Y-%m-%d')}; "
             f"wall {wall:.0f} min."]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text)


def train_to_budgets(cfg, out: Path, budgets_min: list[float],  # noqa: ANN001
                     resume: dict | None = None) -> dict[str, dict]:
    """Train `cfg` from scratch, checkpointing the first time this process's CPU time crosses each
    budget (minutes); stops after the last. Returns {budget: {step, cpu_s, path}}.

    `resume` ({path, cpu_s}: a mark of an earlier call) continues that checkpoint instead, its CPU
    time counted as already spent: resuming is exact on CPU (tests/training/test_resume*), so a
    20-minute mark reached this way is the one an unbroken run would reach, give or take the CPU
    clock's own noise; the minutes spent loading the checkpoint are not counted."""
    import time

    from ganforge.training import Trainer, fit
    from ganforge.training.callbacks import Callback
    from ganforge.training.state import checkpoint_path, load_checkpoint, restore, save_checkpoint

    budgets = sorted(budgets_min)
    marks: dict[str, dict] = {}
    trainer = Trainer(cfg)
    spent = 0.0
    if resume is not None:
        trainer = restore(trainer, load_checkpoint(Path(resume["path"])))
        spent = float(resume["cpu_s"])
    c0 = time.process_time() - spent

    class Budget(Callback):
        def on_step(self, trainer, stats) -> None:  # noqa: ANN001
            cpu = time.process_time() - c0
            while budgets and cpu >= budgets[0] * 60:
                b = budgets.pop(0)
                path = save_checkpoint(trainer, checkpoint_path(out, trainer.step))
                marks[str(b)] = {"step": trainer.step, "cpu_s": cpu, "path": str(path)}
            if not budgets:
                raise StopIteration

    try:
        fit(trainer, cfg.train.steps, [Budget()])
    except StopIteration:
        pass
    return marks
