"""Rare-class augmentation: does a class-conditional GAN's rare-class samples help a classifier more
than oversampling or class weights? (issue 16 point 4)

Fashion-MNIST's train split (60,000) with one class ("Shirt", 6, by default) cut to 1% of its 6,000
images (60, drawn with seed 0): the imbalanced set, 54,060 images. A class-conditional DCGAN
(configs/fashion-dcgan.yaml, train.conditional=true) trains on it alone, for a CPU budget on one
thread; its real batches are class-balanced (the 60 rare images repeated to the count of the other
classes in the .npz it reads), so D sees real rare images as often as G is asked for fakes of that
class. Then a small classifier (metrics/classifier.py's LeNet, its recipe: Adam with one-cycle LR,
random shifts of up to 2 px, batch 64; a fixed number of steps for every variant) is trained on

  (a) imbalanced    the imbalanced set as it is
  (b) oversample    the 60 rare images repeated to 6,000
  (c) weights       the imbalanced set, cross-entropy weighted by inverse class frequency
  (d) gan           the 60 rare images + 5,940 GAN samples of the rare class
  (e) gan+over      the 60 rare images repeated to 3,000 + 3,000 GAN samples
  (f) full          the full train split with all 6,000 rare images (the ceiling, not a contender)

and scored on the real test split (10,000, 1,000 per class): rare-class recall and precision,
overall accuracy; mean +- std over classifier seeds (each seed also draws its own GAN samples).

    python benchmarks/augmentation.py                     # GAN (10 CPU-min) + 6 variants x 3 seeds
    python benchmarks/augmentation.py --stage gan         # only the GAN
    python benchmarks/augmentation.py --variants imbalanced,oversample,weights --stage classify
Runs live in runs/bench-augmentation/ (a finished GAN and finished classifier runs are reused;
--fresh redoes them). One thread per process throughout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _runs import clean_dir, finished, train_to_budgets, write_results  # noqa: E402

VARIANTS = ["imbalanced", "oversample", "weights", "gan", "gan+over", "full"]
ALL_CLASSES = 10


def imbalanced_split(images, labels, rare: int, keep: float, seed: int = 0):  # noqa: ANN001, ANN201
    """(images, labels, rare_idx): every image of the other classes plus `keep` of the rare class's
    (a random subset drawn with `seed`, at least one image), in the split's order."""
    import numpy as np

    rare_rows = np.flatnonzero(labels == rare)
    n_keep = max(1, round(keep * len(rare_rows)))
    kept = np.sort(np.random.default_rng(seed).permutation(rare_rows)[:n_keep])
    rows = np.sort(np.concatenate([np.flatnonzero(labels != rare), kept]))
    return images[rows], labels[rows], kept


def repeat_to(rows, n: int):  # noqa: ANN001, ANN201
    """Indices `rows` repeated (whole copies, then a prefix) to exactly n entries."""
    import numpy as np

    reps = -(-n // len(rows))
    return np.tile(rows, reps)[:n]


def class_weights(labels, classes: int):  # noqa: ANN001, ANN201
    """Inverse-frequency weights N / (classes * n_c), as scikit-learn's class_weight='balanced'."""
    import numpy as np

    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    return len(labels) / (classes * np.maximum(counts, 1))


# --- the GAN ---------------------------------------------------------------------------------------


def gan_npz(x, y, rare: int, path: Path) -> str:  # noqa: ANN001
    """The imbalanced set with its rare rows repeated to the mean count of the other classes."""
    import numpy as np

    others = [int((y == k).sum()) for k in range(ALL_CLASSES) if k != rare]
    rare_rows = np.flatnonzero(y == rare)
    rows = np.concatenate([np.flatnonzero(y != rare), repeat_to(rare_rows, round(np.mean(others)))])
    if not path.exists():  # the same content every time: a second process must not rewrite it
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, x=x[rows], y=y[rows])
    return str(path)


