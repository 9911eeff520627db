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
