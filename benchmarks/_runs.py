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
