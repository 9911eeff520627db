"""Why did ganforge's DCGAN recipe score worse than the canonical PyTorch DCGAN loop at equal CPU time?

Issue 15 measured the `mnist-dcgan` recipe running 2.2x the steps of the canonical example's loop
and still scoring a slightly worse FID. This script separates the suspects at EQUAL STEPS (quality per
step; speed per step is benchmarks/throughput.py's table): the reference loop (canonical example:
noise 100, batch norm in D after its first layer, fp32, sigmoid + BCE, G sampled in train mode as the
example does) against the recipe and the recipe with one difference removed at a time (fp32 instead of
bf16, noise 100, batch norm in D), each scored several ways from the same checkpoint: the EMA copy and
the raw G, G's batch norm in eval mode (running statistics) or in train mode (batch statistics of each
64-sample batch, as the canonical example draws its samples).

Every score: FID / precision / recall of 5,000 samples against 5,000 real MNIST images in ganforge's
lenet-mnist features (as benchmarks/results/mnist_fid.md).

    python benchmarks/dcgan_ablation.py [--steps 3000] [--procs 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _runs import clean_dir, finished, write_results  # noqa: E402

N = 5000
BATCH = 64
VARIANTS = {  # name -> overrides of configs/mnist-dcgan.yaml (None: the canonical reference loop)
    "reference (canonical loop)": None,
    "mnist-dcgan recipe": [],
    "recipe, fp32": ["train.precision=fp32"],
    "recipe, noise 100": ["g.noise_dim=100"],
    "recipe, batch norm in D": ["d.batch_norm=true"],
    "recipe, fp32 + noise 100 + D batch norm": ["train.precision=fp32", "g.noise_dim=100",
                                                 "d.batch_norm=true"],
}


def _canonical_cfg():  # noqa: ANN202
    from ganforge import config

    return config.load(ROOT / "configs" / "mnist-dcgan.yaml",
                       ["g.noise_dim=100", "d.batch_norm=true", "train.precision=fp32",
                        "train.channels_last=false", "train.ema=0"])


def train_one(job: dict) -> dict:
    """Train one variant for `steps` steps on one thread; save its G (and EMA) as a checkpoint."""
    import torch

    torch.set_num_threads(1)
    out = Path(job["dir"])
    if rec := finished(job, "steps"):
        return rec
    clean_dir(out)
    t0 = time.process_time()
    if job["overrides"] is None:
        from throughput import Reference

        from ganforge.data import build_data

        cfg = _canonical_cfg()
        ref = Reference(cfg, build_data(cfg.data), torch.device("cpu"))
        ref.gen.manual_seed(job["seed"])
        torch.manual_seed(job["seed"])
        for _ in range(job["steps"]):
            ref.step()
        path = out / "g.pt"
        torch.save(ref.g.state_dict(), path)
    else:
        from ganforge import config
        from ganforge.training import Trainer, fit
        from ganforge.training.state import checkpoint_path, save_checkpoint

        cfg = config.load(ROOT / "configs" / "mnist-dcgan.yaml",
                          ["train.threads=1", f"train.steps={job['steps']}", f"seed={job['seed']}",
                           *job["overrides"]])
        trainer = fit(Trainer(cfg), job["steps"])
        path = save_checkpoint(trainer, checkpoint_path(out, trainer.step))
    rec = {**job, "path": str(path), "cpu_min": (time.process_time() - t0) / 60}
    (out / "bench.json").write_text(json.dumps(rec, indent=1))
    return rec


def _samples(g, noise: str, train_mode_bn: bool):  # noqa: ANN001, ANN202
    """N samples in chunks of 64; BN from running statistics (eval) or from each chunk (train)."""
    import torch

    gen = torch.Generator().manual_seed(12345)
    g.train(train_mode_bn)
    outs = []
    with torch.no_grad():
        for i in range(0, N, BATCH):
            n = min(BATCH, N - i)
            z = torch.randn(n, g.spec.z_dim, generator=gen) if noise == "normal" else \
                torch.rand(n, g.spec.z_dim, generator=gen) * 2 - 1
            outs.append(g(z).float())
    g.eval()
    return torch.cat(outs)


def score(rec: dict, ext, ref) -> list[dict]:  # noqa: ANN001
    import torch

    from ganforge.metrics.suite import compute
    from ganforge.nets import build_g
    from ganforge.training.state import generator_from, load_checkpoint

    rows = []
    if rec["overrides"] is None:
        cfg = _canonical_cfg()
        g = build_g(cfg.g, (1, 28, 28))
        g.load_state_dict(torch.load(rec["path"]))
        ways = [("G, BN batch stats (as the example samples)", g, True), ("G, BN running stats", g, False)]
        noise = "normal"
    else:
        ckpt = load_checkpoint(Path(rec["path"]))
        ema, raw = generator_from(ckpt, use_ema=True), generator_from(ckpt, use_ema=False)
        ways = [("EMA, BN running stats (ganforge's default)", ema, False),
                ("EMA, BN batch stats", ema, True),
                ("G, BN running stats", raw, False), ("G, BN batch stats", raw, True)]
        noise = ckpt.config.g.noise
    for how, g, bn_train in ways:
        x = _samples(g, noise, bn_train)
        r = compute(["fid", "pr"], x, ref, ext, seed=0).results
        rows.append({"variant": rec["name"], "how": how, "fid": r["fid"]["fid"],
                     "precision": r["pr"]["precision"], "recall": r["pr"]["recall"],
                     "cpu_min": rec["cpu_min"]})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--fresh", action="store_true")
    p.add_argument("--runs", default=str(ROOT / "runs" / "bench-dcgan-ablation"))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dcgan_ablation.md"))
    a = p.parse_args()
    jobs = [{"name": name, "overrides": ov, "steps": a.steps, "seed": a.seed, "fresh": a.fresh,
             "dir": str(Path(a.runs) / f"v{i}")} for i, (name, ov) in enumerate(VARIANTS.items())]
    t0 = time.time()
    with mp.get_context("spawn").Pool(a.procs) as pool:
        recs = pool.map(train_one, jobs, chunksize=1)

    from mnist_fid import references

    from ganforge.metrics.features import build_extractor

    ext = build_extractor("lenet-mnist", (1, 28, 28), progress=True)
    ref, floor = references("mnist")
    from ganforge.metrics.suite import compute

    fl = compute(["fid", "pr"], floor, ref, ext, seed=0).results
    rows = [r for rec in recs for r in score(rec, ext, ref)]
    lines = [
        "# DCGAN on MNIST: the recipe against the canonical loop, at equal steps", "",
        f"{a.steps:,} steps of batch {BATCH} each (one thread per run, seed {a.seed}); {N:,} samples "
        f"against {N:,} real images in lenet-mnist features ({ext.hash}); real vs real floor: FID "
        f"{fl['fid']['fid']:.2f}, precision {fl['pr']['precision']:.3f}, recall {fl['pr']['recall']:.3f}. "
        "Lower FID is better. The reference is the canonical PyTorch DCGAN example's loop (noise 100, "
        "batch norm in D, fp32, sigmoid + BCE, no EMA).", "",
        "| variant | samples from | FID | precision | recall | train CPU-min |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['how']} | {r['fid']:.2f} | {r['precision']:.3f} | "
                     f"{r['recall']:.3f} | {r['cpu_min']:.1f} |")
    lines.append("")
    write_results(lines, a.out, t0)


if __name__ == "__main__":
    main()
