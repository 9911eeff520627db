"""Sampling speed of a DCGAN-28 generator (configs/mnist-dcgan.yaml's G, untrained: the weights do
not change the speed): images/s at batch 1, 16 and 256 for PyTorch eager, onnxruntime (CPU) and,
with --compile, torch.compile. Forward passes only (the noise is drawn once per batch size).

    python benchmarks/sampling.py [--seconds 2] [--compile] [--threads 0]
Writes benchmarks/results/sampling.md; target: onnxruntime >= 1.5x eager at batch 16.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _runs import write_results  # noqa: E402

from ganforge import config  # noqa: E402
from ganforge.export import OnnxGenerator, export_onnx  # noqa: E402
from ganforge.generation import LoadedGenerator  # noqa: E402
from ganforge.nets import build_g  # noqa: E402

BATCHES = (1, 16, 256)


def rate(fn, batch: int, seconds: float) -> float:
    """Images/s: the best of 3 timed windows after a warm-up (the machine is shared: the best
    window is the least disturbed)."""
    for _ in range(3):
        fn()
    best = 0.0
    for _ in range(3):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 3:
            fn()
            n += 1
        best = max(best, n * batch / (time.perf_counter() - t0))
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=2.0, help="timed seconds per cell")
    p.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: default)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sampling.md"))
    args = p.parse_args()
    t_start = time.time()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = config.load(ROOT / "configs" / "mnist-dcgan.yaml")
    torch.manual_seed(0)
    net = build_g(cfg.g, (1, 28, 28)).eval()
    g = LoadedGenerator(net, cfg.g.noise, torch.device("cpu"))
    with tempfile.TemporaryDirectory() as tmp:
        og = OnnxGenerator(export_onnx(net, Path(tmp) / "g.onnx", cfg.g.noise, g.provenance()))
    backends = {"PyTorch eager": None, "onnxruntime": None}
    if args.compile:
        backends["torch.compile"] = None
    compiled = torch.compile(net) if args.compile else None
    rows: dict[str, dict[int, float]] = {name: {} for name in backends}
    for batch in BATCHES:
        z = g.noise(batch, 0)
        zn = z.numpy()
        with torch.inference_mode():
            rows["PyTorch eager"][batch] = rate(lambda z=z: net(z, None), batch, args.seconds)
            if compiled is not None:
                rows["torch.compile"][batch] = rate(lambda z=z: compiled(z, None), batch, args.seconds)
        rows["onnxruntime"][batch] = rate(lambda zn=zn: og.session.run(["x"], {"z": zn}), batch, args.seconds)
        assert np.abs(og.session.run(["x"], {"z": zn})[0] - net(z, None).detach().numpy()).max() < 1e-4
        print(f"batch {batch}: " + ", ".join(f"{k} {v[batch]:,.0f}/s" for k, v in rows.items()), flush=True)
    ratio = rows["onnxruntime"][16] / rows["PyTorch eager"][16]
    lines = ["# Sampling speed (DCGAN-28 generator, CPU)", "",
             f"Images per second, forward passes only (best of 3 windows of {args.seconds / 3:.1f} s), "
             f"{torch.get_num_threads()} intra-op threads; G of configs/mnist-dcgan.yaml "
             f"(width {cfg.g.width}, z {cfg.g.noise_dim}), untrained, eval mode, fp32.", "",
             "| backend | " + " | ".join(f"batch {b}" for b in BATCHES) + " |",
             "|---|" + "---|" * len(BATCHES)]
    for name, r in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{r[b]:,.0f}" for b in BATCHES) + " |")
    lines += ["", f"Target (onnxruntime >= 1.5x eager at batch 16): "
              f"{'met' if ratio >= 1.5 else 'missed'} ({ratio:.2f}x)."]
    write_results(lines, args.out, t_start)
    print(f"ratio16={ratio:.2f}")


if __name__ == "__main__":
    main()
