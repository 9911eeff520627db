"""PacGAN Table 1 protocol on ring8 and grid25: a plain GAN row, ganforge's recipe, the paper's rows.

Each run trains from scratch with its own seed, then is scored by the VEEGAN/PacGAN protocol on
2,500 samples drawn from the training noise (no truncation, no rejection). CPU seconds are the
training process's CPU time (all its threads). Runs go two at a time, one thread each.

    python benchmarks/toy_modes.py            # 5 seeds, writes benchmarks/results/toy_modes.md
    python benchmarks/toy_modes.py --seeds 2 --plain-steps 2000 --out /tmp/t.md   # quicker look
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# PacGAN (Lin et al. 2018), Table 1: modes / high-quality % / reverse KL.
PAPER = {
    "grid25": [("GAN (PacGAN Table 1)", 17.3, 94.8, 0.70), ("PacGAN4 (PacGAN Table 1)", 24.8, 93.6, 0.04)],
    "ring8": [("GAN (PacGAN Table 1)", 6.3, 98.2, 0.45), ("PacGAN2 (PacGAN Table 1)", 7.9, 95.6, 0.07)],
}
TARGETS = {"grid25": (25, 95.0, 0.02, 60.0), "ring8": (8, 97.0, 0.02, 60.0)}


def plain_overrides(data: str, steps: int) -> list[str]:
    """A plain GAN with PacGAN's MLP sizes: G 4x400 BN+ReLU, D 3x200, non-saturating loss."""
    return [
        f"data.name={data}", "loss.name=ns", "loss.penalty=none",
        "g.width=400", "g.depth=4", "g.batch_norm=true", "g.activation=relu", "g.noise_dim=2",
        "d.width=200", "d.depth=3", "d.activation=relu",
        "opt_g.lr=1e-4", "opt_d.lr=1e-4", "opt_g.beta1=0.5", "opt_d.beta1=0.5",
        "train.batch_size=100", f"train.steps={steps}", "train.ema=0", "train.threads=1",
    ]


def run_one(job: tuple[str, str, int, list[str]]) -> dict:
    row, data, seed, overrides = job
    sys.path.insert(0, str(ROOT / "src"))
    import torch

    from ganforge import config
    from ganforge.metrics.modes import mode_stats
    from ganforge.training import Trainer, fit

    torch.set_num_threads(1)
    recipe = ROOT / "configs" / f"{data}.yaml" if row == "ganforge recipe" else None
    cfg = config.load(recipe, [*overrides, f"seed={seed}", "train.threads=1"])
    c0 = time.process_time()
    t = fit(Trainer(cfg), cfg.train.steps)
    cpu = time.process_time() - c0
    x = t.generate(cfg.eval.n_samples or 2500, torch.Generator().manual_seed(cfg.eval.seed + seed))
    r = mode_stats(x, t.data.modes, t.data.std)
    return {"row": row, "data": data, "seed": seed, "modes": r["modes"], "hq": 100 * r["hq"],
            "kl": r["reverse_kl"] if r["reverse_kl"] is not None else math.inf, "cpu": cpu,
            "steps": cfg.train.steps, "total": r["modes_total"]}


def _se(xs: list[float]) -> float:
    return statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else 0.0


def summarise(results: list[dict], data: str) -> list[str]:
    lines = []
    for row in ("plain GAN (ns, G 4x400 BN, D 3x200)", "ganforge recipe"):
        rs = [r for r in results if r["data"] == data and r["row"] == row]
        if not rs:
            continue
        m = [r["modes"] for r in rs]
        hq = [r["hq"] for r in rs]
        kl = [r["kl"] for r in rs]
        cpu = [r["cpu"] for r in rs]
        every = sum(1 for r in rs if r["modes"] == r["total"])
        lines.append(
            f"| {row} (ours, {len(rs)} seeds, {rs[0]['steps']} steps) | "
            f"{statistics.mean(m):.1f} ± {_se(m):.1f} | {statistics.mean(hq):.1f} ± {_se(hq):.1f} | "
            f"{statistics.mean(kl):.3f} ± {_se(kl):.3f} | {statistics.mean(cpu):.0f} (max {max(cpu):.0f}) | "
            f"{every}/{len(rs)} |")
    for name, modes, hq, kl in PAPER[data]:
        lines.append(f"| {name} | {modes} | {hq} | {kl} | n/a | n/a |")
    return lines


