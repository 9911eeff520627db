"""Image quality per CPU-minute: FID / KID / precision / recall after 5, 10 and 20 CPU-minutes.

Rows, on MNIST and Fashion-MNIST: the canonical PyTorch DCGAN example's loop and hyper-parameters
(the reference a user would otherwise pick: noise 100, batch norm in G and D, Adam 2e-4 / 0.5, BCE,
batch 64, fp32; its samples drawn as the example draws them, G in train mode), then ganforge's DCGAN,
SNGAN and style recipes. A few-shot row pair trains on 1,000 Fashion-MNIST images with and without ADA
(train.ada_target=0.6) and is scored against the full set.

Each run trains on one thread from scratch; a checkpoint is taken the first time the process's CPU
time crosses each budget. Each checkpoint: 10,000 samples (EMA copy where the recipe keeps one,
training noise, no truncation) against 10,000 real images, in the data set's own ganforge classifier
features (lenet-mnist / lenet-fashion, 128-d; images of another side are resized to 28 by the
extractor, real ones too: every run is scored against real images prepared as its own data were).
MNIST here is the 10,000-image t10k set, so its reference is all of it and the floor (real vs real)
is two disjoint halves of 5,000 (biased upward against 10k-vs-10k rows: read it as a floor, not a
target); Fashion-MNIST's floor is another 10,000 real images.

    python benchmarks/image_quality.py                              # everything (hours of CPU)
    python benchmarks/image_quality.py --budgets 5,10 --data mnist --recipes reference,dcgan,style
Runs live in runs/bench-image-quality/ (a finished job is reused; one finished with earlier budgets,
e.g. 5,10 asked for 5,10,20, resumes from its last checkpoint, its CPU time counted; --fresh
retrains; the reference loop keeps G alone and always retrains).
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

N = 10_000
METRICS = ["fid", "kid", "pr"]
SPACES = {"mnist": "lenet-mnist", "fashion-mnist": "lenet-fashion"}
# recipe -> (config file per data set, overrides); None: the canonical reference loop
RECIPES: dict[str, tuple[dict[str, str], list[str]] | None] = {
    "reference": None,
    "dcgan": ({"mnist": "mnist-dcgan", "fashion-mnist": "fashion-dcgan"}, []),
    "sngan": ({"mnist": "fashion-sngan-cond", "fashion-mnist": "fashion-sngan-cond"},
              ["train.conditional=false"]),
    "style": ({"mnist": "style-mnist", "fashion-mnist": "style-fashion"}, []),
}
FEW_SHOT = 1000


def _data_overrides(data: str, recipe: str) -> list[str]:
    if recipe == "sngan":  # the SNGAN nets are 32x32: the data set at 32
        return [f"data.name={data}", "data.size=32"]
    return [f"data.name={data}"]


def canonical_cfg(data: str, path: str | None = None):  # noqa: ANN201
    """The canonical example's settings expressed as a ganforge config (nets built from it)."""
    from ganforge import config

    extra = [f"data.path={path}", "data.name=npz"] if path else [f"data.name={data}"]
    return config.load(ROOT / "configs" / "mnist-dcgan.yaml",
                       ["g.noise_dim=100", "d.batch_norm=true", "train.precision=fp32",
                        "train.channels_last=false", "train.ema=0", *extra])


def _job_cfg(job: dict):  # noqa: ANN202
    from ganforge import config

    files, overrides = RECIPES[job["recipe"]]  # type: ignore[misc]
    data = _data_overrides(job["data"], job["recipe"])
    if job.get("few_shot"):
        data = [f"data.path={job['few_shot']}", "data.name=npz"] + [d for d in data if "size" in d]
    return config.load(ROOT / "configs" / f"{files[job['data']]}.yaml",
                       ["train.threads=1", "train.steps=10000000", f"seed={job['seed']}",
                        "train.plot_every=0", "train.ckpt_every=0", *overrides, *data, *job["extra"]])


def train_one(job: dict) -> dict:
    """Train one job on one thread, checkpointing as the CPU clock crosses each budget."""
    import torch

    torch.set_num_threads(1)
    out = Path(job["dir"])
    if rec := finished(job, "budgets"):
        return rec
    if _extendable(job) is None:
        clean_dir(out)
    budgets = sorted(job["budgets"])
    marks: dict[str, dict] = {}
    c0 = time.process_time()
    if RECIPES[job["recipe"]] is None:
        from throughput import Reference

        from ganforge.data import build_data

        cfg = canonical_cfg(job["data"], job.get("few_shot"))
        ref = Reference(cfg, build_data(cfg.data), torch.device("cpu"))
        ref.gen.manual_seed(job["seed"])
        torch.manual_seed(job["seed"])
        step = 0
        while budgets:
            ref.step()
            step += 1
            cpu = time.process_time() - c0
            while budgets and cpu >= budgets[0] * 60:
                b = budgets.pop(0)
                path = out / f"ref_{step:07d}.pt"
                torch.save(ref.g.state_dict(), path)
                marks[str(b)] = {"step": step, "cpu_s": cpu, "path": str(path)}
    else:
        resume = None
        if (earlier := _extendable(job)) is not None:  # keep its marks, go on from its last one
            marks.update(earlier)
            resume = max(earlier.values(), key=lambda m: m["cpu_s"])
            budgets = [b for b in budgets if str(b) not in earlier]
        marks.update(train_to_budgets(_job_cfg(job), out, budgets, resume=resume))
    rec = {**job, "marks": marks}
    (out / "bench.json").write_text(json.dumps(rec, indent=1))
    return rec


