"""FID / KID / precision / recall of the MNIST and Fashion-MNIST recipes after fixed CPU budgets,
in ganforge's own classifier features, beside the real-vs-real floor.

One run per recipe trains on one thread; a checkpoint is taken the first time the process's CPU time
crosses each budget, and each is scored on 5,000 generated samples (EMA copy, training noise) against
5,000 real images. The floor row scores another 5,000 real images against the same reference, so it
shows what "as good as the data" reads at this n (FID is biased upward at small n: compare rows only
at equal n). MNIST has 10,000 images here, hence two disjoint halves of 5,000.

    python benchmarks/mnist_fid.py                       # budgets 2.5, 5, 10 CPU-min
    python benchmarks/mnist_fid.py --budgets 0.5,1 --out /tmp/f.md     # a quick look
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

from _runs import clean_dir, finished, train_to_budgets, write_results  # noqa: E402

RECIPES = {  # data set -> (recipe, feature space)
    "mnist": ("mnist-dcgan", "lenet-mnist"),
    "fashion-mnist": ("fashion-dcgan", "lenet-fashion"),
}
N = 5000
METRICS = ["fid", "kid", "pr", "dc"]


def train_one(job: dict) -> dict:
    """Train one recipe on one thread, checkpointing as the CPU clock crosses each budget."""
    import torch

    from ganforge import config
    torch.set_num_threads(1)
    out = Path(job["dir"])
    if rec := finished(job, "budgets"):
        return rec
    cfg = config.load(ROOT / "configs" / f"{job['recipe']}.yaml",
                      ["train.threads=1", "train.steps=1000000", f"seed={job['seed']}"])
    clean_dir(out)
    marks = train_to_budgets(cfg, out, job["budgets"])
    rec = {**job, "marks": marks}
    (out / "bench.json").write_text(json.dumps(rec, indent=1))
    return rec


def references(data_name: str):  # noqa: ANN201
    """(reference, floor) real sets of N images each, disjoint."""
    import torch

    from ganforge.config import DataConfig
    from ganforge.data import build_data
    from ganforge.data.images import to_float
    from ganforge.metrics.suite import Reference, fingerprint

    data = build_data(DataConfig(name=data_name))
    perm = torch.randperm(len(data.images), generator=torch.Generator().manual_seed(0))
    a, b = to_float(data.images[perm[:N]]), to_float(data.images[perm[N:2 * N]])
    total = len(data.images)
    ref = Reference(a, f"{N} of the {total} images of {data_name} (permutation seed 0)", fingerprint(a))
    return ref, b


def score(rec: dict) -> list[dict]:
    import torch

    from ganforge.generation import generate
    from ganforge.metrics.features import build_extractor
    from ganforge.metrics.suite import compute
    from ganforge.training.state import generator_from, load_checkpoint

    recipe, space = RECIPES[rec["data"]]
    ext = build_extractor(space, (1, 28, 28), progress=True)
    ref, floor = references(rec["data"])
    rows = [{"data": rec["data"], "row": "real vs real (floor)", "budget": "-", "step": "-",
             **_numbers(compute(METRICS, floor, ref, ext, seed=0))}]
    for b, m in sorted(rec["marks"].items(), key=lambda kv: float(kv[0])):
        ckpt = load_checkpoint(Path(m["path"]))
        g = generator_from(ckpt, use_ema=True)
        x = generate(g, ckpt.config.g.noise, N, torch.Generator().manual_seed(12345))
        rows.append({"data": rec["data"], "row": f"{recipe} (EMA)", "budget": f"{float(b):g}",
                     "cpu_min": m["cpu_s"] / 60, "step": m["step"],
                     **_numbers(compute(METRICS, x, ref, ext, seed=0))})
    acc = 100 * ext.details["held_out_accuracy"]
    rows[0]["space"] = f"{space} ({ext.hash}, held-out accuracy {acc:.2f}%)"
    return rows


def _numbers(rep) -> dict:  # noqa: ANN001
    r = rep.results
    return {"fid": r["fid"]["fid"], "kid": r["kid"]["kid"], "kid_std": r["kid"]["kid_std"],
            "precision": r["pr"]["precision"], "recall": r["pr"]["recall"],
            "density": r["dc"]["density"], "coverage": r["dc"]["coverage"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budgets", default="2.5,5,10", help="CPU-minutes at which to checkpoint")
    p.add_argument("--data", default=",".join(RECIPES))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fresh", action="store_true")
    p.add_argument("--runs", default=str(ROOT / "runs" / "bench-mnist-fid"))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "mnist_fid.md"))
    a = p.parse_args()
    budgets = [float(b) for b in a.budgets.split(",")]
    jobs = [{"data": d, "recipe": RECIPES[d][0], "seed": a.seed, "budgets": budgets, "fresh": a.fresh,
             "dir": str(Path(a.runs) / RECIPES[d][0])} for d in a.data.split(",")]
    t0 = time.time()
    with mp.get_context("spawn").Pool(len(jobs)) as pool:
        recs = pool.map(train_one, jobs, chunksize=1)
    rows = [r for rec in recs for r in score(rec)]


    lines = [
        "# MNIST and Fashion-MNIST: FID / KID / precision / recall after fixed CPU budgets",
        "",
        f"Each score: {N:,} generated samples (EMA copy of G, training noise, no truncation) against "
        f"{N:,} real images, in the data set's own ganforge classifier features (128-d penultimate "
        "layer; FID/KID in these features are not comparable with Inception-feature numbers from "
        "papers). The floor row is another 5,000 real images against the same reference: a perfect G "
        "reads about that. KID is scale-dependent (these features are unnormalised ReLU outputs, so "
        "its values are large); read it against the floor row, ± its std over 100 subsets. "
        "Precision/recall k=3, density/coverage k=5. One thread per run; "
        "CPU-min is the training process's CPU time when the checkpoint was taken.",
        "",
    ]
    for d in a.data.split(","):
        rs = [r for r in rows if r["data"] == d]
        lines += [f"## {d} ({rs[0]['space']})", "",
                  "| row | CPU budget (min) | step | FID | KID | precision | recall | density "
                  "| coverage |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in rs:
            lines.append(f"| {r['row']} | {r['budget']} | {r['step']} | {r['fid']:.3f} | "
                         f"{r['kid']:.4g} ± {r['kid_std']:.2g} | {r['precision']:.3f} | "
                         f"{r['recall']:.3f} | {r['density']:.3f} | {r['coverage']:.3f} |")
        lines.append("")
    write_results(lines, a.out, t0)


if __name__ == "__main__":
    main()