def verdict(results: list[dict], data: str) -> str:
    rs = [r for r in results if r["data"] == data and r["row"] == "ganforge recipe"]
    if not rs:
        return ""
    modes, hq, kl, cpu = TARGETS[data]
    checks = {
        f"{modes}/{modes} modes in every seed": all(r["modes"] == modes for r in rs),
        f"HQ >= {hq:g}% (mean)": statistics.mean(r["hq"] for r in rs) >= hq,
        f"HQ >= {hq:g}% (every seed)": all(r["hq"] >= hq for r in rs),
        f"reverse KL <= {kl:g} (every seed)": all(r["kl"] <= kl for r in rs),
        f"<= {cpu:g} CPU-s per run (every seed)": all(r["cpu"] <= cpu for r in rs),
    }
    return "; ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in checks.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--plain-steps", type=int, default=10000)
    ap.add_argument("--data", default="grid25,ring8")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rows", default="recipe,plain", help="which rows to run: recipe, plain")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    help="extra config override for the recipe row (for experiments)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "toy_modes.md"))
    args = ap.parse_args()

    sets = args.data.split(",")
    jobs = []
    for data in sets:
        for seed in range(args.seeds):
            if "recipe" in args.rows:
                jobs.append(("ganforge recipe", data, seed, list(args.overrides)))
            if "plain" in args.rows:
                jobs.append(("plain GAN (ns, G 4x400 BN, D 3x200)", data, seed,
                             plain_overrides(data, args.plain_steps)))
    t0 = time.perf_counter()
    results = []
    with mp.get_context("spawn").Pool(args.workers) as pool:
        for i, r in enumerate(pool.imap_unordered(run_one, jobs), 1):
            results.append(r)
            print(f"[{i}/{len(jobs)}] {r['data']} {r['row']} seed {r['seed']}: modes {r['modes']}"
                  f"/{r['total']} hq {r['hq']:.1f}% kl {r['kl']:.4f} cpu {r['cpu']:.0f}s", flush=True)
    wall = time.perf_counter() - t0

    out = ["# Toy mode coverage: PacGAN Table 1 protocol", "",
           "Protocol (VEEGAN / PacGAN): 2,500 samples from the training noise distribution, no "
           "truncation and no rejection; high quality (HQ) = within 3 std of the nearest mode; a mode "
           "is captured if it is the nearest mode of at least one HQ sample; reverse KL = "
           "KL(HQ mode histogram || uniform), nats. Mean ± standard error over seeds. CPU seconds = "
           "training process CPU time (1 thread per run). The ganforge recipe is scored on its EMA "
           "generator, the plain GAN on G itself (eval-mode batch norm).", ""]
    for data in sets:
        out += [f"## {data}", "",
                "| row | modes | HQ % | reverse KL | CPU s / run | all modes in |",
                "|---|---|---|---|---|---|", *summarise(results, data), "",
                f"Targets for the recipe: {verdict(results, data)}", ""]
    out += ["Per-run results:", "", "| data | row | seed | modes | HQ % | reverse KL | CPU s |",
            "|---|---|---|---|---|---|---|"]
    for r in sorted(results, key=lambda r: (r["data"], r["row"], r["seed"])):
        out.append(f"| {r['data']} | {r['row']} | {r['seed']} | {r['modes']}/{r['total']} | "
                   f"{r['hq']:.1f} | {r['kl']:.4f} | {r['cpu']:.1f} |")
    out += ["", f"Machine: {platform.machine()}, {mp.cpu_count()} cores, Python "
            f"{platform.python_version()}; {args.workers} runs at a time; wall time {wall:.0f} s; "
            f"written {time.strftime('%Y-%m-%d')}.", ""]
    text = "\n".join(out)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