def _extendable(job: dict) -> dict[str, dict] | None:
    """The marks (of those asked for) of a finished ganforge run of this job whose budgets all come
    before the new ones it lacks (a 5,10 run extends to 5,10,20 by resuming its 10-minute checkpoint); None
    when the job must start from scratch (--fresh, the reference loop, whose files hold G alone)."""
    done = Path(job["dir"]) / "bench.json"
    if job["fresh"] or RECIPES[job["recipe"]] is None or not done.exists():
        return None
    rec = json.loads(done.read_text())
    old = sorted(float(b) for b in rec.get("budgets", []))
    new = sorted(job["budgets"])
    if rec.get("extra") != job["extra"] or rec.get("seed") != job["seed"] or not old:
        return None
    missing = set(new) - set(old)
    if not missing or min(missing) <= old[-1]:
        return None
    if any(not Path(m["path"]).exists() for m in rec["marks"].values()):
        return None
    return {k: m for k, m in rec["marks"].items() if float(k) in new}


def real_sets(data: str, size: int = 0):  # noqa: ANN201
    """(reference, floor) real images of `data` at `size` (0 = as stored): MNIST 10,000 + two halves of
    5,000 for the floor; Fashion-MNIST two disjoint sets of 10,000."""
    import torch

    from ganforge.config import DataConfig
    from ganforge.data import build_data
    from ganforge.data.images import to_float
    from ganforge.metrics.suite import Reference, fingerprint

    imgs = build_data(DataConfig(name=data, size=size)).images
    perm = torch.randperm(len(imgs), generator=torch.Generator().manual_seed(0))
    if len(imgs) >= 2 * N:
        a, fl = to_float(imgs[perm[:N]]), (to_float(imgs[perm[N:2 * N]]), None)
    else:
        a = to_float(imgs[perm[:N]])
        half = len(perm[:N]) // 2
        fl = (to_float(imgs[perm[half:2 * half]]), Reference(
            to_float(imgs[perm[:half]]), f"{half} of {data}", fingerprint(to_float(imgs[perm[:half]]))))
    ref = Reference(a, f"{len(a)} of the {len(imgs)} images of {data} (permutation seed 0)", fingerprint(a))
    return ref, fl