def train_gan(job: dict) -> dict:
    """Train the conditional DCGAN on one thread until the process's CPU time passes the budget."""
    import torch

    from ganforge import config

    torch.set_num_threads(1)
    out = Path(job["dir"])
    if rec := finished(job, "key"):
        return rec
    clean_dir(out)
    cfg = config.load(ROOT / "configs" / "fashion-dcgan.yaml",
                      ["train.threads=1", "train.steps=10000000", f"seed={job['seed']}",
                       "train.conditional=true", "train.plot_every=0", "train.ckpt_every=0",
                       "data.name=npz", f"data.path={job['npz']}"])
    c0, w0 = time.process_time(), time.time()
    (mark,) = train_to_budgets(cfg, out, [job["cpu_min"]]).values()
    state = {"path": mark["path"], "step": mark["step"]}
    rec = {**job, **state, "cpu_s": round(time.process_time() - c0, 1), "wall_s": round(time.time() - w0, 1)}
    (out / "bench.json").write_text(json.dumps(rec, indent=1))
    return rec


def gan_samples(ckpt: str, rare: int, n: int, seed: int):  # noqa: ANN201
    """n uint8 (n, 28, 28) samples of class `rare` from the checkpoint's EMA generator."""
    import ganforge
    from ganforge.data.images import to_uint8

    g = ganforge.load(ckpt, device="cpu")
    x = g.sample(n, seed=seed, labels=rare)
    return to_uint8(x.cpu())[:, 0].numpy()


# --- the classifier --------------------------------------------------------------------------------


