"""Does a style G keep its variety? Scores every checkpoint of an MNIST-like run (G and its EMA copy).

A collapsed G makes near-identical samples: its mean pairwise L2 distance falls far below the real
images', and ganforge's LeNet sees few classes. For each checkpoint this prints:
  l2_ratio     mean pairwise L2 distance of 64 samples (eval mode, [-1, 1] pixels) / the same for 64
               real images (about 1 when the spread matches the data's, near 0 when collapsed)
  classes      digits predicted at least 1% of the time among 1,000 samples (10 = all)
  top_share    share of the most frequent predicted class (0.1 when uniform)
  kl_uniform   KL(predicted class histogram || uniform), nats (0 when uniform)

    python benchmarks/style_variety.py RUN [--features lenet-mnist|knn] [--out results.md]

`--features knn` predicts each sample's class by its nearest real image instead (no classifier to
train: quicker, rougher).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def pairwise_l2(x):  # noqa: ANN001, ANN201  (torch tensors)
    """Mean L2 distance over distinct pairs of the rows of x (n, ...)."""
    import torch

    f = x.reshape(len(x), -1).double()
    d = torch.cdist(f, f)
    n = len(f)
    return float(d.sum() / (n * (n - 1)))


def score(run: Path, features: str, n_pairs: int = 64, n_classes: int = 1000) -> list[dict]:
    import torch

    from ganforge.data import build_data
    from ganforge.metrics.features import build_extractor
    from ganforge.training.state import generator_from, list_checkpoints, load_checkpoint

    torch.set_num_threads(1)
    found = list_checkpoints(run)
    if not found:
        raise SystemExit(f"no checkpoints in {run}")
    cfg = load_checkpoint(found[-1][1]).config
    data = build_data(cfg.data)
    real = data.sample(n_pairs, torch.Generator().manual_seed(1))
    real = real.float() / 127.5 - 1 if real.dtype == torch.uint8 else real
    real_l2 = pairwise_l2(real)
    if features == "knn":
        from sklearn.neighbors import KNeighborsClassifier

        xs, ys = data.sample_labeled(3000, torch.Generator().manual_seed(2))
        xs = xs.float() / 127.5 - 1 if xs.dtype == torch.uint8 else xs
        knn = KNeighborsClassifier(n_neighbors=1, algorithm="brute").fit(xs.flatten(1).numpy(), ys.numpy())

        def classify(x):  # noqa: ANN001, ANN202
            return torch.from_numpy(knn.predict(x.flatten(1).numpy())).long()
    else:
        ext = build_extractor(features, tuple(real.shape[1:]))

        def classify(x):  # noqa: ANN001, ANN202
            return ext.classify_channels(x)[:, 0]
    rows = []
    for step, path in found:
        ckpt = load_checkpoint(path)
        for ema in (False, True):
            if ema and not ckpt.has_ema():
                continue
            g = generator_from(ckpt, use_ema=ema)
            gen = torch.Generator().manual_seed(0)
            with torch.no_grad():
                z = torch.randn(n_classes, g.spec.z_dim, generator=gen)
                c = torch.arange(n_classes) % g.spec.num_classes if g.spec.num_classes else None
                x = torch.cat([g(z[i:i + 250], None if c is None else c[i:i + 250])
                               for i in range(0, n_classes, 250)])
            pred = classify(x)
            hist = torch.bincount(pred, minlength=10).double() / len(pred)
            nz = hist[hist > 0]
            kl = float((nz * (nz * len(hist)).log()).sum())
            rows.append({"step": step, "net": "ema" if ema else "g",
                         "l2_ratio": pairwise_l2(x[:n_pairs]) / real_l2,
                         "classes": int((hist >= 0.01).sum()), "top_share": float(hist.max()),
                         "kl_uniform": kl})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| step | net | l2_ratio | classes | top_share | kl_uniform |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['step']} | {r['net']} | {r['l2_ratio']:.3f} | {r['classes']} | {r['top_share']:.3f} "
              f"| {r['kl_uniform']:.3f} |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--features", default="lenet-mnist")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    text = table(score(args.run, args.features))
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
