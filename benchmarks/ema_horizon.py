"""How long should G's moving average be? The EMA horizon of the mnist-dcgan recipe, measured.

benchmarks/results/dcgan_ablation.md found the recipe's EMA copy scoring ~30 FID worse than its own
raw G at 2,000 steps (both batch-norm modes), while the raw G beat the canonical loop. This script
trains the recipe once and keeps several averages of the same G side by side (paired: same weights,
same steps): fixed half-lives in steps, ganforge's default decay with its warm-up, and StyleGAN2-ADA's
ramp-up (train.ema_rampup), scoring each at several steps (FID / precision / recall, 5,000 samples
against 5,000 real MNIST images in lenet-mnist features, BN running statistics copied from the live G
as ganforge's EMA does).

    python benchmarks/ema_horizon.py [--checks 1000,2000,4000]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _runs import write_results  # noqa: E402

N = 5000
HALF_LIVES = (10, 30, 100, 300)  # steps


def averages() -> dict[str, tuple[float, float]]:
    """name -> (decay, rampup) for training.ema.update_ema."""
    out = {"raw G (no average)": (0.0, 0.0)}
    for h in HALF_LIVES:
        out[f"half-life {h} steps"] = (0.5 ** (1 / h), 1e9)  # rampup huge: the fixed decay from step 1
    out["decay 0.999 + warm-up (recipe default)"] = (0.999, 0.0)
    out["decay 0.999 + ramp-up 0.05"] = (0.999, 0.05)
    out["decay 0.9999 + ramp-up 0.05"] = (0.9999, 0.05)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checks", default="1000,2000,4000")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ema_horizon.md"))
    a = p.parse_args()
    checks = sorted(int(s) for s in a.checks.split(","))
    t0 = time.time()

    import torch
    from mnist_fid import references

    from ganforge import config
    from ganforge.generation import generate
    from ganforge.metrics.features import build_extractor
    from ganforge.metrics.suite import compute
    from ganforge.training import Trainer
    from ganforge.training.ema import make_ema, update_ema

    torch.set_num_threads(1)
    cfg = config.load(ROOT / "configs" / "mnist-dcgan.yaml",
                      ["train.threads=1", f"train.steps={checks[-1]}", f"seed={a.seed}", "train.ema=0"])
    trainer = Trainer(cfg)
    copies = {name: make_ema(trainer.g) for name in averages()}
    ext = build_extractor("lenet-mnist", (1, 28, 28), progress=False)
    ref, _ = references("mnist")
    rows: list[tuple[int, str, float, float, float]] = []
    cpu0 = time.process_time()
    for step in range(checks[-1]):
        trainer.train_step()
        for name, (decay, rampup) in averages().items():
            update_ema(copies[name], trainer.g, decay, step, rampup)
        if step + 1 in checks:
            for name, g in copies.items():
                x = generate(g, cfg.g.noise, N, torch.Generator().manual_seed(12345))
                r = compute(["fid", "pr"], x, ref, ext, seed=0).results
                rows.append((step + 1, name, r["fid"]["fid"], r["pr"]["precision"], r["pr"]["recall"]))
                print(f"step {step + 1:>6} {name:<42} FID {r['fid']['fid']:8.2f}", flush=True)
    cpu = (time.process_time() - cpu0) / 60
    lines = [
        "# The EMA horizon of the mnist-dcgan recipe", "",
        f"One run of configs/mnist-dcgan.yaml (seed {a.seed}, one thread, {cpu:.1f} CPU-min with scoring); "
        "every average follows the same G, so rows at one step differ only in the average. "
        f"{N:,} samples vs {N:,} real MNIST images in lenet-mnist features ({ext.hash}); lower FID is "
        "better. Half-life in steps of a decay d: ln 0.5 / ln d (0.999: 693 steps).", "",
        "| step | samples from | FID | precision | recall |", "|---|---|---|---|---|",
    ]
    lines += [f"| {s:,} | {n} | {f:.2f} | {pr:.3f} | {rc:.3f} |" for s, n, f, pr, rc in rows]
    best = {s: min((f, n) for s2, n, f, *_ in rows if s2 == s) for s in checks}
    lines += ["", "Best per step: " + "; ".join(f"{s:,}: {n} ({f:.1f})" for s, (f, n) in best.items())
              + f". Default decay's half-life at step {checks[-1]:,}: "
              f"{math.log(0.5) / math.log(min(0.999, (1 + checks[-1]) / (10 + checks[-1]))):.0f} steps.", ""]
    write_results(lines, a.out, t0)


if __name__ == "__main__":
    main()