def train_eval(x, y, weights, test_x, test_y, steps: int, seed: int, width: int):  # noqa: ANN001, ANN201
    """metrics/classifier.py's LeNet and recipe on (x, y) for `steps` steps (epoch permutations);
    the net and its test-set predictions."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from ganforge.metrics.classifier import INPUT_SIZE, LeNet

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(np.array(x)).unsqueeze(1), torch.from_numpy(y.astype("int64"))
    w = torch.tensor(weights, dtype=torch.float32) if weights is not None else None
    net = LeNet(width, ALL_CLASSES)
    max_lr, batch, s = 3e-3, 64, 2
    opt = torch.optim.Adam(net.parameters(), lr=max_lr / 25)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr, total_steps=steps)
    net.train()
    step = 0
    while step < steps:
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(len(xt) // batch):
            if step >= steps:
                break
            b = perm[i * batch:(i + 1) * batch]
            xb = F.pad(xt[b].float() / 127.5 - 1.0, (s, s, s, s), value=-1.0)
            dx, dy = torch.randint(0, 2 * s + 1, (2,), generator=gen).tolist()
            xb = xb[:, :, dy:dy + INPUT_SIZE, dx:dx + INPUT_SIZE]
            loss = F.cross_entropy(net(xb)[1], yt[b], weight=w)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
    return net.eval(), predict(net, test_x)


def predict(net, x):  # noqa: ANN001, ANN201
    """Class predictions (numpy) of uint8 (n, 28, 28) images."""
    import numpy as np
    import torch

    with torch.no_grad():
        xt = torch.from_numpy(np.array(x)).unsqueeze(1)
        return np.concatenate([net(c.float() / 127.5 - 1.0)[1].argmax(1).numpy() for c in xt.split(1000)])


def scores(pred, truth, rare: int) -> dict:  # noqa: ANN001
    """Rare-class recall and precision, overall accuracy."""
    hit = pred == truth
    is_rare, said_rare = truth == rare, pred == rare
    return {"recall": float(hit[is_rare].mean()),
            "precision": float((said_rare & is_rare).sum() / max(1, said_rare.sum())),
            "accuracy": float(hit.mean())}


def training_set(variant: str, data: dict, ckpt: str | None, rare: int, seed: int):  # noqa: ANN201
    """(x, y, class weights or None, GAN samples used) of one variant."""
    import numpy as np

    x, y, fx, fy = data["x"], data["y"], data["full_x"], data["full_y"]
    rare_rows = np.flatnonzero(y == rare)
    target = round(np.mean([(y == k).sum() for k in range(ALL_CLASSES) if k != rare]))
    if variant == "imbalanced":
        return x, y, None, 0
    if variant == "weights":
        return x, y, class_weights(y, ALL_CLASSES), 0
    if variant == "full":
        return fx, fy, None, 0
    rest = np.flatnonzero(y != rare)
    if variant == "oversample":
        rows = np.concatenate([rest, repeat_to(rare_rows, target)])
        return x[rows], y[rows], None, 0
    n_real = len(rare_rows) if variant == "gan" else target // 2
    n_gan = target - n_real
    fake = gan_samples(ckpt, rare, n_gan, seed=1000 + seed)
    rows = np.concatenate([rest, repeat_to(rare_rows, n_real)])
    xs = np.concatenate([x[rows], fake])
    ys = np.concatenate([y[rows], np.full(n_gan, rare, dtype=y.dtype)])
    return xs, ys, None, n_gan


def classify(job: dict, data: dict, ckpt: str | None) -> dict:
    """One classifier run (variant, seed), cached as a JSON file."""
    import torch

    torch.set_num_threads(1)
    path = Path(job["dir"]) / f"{job['variant']}-{job['seed']}.json"
    if path.exists() and not job["fresh"]:
        rec = json.loads(path.read_text())
        if rec.get("key") == job["key"]:
            return rec
    c0 = time.process_time()
    x, y, w, n_gan = training_set(job["variant"], data, ckpt, job["rare"], job["seed"])
    net, pred = train_eval(x, y, w, data["test_x"], data["test_y"], job["steps"], job["seed"], job["width"])
    rec = {**{k: v for k, v in job.items() if k != "fresh"}, "n_train": len(y), "n_gan": n_gan,
           **scores(pred, data["test_y"], job["rare"]), "cpu_s": round(time.process_time() - c0, 1)}
    if job["variant"] == "full" and ckpt:  # the ceiling classifier judges the GAN's rare samples
        fake = gan_samples(ckpt, job["rare"], 1000, seed=999)
        rec["gan_as_rare"] = float((predict(net, fake) == job["rare"]).mean())
        rec["gan_pred_hist"] = [int(c) for c in
                                __import__("numpy").bincount(predict(net, fake), minlength=ALL_CLASSES)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec, indent=1))
    print(f"  {job['variant']:<11} seed {job['seed']}: recall {rec['recall']:.3f}, precision "
          f"{rec['precision']:.3f}, accuracy {rec['accuracy']:.4f} ({rec['cpu_s']:.0f} CPU-s)", flush=True)
    return rec


def load_data(rare: int, keep: float) -> dict:
    from ganforge.data.images import fashion_splits

    sp = fashion_splits()
    fx, fy = sp["train"]
    x, y, kept = imbalanced_split(fx, fy, rare, keep)
    return {"x": x, "y": y, "kept": kept, "full_x": fx, "full_y": fy,
            "test_x": sp["t10k"][0], "test_y": sp["t10k"][1]}


def table(recs: list[dict], gan: dict | None, args: argparse.Namespace, n_rare: int) -> list[str]:
    import numpy as np

    from ganforge.data.images import FASHION_CLASSES

    name = FASHION_CLASSES[args.rare]
    lines = [f"# Rare-class augmentation: Fashion-MNIST with \"{name}\" cut to {args.keep:.0%}", "",
             f"Train split 60,000 with class {args.rare} (\"{name}\") cut to {n_rare} of its 6,000 images "
             f"(seed 0): {60000 - 6000 + n_rare:,} images. Classifier: metrics/classifier.py's LeNet, width "
             f"{args.width}, {args.steps} steps of batch 64 for every variant (Adam, one-cycle LR to 3e-3, "
             f"shifts of up to 2 px), one thread; scored on the real test split (10,000; 1,000 {name}). "
             f"Mean +- std over classifier seeds {args.seeds} (each seed also draws its own GAN "
             "samples).", ""]
    if gan:
        lines += [f"GAN: configs/fashion-dcgan.yaml with train.conditional=true, seed {gan['seed']}, "
                  f"trained on the imbalanced set only (real batches class-balanced: the {n_rare} rare "
                  f"images repeated in its .npz), {gan['cpu_min']:g} CPU-minutes on one thread "
                  f"({gan['step']} steps, "
                  f"{gan['wall_s'] / 60:.0f} min wall on a shared 2-core VM); samples from its EMA G.", ""]
    lines += [f"| training set | rare-class rows: real + GAN | {name} recall | {name} precision | accuracy |",
              "|---|---|---|---|---|"]
    for v in args.variants:
        rs = [r for r in recs if r["variant"] == v]
        if not rs:
            continue

        def ms(k: str, rs: list = rs) -> str:
            a = np.array([r[k] for r in rs])
            return f"{a.mean():.3f} +- {a.std(ddof=1) if len(a) > 1 else 0:.3f}"

        n_gan = rs[0]["n_gan"]
        real = rs[0]["n_train"] - 54000 - n_gan
        distinct = 6000 if v == "full" else n_rare
        lines.append(f"| {v} | {real} ({distinct} distinct) + {n_gan} | {ms('recall')} | "
                     f"{ms('precision')} | {ms('accuracy')} |")
    full = [r for r in recs if "gan_as_rare" in r]
    if full:
        f = full[0]
        lines += ["", f"The `full` classifier (seed {f['seed']}) calls {f['gan_as_rare']:.1%} of 1,000 GAN "
                  f"{name} samples \"{name}\"; its predictions over the 10 classes: {f['gan_pred_hist']}."]
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rare", type=int, default=6, help="the class cut down (6 = Shirt)")
    p.add_argument("--keep", type=float, default=0.01, help="share of the rare class kept")
    p.add_argument("--gan-cpu-min", type=float, default=10.0)
    p.add_argument("--gan-seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=1500, help="classifier steps (batch 64), every variant")
    p.add_argument("--width", type=int, default=8, help="LeNet width")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--stage", choices=["all", "gan", "classify", "report"], default="all")
    p.add_argument("--fresh", action="store_true")
    p.add_argument("--runs", default=str(ROOT / "runs" / "bench-augmentation"))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "augmentation.md"))
    args = p.parse_args()
    args.variants = [v for v in args.variants.split(",") if v]
    bad = set(args.variants) - set(VARIANTS)
    if bad:
        p.error(f"unknown variants {sorted(bad)} (known: {', '.join(VARIANTS)})")
    seeds = [int(s) for s in args.seeds.split(",")]
    t0 = time.time()
    runs = Path(args.runs)
    data = load_data(args.rare, args.keep)
    n_rare = len(data["kept"])
    gan_job = {"dir": str(runs / "gan"), "fresh": args.fresh, "seed": args.gan_seed,
               "cpu_min": args.gan_cpu_min,
               "npz": gan_npz(data["x"], data["y"], args.rare, runs / f"imbalanced-{args.rare}-{n_rare}.npz"),
               "key": f"rare{args.rare}-keep{args.keep}-cpu{args.gan_cpu_min}-seed{args.gan_seed}"}
    need_gan = any(v.startswith("gan") or v == "full" for v in args.variants)
    gan = None
    if args.stage in ("all", "gan") or (need_gan and args.stage == "classify"):
        gan = train_gan(gan_job)
        print(f"GAN: {gan['step']} steps in {gan['cpu_s']:.0f} CPU-s ({gan['wall_s']:.0f} s wall)",
              flush=True)
    elif (Path(gan_job["dir"]) / "bench.json").exists():
        gan = json.loads((Path(gan_job["dir"]) / "bench.json").read_text())
    if args.stage == "gan":
        return
    recs = []
    for seed in seeds:
        for v in args.variants:
            job = {"dir": str(runs / "classify"), "fresh": args.fresh and args.stage != "report",
                   "variant": v, "seed": seed, "rare": args.rare, "steps": args.steps, "width": args.width,
                   "key": f"{gan_job['key']}-{v}-s{args.steps}-w{args.width}-seed{seed}"}
            if args.stage == "report":
                f = Path(job["dir"]) / f"{v}-{seed}.json"
                if f.exists() and json.loads(f.read_text()).get("key") == job["key"]:
                    recs.append(json.loads(f.read_text()))
                continue
            recs.append(classify(job, data, gan["path"] if gan else None))
    if args.stage in ("all", "report"):
        write_results(table(recs, gan, args, n_rare), args.out, t0)


if __name__ == "__main__":
    main()