def _samples_reference(path: str, data: str):  # noqa: ANN202
    """The canonical G's samples, drawn as the example draws them (train-mode batch norm, batches of 64)."""
    import torch

    from ganforge.nets import build_g

    cfg = canonical_cfg(data)
    g = build_g(cfg.g, (1, 28, 28))
    g.load_state_dict(torch.load(path))
    g.train()
    gen = torch.Generator().manual_seed(12345)
    with torch.no_grad():
        return torch.cat([g(torch.randn(64, cfg.g.noise_dim, generator=gen)) for _ in range(-(-N // 64))])[:N]


def score(recs: list[dict]) -> list[dict]:
    import torch

    from ganforge.generation import generate
    from ganforge.metrics.features import build_extractor
    from ganforge.metrics.suite import compute
    from ganforge.training.state import generator_from, load_checkpoint

    rows: list[dict] = []
    refs: dict[tuple[str, int], tuple] = {}
    for rec in recs:
        data = rec["data"]
        size = _trained_size(rec)
        ext = build_extractor(SPACES[data], (1, 28, 28), progress=False)
        if (data, size) not in refs:
            ref, (floor_x, floor_ref) = real_sets(data, size)
            fl = compute(METRICS, floor_x, floor_ref or ref, ext, seed=0)
            refs[(data, size)] = (ref, fl)
            rows.append({"data": data, "row": f"real vs real (floor{f', {size} px' if size else ''})",
                         "budget": "-", "step": "-", **_numbers(fl), "space": ext})
        ref = refs[(data, size)][0]
        for b, m in sorted(rec["marks"].items(), key=lambda kv: float(kv[0])):
            if m["path"].endswith(".pt"):
                x, how = _samples_reference(m["path"], data), "G, train-mode BN"
            else:
                ckpt = load_checkpoint(Path(m["path"]))
                g = generator_from(ckpt, use_ema=True)
                how = "EMA" if ckpt.has_ema() else "G"
                x = generate(g, ckpt.config.g.noise, N, torch.Generator().manual_seed(12345))
            name = rec["recipe"] + (f" few-shot {FEW_SHOT}" if rec.get("few_shot") else "")
            name += " + ADA" if any("ada_target" in e for e in rec["extra"]) else ""
            rows.append({"data": data, "row": f"{name} ({how})", "budget": f"{float(b):g}",
                         "step": m["step"], **_numbers(compute(METRICS, x, ref, ext, seed=0)), "space": ext})
    return rows


def _trained_size(rec: dict) -> int:
    """The side the job's data were resized to (0: as stored), read from its checkpoint's config:
    the real images it is scored against are prepared the same way (style-fashion trains at 32 px;
    scoring it against 28-px originals once cost it half its FID and most of its recall)."""
    from ganforge.training.state import load_checkpoint

    paths = [m["path"] for m in rec["marks"].values() if not m["path"].endswith(".pt")]
    return load_checkpoint(Path(paths[0])).config.data.size if paths else 0


def _numbers(rep) -> dict:  # noqa: ANN001
    r = rep.results
    return {"fid": r["fid"]["fid"], "kid": r["kid"]["kid"], "kid_std": r["kid"]["kid_std"],
            "precision": r["pr"]["precision"], "recall": r["pr"]["recall"]}


def few_shot_file(runs: Path) -> str:
    """1,000 Fashion-MNIST images (permutation seed 1) as an .npz the npz data set reads."""
    import numpy as np
    import torch

    from ganforge.config import DataConfig
    from ganforge.data import build_data

    path = runs / f"fashion-{FEW_SHOT}.npz"
    if not path.exists():
        imgs = build_data(DataConfig(name="fashion-mnist")).images
        perm = torch.randperm(len(imgs), generator=torch.Generator().manual_seed(1))[:FEW_SHOT]
        runs.mkdir(parents=True, exist_ok=True)
        np.savez(path, x=imgs[perm].numpy())
    return str(path)


def main() -> None:
    global N
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budgets", default="5,10,20", help="CPU-minutes at which to checkpoint")
    p.add_argument("--data", default="mnist,fashion-mnist")
    p.add_argument("--recipes", default=",".join(RECIPES))
    p.add_argument("--few-shot", default="style", help="recipe of the few-shot pair ('' = none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--fresh", action="store_true")
    p.add_argument("--runs", default=str(ROOT / "runs" / "bench-image-quality"))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "image_quality.md"))
    p.add_argument("--n", type=int, default=10_000, help="samples per score (a quick look: fewer)")
    a = p.parse_args()
    N = a.n
    budgets = [float(b) for b in a.budgets.split(",")]
    runs = Path(a.runs)
    base = {"seed": a.seed, "budgets": budgets, "fresh": a.fresh, "extra": []}
    jobs = [{**base, "data": d, "recipe": r, "dir": str(runs / f"{d}-{r}")}
            for d in a.data.split(",") for r in a.recipes.split(",")]
    if a.few_shot and "fashion-mnist" in a.data.split(","):
        fs = few_shot_file(runs)
        for ada in (False, True):
            jobs.append({**base, "data": "fashion-mnist", "recipe": a.few_shot, "few_shot": fs,
                         "extra": ["train.ada_target=0.6"] if ada else [],
                         "dir": str(runs / f"fewshot-{a.few_shot}{'-ada' if ada else ''}")})
    t0 = time.time()
    with mp.get_context("spawn").Pool(a.procs) as pool:
        recs = pool.map(train_one, jobs, chunksize=1)
    rows = score(recs)
    lines = [
        "# Image quality per CPU-minute: FID / KID / precision / recall", "",
        f"Each score: {N:,} generated samples against {N:,} real images (MNIST: its 10,000 t10k images; "
        "floor rows: two disjoint real sets, MNIST's of 5,000 each) in the data set's own ganforge "
        "classifier features (128-d; not comparable with Inception-feature numbers from papers). KID is "
        "in the same unnormalised features (read it against the floor, ± its std over 100 subsets). "
        "Precision / recall k=3. One thread per run; the budget is the training process's CPU time "
        "when the checkpoint was taken. The reference is the canonical PyTorch DCGAN example's loop "
        "(noise 100, batch norm in G and D, Adam 2e-4 / 0.5, BCE, batch 64, fp32), sampled as the "
        f"example samples (G in train mode). Few-shot rows train on {FEW_SHOT:,} Fashion-MNIST images "
        "and are scored against the full set.", "",
    ]
    for d in a.data.split(","):
        rs = [r for r in rows if r["data"] == d]
        ext = rs[0]["space"]
        acc = 100 * ext.details["held_out_accuracy"]
        lines += [f"## {d} ({ext.name} {ext.hash}, held-out accuracy {acc:.2f}%)", "",
                  "| row | CPU budget (min) | step | FID | KID | precision | recall |",
                  "|---|---|---|---|---|---|---|"]
        for r in rs:
            lines.append(f"| {r['row']} | {r['budget']} | {r['step']} | {r['fid']:.2f} | "
                         f"{r['kid']:.4g} ± {r['kid_std']:.2g} | {r['precision']:.3f} | {r['recall']:.3f} |")
        lines.append("")
    write_results(lines, a.out, t0)


if __name__ == "__main__":
    main()
