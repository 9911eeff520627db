"""Throughput of one job on 1 process vs 2 processes (DistributedDataParallel, gloo, this machine).

Each row is a real `ganforge train` (the 2-process rows through `--nproc 2`, PyTorch's elastic
launcher), same config and global batch; samples/s is the median of metrics.jsonl's samples_per_s
over the log intervals after the first (start-up and the first steps left out).

    python benchmarks/ddp_scaling.py [--steps-scale 1.0]
Writes benchmarks/results/ddp_scaling.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _runs import write_results  # noqa: E402

# (name, config, steps, log_every): a 2-D MLP recipe and a small DCGAN image recipe
JOBS = [("grid25 (MLP 128x3, batch 512, lazy R1, EMA)", "configs/grid25.yaml", 600, 100),
        ("digits-tiny (DCGAN 16x16, batch 64, bf16 auto, DiffAugment)", "configs/digits-tiny.yaml", 300, 50)]
# (label, processes, threads per process)
LAYOUTS = [("1 process, 1 thread", 1, 1), ("1 process, 2 threads", 1, 2), ("2 processes x 1 thread", 2, 1)]


def run(config: str, steps: int, log_every: int, nproc: int, threads: int) -> float:
    """Median samples/s of one training run after its first log interval."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "ganforge", "train", str(ROOT / config), "--out", str(out),
               "--quiet", "--no-plots", "--device", "cpu", "--set", f"train.steps={steps}",
               "--set", f"train.log_every={log_every}", "--set", f"train.threads={threads}",
               "--set", "train.ckpt_every=0", "--set", "health.enabled=false"]
        if nproc > 1:
            cmd += ["--nproc", str(nproc)]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": str(threads)}
        subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=1800)
        lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x]
        rates = [x["samples_per_s"] for x in lines if "samples_per_s" in x][1:]
        return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps-scale", type=float, default=1.0, help="multiply every job's steps")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/ddp_scaling.md"))
    args = ap.parse_args()
    t0 = time.time()
    lines = ["# One job on 1 vs 2 processes (CPU, gloo)", "",
             f"This machine: {os.cpu_count()} logical CPUs, shared with other work. Same config and "
             "global batch on every row; samples/s = the job's (global batch x steps / s), the median "
             "over metrics.jsonl intervals after the first.", "",
             "| recipe | layout | samples/s | vs 1 process, 1 thread |", "|---|---|---|---|"]
    for name, config, steps, every in JOBS:
        steps = max(2 * every, int(steps * args.steps_scale) // every * every)
        base = None
        for label, nproc, threads in LAYOUTS:
            rate = run(config, steps, every, nproc, threads)
            base = base or rate
            lines.append(f"| {name} | {label} | {rate:,.0f} | {rate / base:.2f} |")
            print(lines[-1], flush=True)
    lines += ["", "How to read it: on 2 cores a second process can at best match a second thread; it "
              "also pays for DDP's gradient all-reduce (gloo over loopback), the per-step all-reduce "
              "of the logged statistics and the stop agreement, and every rank draws (then slices) the "
              "global batch. Data parallelism is for more devices than one process can use (GPUs, "
              "machines), not for 2 shared CPU cores.", ""]
    write_results(lines, args.out, t0)


if __name__ == "__main__":
    main()
