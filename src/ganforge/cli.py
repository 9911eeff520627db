"""`ganforge <verb>`: parses arguments, calls the library, prints. Errors are one line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import __version__
from .errors import GanforgeError

TRAIN_EXAMPLE = """examples:
  ganforge train configs/grid25.yaml --out runs/grid25
  ganforge train configs/ring8.yaml --out runs/ring8 --set train.steps=3000 --set seed=1
  ganforge train configs/grid25.yaml --out runs/grid25 --until 2000   # stop early...
  ganforge train --resume runs/grid25                                  # ...and continue
  ganforge train --resume runs/grid25 --set train.steps=8000           # train for longer
  ganforge train --resume runs/grid25/checkpoints/step_0001000.safetensors --out runs/branch
  ganforge train configs/mnist-dcgan.yaml --device cuda --set train.precision=auto
  ganforge train configs/mnist-dcgan.yaml --nproc 2                    # one job, 2 processes (DDP)
  torchrun --nproc-per-node 4 -m ganforge train configs/mnist-dcgan.yaml --out runs/mnist"""

EVAL_EXAMPLE = """examples:
  ganforge eval runs/grid25                      # modes, high quality share, reverse KL, SWD
  ganforge eval runs/stacked-mnist               # 1,000-mode count + KL on 26,000 samples
  ganforge eval runs/mnist --metrics fid,kid,pr,dc,is --features lenet-mnist -n 10000
  ganforge eval runs/mnist --metrics fid --features inception \\
      --inception-weights pt_inception-2015-12-05-6726825d.pth
  ganforge eval runs/fashion --metrics fid,pr --ref data/fashion-test   # another reference set
"""

EVAL_TAIL = """features: identity, pixels[:S], lenet-mnist, lenet-fashion, inception (local weights only);
default: the data's natural ones (identity for points, lenet-mnist / lenet-fashion / pixels for images).
Image-to-image runs (paired, superres, inpaint): psnr, ssim, l1 (inpaint: hole_psnr, hole_l1, psnr, ssim)
on held-out images, each beside a baseline (identity, bicubic, biharmonic); FID with --features.
Scores are merged into RUN/eval.json, each with its provenance (extractor + hash, n, reference split,
seed, checkpoint step, versions). --json prints one object: the computed metrics' headline values at
its top level (mixtures: modes, modes_total, hq, reverse_kl), the detail under "metrics"."""


def eval_help() -> str:
    """The eval epilog: the examples, then the registered metrics and each kind of data's defaults
    (imports the metrics, hence torch: called only when the help is shown)."""
    from .evaluation import DEFAULT_METRICS
    from .metrics.registry import METRICS

    w = max(len(n) for n in [*METRICS, *DEFAULT_METRICS])
    metrics = [f"  {n:<{w}}  {m.title} [needs {', '.join(sorted(m.needs))}]"
               for n, m in ((n, METRICS.get(n)) for n in METRICS)]
    defaults = [f"  {kind:<{w}}  {','.join(names)}" for kind, names in DEFAULT_METRICS.items()]
    return "\n".join([EVAL_EXAMPLE, "metrics (--metrics, comma-separated):", *metrics,
                      "defaults (when neither --metrics nor eval.metrics names any):", *defaults, EVAL_TAIL])


class _Parser(argparse.ArgumentParser):
    """A parser whose epilog may be computed when its help is shown (`help_epilog`), so that listing
    the registered metrics does not import torch for every command."""

    def __init__(self, *args: Any, help_epilog: Callable[[], str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help_epilog = help_epilog

    def format_help(self) -> str:
        if self.help_epilog is not None:
            self.epilog = self.help_epilog()
        return super().format_help()


FIT_EXAMPLE = """example:
  ganforge fit-classifier lenet-mnist       # trains (~1 CPU-minute) or finds it in the cache
  ganforge fit-classifier lenet-fashion --data-path /usr/share/datasets/fashion-mnist"""

TRANSLATE_EXAMPLE = """examples:
  ganforge translate runs/sr-x4 photo.jpg -o out/                 # 4x larger, any size (tiled)
  ganforge translate runs/sr-x4 photos/ -o out/ --tile 96 --overlap 32
  ganforge translate runs/pix2pix-glyphs sketches/ -o out/         # paired: the training size only
at most 1,000 inputs per call; each output PNG carries its provenance (ganforge inspect FILE)."""

SAMPLE_EXAMPLE = """examples:
  ganforge sample runs/grid25 -n 5000 --seed 0 -o samples.csv
  ganforge sample runs/grid25/checkpoints/step_0002000.safetensors -n 100 -o early.csv
  ganforge sample runs/grid25 -n 5000 -o samples.npy
  ganforge sample runs/mnist -n 64 -o grid.png
  ganforge sample runs/mnist-cond -n 16 --label 7 -o sevens.png
  ganforge sample runs/mnist-cond -n 80 -o classes.png             # one row per class
  ganforge sample runs/mnist -n 64 --truncation 0.7 -o grid.png    # pull z toward the mean
  ganforge sample runs/mnist --seeds 0-63 --outdir fid/            # fid/seed0000.png ...
  ganforge sample runs/mnist --interpolate --seeds 0-3 --frames 60 -o walk.gif
  ganforge sample runs/tabular-wine -n 1000 -o wine.csv --condition target=class_0   # table rows
style-based runs (g.arch=style): truncation in w toward the mean w, style mixing, walks in w
  ganforge sample runs/style-mnist -n 16 --truncation 0.5 --truncation-cutoff 4 -o trunc.png
  ganforge sample runs/style-mnist --mix 0-4:10-15 --mix-layers 3-5 -o mix.png
  ganforge sample runs/style-mnist --interpolate --space w --seeds 0-3 -o walk.gif

Every file says it is synthetic: PNG text chunks, the GIF comment, or FILE.provenance.json
beside .npy / .csv (read it with 'ganforge inspect FILE')."""

EXPORT_EXAMPLE = """examples:
  ganforge export runs/mnist --format onnx -o mnist.onnx
  python -c "import ganforge; print(ganforge.load('mnist.onnx').sample(4, seed=0).shape)"

  ganforge export runs/sr-x4 --format onnx -o sr.onnx      # image-to-image runs too

Inputs z (float32 [N, z_dim]) and, for class-conditional models, labels (int64 [N]); N is dynamic.
Image-to-image models take image (float32 [N, C, H, W] in [-1, 1]; H, W dynamic for superres) and,
for inpainting, mask (float32 [N, 1, H, W], > 0.5 = hole). Output x in the data's range. Task,
shapes, range, classes, noise, z_dim, version and provenance are in the model's metadata_props
('ganforge inspect mnist.onnx'). Needs: pip install 'ganforge[onnx]'."""

INSPECT_EXAMPLE = """examples:
  ganforge inspect grid.png
  ganforge inspect walk.gif
  ganforge inspect samples.npy      # reads samples.npy.provenance.json
  ganforge inspect mnist.onnx

Exit status 0 when the file carries ganforge provenance, 1 when it has none."""


DOWNLOAD_EXAMPLE = """example (needs a network; nothing in ganforge downloads otherwise):
  ganforge download mnist --to data/mnist
  ganforge train configs/mnist-dcgan.yaml --set data.path=data/mnist"""

REPORT_EXAMPLE = """example:
  ganforge report runs/grid25      # writes runs/grid25/report.html; open it in any browser

One self-contained HTML file (plots and samples inlined, no network): losses, D accuracy, gradient
norms, the health timeline and its events, training-time metrics, samples over time, the scores of
eval.json with their provenance, and the config."""

LAB_EXAMPLE = """example:
  ganforge lab                 # opens http://127.0.0.1:8000/ in your browser
  ganforge lab --port 8080 --no-browser --device cpu
  ganforge lab runs/two1d      # every page opens that run, paused at its latest checkpoint"""

SERVE_EXAMPLE = """examples:
  ganforge serve runs/mnist                          # http://127.0.0.1:8000/
  ganforge serve runs/mnist --backend onnx --port 8080 --max-n 64
  curl -s localhost:8000/v1/samples -H 'content-type: application/json' \\
       -d '{"n": 16, "seed": 0, "truncation": 0.7, "format": "png"}' -o grid.png

endpoints: POST /v1/samples (n, seed, labels, truncation, format png|npy|json), POST /v1/translate
(image-to-image models), GET /v1/model, GET /healthz, GET /metrics (Prometheus). Bad requests get
a 4xx JSON error naming the field. Every response carries X-Ganforge-* provenance headers."""

PROJECT_EXAMPLE = """example:
  ganforge project runs/style-mnist digit.png -o proj            # proj.png, proj.latent.safetensors,
                                                                   # proj.progress.gif
  ganforge project runs/style-mnist digit.png -o proj --wplus --steps 500
The loss is the perceptual distance in the data set's own feature network (lenet-mnist, lenet-fashion)
plus pixel MSE; other data get the pixel loss alone (said in the output). The latent re-makes the
image: ganforge.load(RUN).synthesize(w)."""

DEVICE_HELP = "auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N or mps (default: the config's train.device)"


def _parser() -> argparse.ArgumentParser:
    p = _Parser(  # the verbs' parsers are _Parser too (argparse uses the parent's class)
        prog="ganforge",
        description="Train, diagnose, measure and sample Generative Adversarial Networks.",
        epilog="run 'ganforge <verb> --help' for a verb's options and an example",
    )
    p.add_argument("--version", action="version", version=f"ganforge {__version__}")
    sub = p.add_subparsers(dest="verb", metavar="<verb>")
    fmt = argparse.RawDescriptionHelpFormatter

    t = sub.add_parser("train", help="train a GAN from a YAML config (or resume a run)",
                       epilog=TRAIN_EXAMPLE, formatter_class=fmt)
    t.add_argument("config", nargs="?", help="YAML recipe, e.g. configs/grid25.yaml")
    t.add_argument("--out", help="run directory (default: runs/<config name>)")
    t.add_argument("--resume", metavar="RUN", help="continue RUN from its latest checkpoint, or from "
                   "a checkpoint file (one that is not its run's latest needs --out NEW_DIR)")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set train.steps=3000 (repeatable)")
    t.add_argument("--until", type=int, metavar="K",
                   help="stop after step K (checkpointed) without changing the schedule; "
                        "continue later with --resume")
    t.add_argument("--force", action="store_true", help="replace an existing run directory")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--no-plots", action="store_true", help="skip the PNG plots of points")
    t.add_argument("--device", help=DEVICE_HELP)
    t.add_argument("--nproc", type=int, metavar="N",
                   help="train as one job of N processes on this machine (torchrun for you: "
                        "DistributedDataParallel, gloo on CPUs, nccl with one GPU per process; "
                        "train.batch_size is the global batch)")

    e = sub.add_parser("eval", help="score a run's latest checkpoint (metrics with provenance)",
                       help_epilog=eval_help, formatter_class=fmt)
    e.add_argument("run", help="run directory (or a checkpoint file)")
    e.add_argument("--metrics", help="comma-separated (default: the data's, see below)")
    e.add_argument("--features", help="feature extractor for the metrics that need features or class "
                   "probabilities (see below)")
    e.add_argument("--ref", metavar="DATA", help="reference data: a data set name or a path "
                   "(IDX folder, image folder, .npz); default: the run's own data")
    e.add_argument("--inception-weights", metavar="PATH",
                   help="the FID Inception weights file (or $GANFORGE_INCEPTION_WEIGHTS)")
    e.add_argument("-n", type=int, default=None,
                   help="generated samples (default: eval.n_samples, else the protocol's: 2,500 "
                        "points, 26,000 stacked MNIST, 10,000 images); image-to-image runs: held-out "
                        "images (default: all, up to 10,000)")
    e.add_argument("--seed", type=int, default=None, help="sampling seed (default: eval.seed)")
    e.add_argument("--no-ema", action="store_true", help="use G itself, not its EMA copy")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--device", help=DEVICE_HELP)

    fc = sub.add_parser("fit-classifier", help="train (or find cached) an evaluation classifier",
                        epilog=FIT_EXAMPLE, formatter_class=fmt)
    fc.add_argument("name", help="lenet-mnist or lenet-fashion")
    fc.add_argument("--data-path", help="the IDX folder to train on (default: the data set's own)")
    fc.add_argument("--force", action="store_true", help="retrain even if cached")

    s = sub.add_parser("sample", help="write samples: .csv, .npy, a .png grid, one PNG per seed, a .gif walk",
                       epilog=SAMPLE_EXAMPLE, formatter_class=fmt)
    s.add_argument("run", help="run directory (or a checkpoint file)")
    s.add_argument("-n", type=int, default=1000,
                   help="number of samples (default 1000; at most 10,000,000, or 1,024 for a .png grid)")
    s.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    s.add_argument("-o", "--output",
                   help="FILE.csv, FILE.npy (written in chunks), FILE.png (image models: a grid) or "
                        "FILE.gif (with --interpolate)")
    s.add_argument("--no-ema", action="store_true", help="use G itself, not its EMA copy")
    s.add_argument("--label", type=int, default=None,
                   help="class-conditional models: every sample of this class (without it, a .png "
                        "grid has one row per class)")
    s.add_argument("--truncation", type=float, default=None, metavar="PSI",
                   help="truncation trick: z' = psi z (toward the mean latent), psi in (0, 1]; 1 = off; "
                        "style-based models: w' = w_avg + psi (w - w_avg), psi in [0, 1]")
    s.add_argument("--seeds", metavar="LIST",
                   help="seeds, e.g. 0-63 or 1,5,9: with --outdir one PNG per seed (at most 50,000); "
                        "with --interpolate the latents the walk loops through (default 0-3)")
    s.add_argument("--outdir", metavar="DIR", help="folder for one PNG per seed (with --seeds)")
    s.add_argument("--interpolate", action="store_true",
                   help="write a latent walk (slerp for normal noise, lines for uniform) as -o FILE.gif")
    s.add_argument("--frames", type=int, default=60, help="frames of the walk (default 60, at most 1000)")
    s.add_argument("--fps", type=int, default=20, help="frames per second of the walk (default 20)")
    s.add_argument("--condition", action="append", metavar="COL=VALUE",
                   help="table models: every row has this value of a categorical or boolean column "
                        "(repeatable; the first one conditions G)")
    s.add_argument("--truncation-cutoff", type=int, default=None, metavar="K",
                   help="style-based models: truncate only the first K style layers (the coarse ones)")
    s.add_argument("--mix", metavar="ROWS:COLS",
                   help="style-based models: a style-mixing grid -o FILE.png, e.g. 0-4:10-15 (row seeds keep "
                        "their styles except --mix-layers, taken from the column seeds)")
    s.add_argument("--mix-layers", metavar="A-B",
                   help="the style layers the columns give (default: the finer half)")
    s.add_argument("--space", choices=("z", "w"), default="z",
                   help="where --interpolate walks: z (default) or w (style-based models, straight lines)")
    s.add_argument("--device", help=DEVICE_HELP)

    pj = sub.add_parser("project", help="find the latent of an image (style-based models): w or w+",
                        epilog=PROJECT_EXAMPLE, formatter_class=fmt)
    pj.add_argument("run", help="run directory (or a checkpoint file) of a g.arch=style run")
    pj.add_argument("image", help="the image file to reproduce (converted to the model's channels and size)")
    pj.add_argument("-o", "--output", required=True, metavar="OUT",
                    help="writes OUT.png (target | reconstruction), OUT.latent.safetensors, OUT.progress.gif")
    pj.add_argument("--steps", type=int, default=300, help="optimisation steps (default 300)")
    pj.add_argument("--wplus", action="store_true", help="one w per style layer (w+) instead of one w")
    pj.add_argument("--seed", type=int, default=0, help="seed of the noise added to w (default 0)")
    pj.add_argument("--no-ema", action="store_true", help="use G itself, not its EMA copy")
    pj.add_argument("--quiet", action="store_true", help="no progress bar")
    pj.add_argument("--device", help=DEVICE_HELP)

    tr = sub.add_parser("translate", help="run an image-to-image model (superres, paired) on image files",
                        epilog=TRANSLATE_EXAMPLE, formatter_class=fmt)
    tr.add_argument("run", help="run directory (or a checkpoint file)")
    tr.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of images")
    tr.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the output PNGs")
    tr.add_argument("--tile", type=int, default=128,
                    help="superres: input pixels per tile side (default 128; bounds memory)")
    tr.add_argument("--overlap", type=int, default=32,
                    help="superres: overlap of tiles, blended (default 32)")
    tr.add_argument("--direction", help="unpaired models: AtoB or BtoA")
    tr.add_argument("--mask", help="inpainting models: the mask image")
    tr.add_argument("--no-ema", action="store_true", help="use G itself, not its EMA copy")
    tr.add_argument("--device", help=DEVICE_HELP)

    ex = sub.add_parser("export", help="export a run's generator (ONNX, dynamic batch, with metadata)",
                        epilog=EXPORT_EXAMPLE, formatter_class=fmt)
    ex.add_argument("run", help="run directory (or a checkpoint file)")
    ex.add_argument("--format", default="onnx", help="onnx (the only one today)")
    ex.add_argument("-o", "--output", required=True, help="FILE.onnx")
    ex.add_argument("--no-ema", action="store_true", help="use G itself, not its EMA copy")
    ex.add_argument("--direction", help="unpaired (CycleGAN) runs: the translator to export, AtoB "
                    "(default) or BtoA")
    ex.add_argument("--no-check", action="store_true",
                    help="skip running the exported file against PyTorch on 5 samples (or input images)")

    ins = sub.add_parser("inspect", help="print the provenance a generated file carries",
                         epilog=INSPECT_EXAMPLE, formatter_class=fmt)
    ins.add_argument("file", help="a .png, .gif, .npy, .csv or .onnx file")

    dl = sub.add_parser("download", help="opt-in: fetch MNIST / Fashion-MNIST, checksum-verified",
                        epilog=DOWNLOAD_EXAMPLE, formatter_class=fmt)
    dl.add_argument("name", help="mnist or fashion-mnist")
    dl.add_argument("--to", required=True, metavar="DIR", help="folder for the IDX files")
    dl.add_argument("--url", help="another mirror (base URL of the four .gz files)")

    lab = sub.add_parser("lab", help="the browser playground on the real trainer",
                         epilog=LAB_EXAMPLE, formatter_class=fmt)
    lab.add_argument("run", nargs="?", metavar="RUN",
                     help="open a trained run (its directory's latest checkpoint, or a checkpoint "
                          "file): every page starts from it, paused at its step (1-D / 2-D MLP runs)")
    lab.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    lab.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    lab.add_argument("--max-sessions", type=int, default=8, help="browser tabs served at once")
    lab.add_argument("--in-process", action="store_true",
                     help="train every session on the server's threads instead of one worker process "
                          "per session (slower with several tabs; for debugging)")
    lab.add_argument("--device", default="cpu",
                     help="where sessions train (default cpu: small nets step fastest there)")

    sv = sub.add_parser("serve", help="serve a generator over HTTP (FastAPI, micro-batched)",
                        epilog=SERVE_EXAMPLE, formatter_class=fmt)
    sv.add_argument("run", metavar="RUN",
                    help="run directory, checkpoint file, or (--backend onnx) a .onnx file")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; anything "
                    "else is reachable from other machines: a warning is printed)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.add_argument("--device", default="auto", help=DEVICE_HELP.replace(" (default: the config's "
                                                                         "train.device)", ""))
    sv.add_argument("--backend", default="torch", help="torch (default) or onnx (onnxruntime on the CPU; "
                    "a run is exported to a temporary file first)")
    sv.add_argument("--no-ema", action="store_true", help="use G itself, not its EMA copy")
    sv.add_argument("--direction", help="unpaired (CycleGAN) runs: the translator to serve, AtoB (default) "
                    "or BtoA")
    sv.add_argument("--max-n", type=int, default=256, help="samples per request (default 256)")
    sv.add_argument("--max-batch", type=int, default=256,
                    help="samples per forward pass, across batched requests (default 256; >= --max-n)")
    sv.add_argument("--max-wait-ms", type=float, default=5.0,
                    help="how long a request waits for others to batch with (default 5 ms)")

    rp = sub.add_parser("report", help="one self-contained HTML page of a run (RUN/report.html)",
                        epilog=REPORT_EXAMPLE, formatter_class=fmt)
    rp.add_argument("run", help="run directory")
    return p


def _cmd_train(args: argparse.Namespace) -> int:
    from . import config, runs

    if args.nproc is not None:
        from .launch import launch

        return launch(args.nproc, _without_nproc(args.argv))
    progress = not args.quiet
    if args.resume:
        if args.config:
            raise GanforgeError("give either a CONFIG or --resume RUN, not both")
        trainer, info = runs.resume(args.resume, overrides=args.overrides, progress=progress,
                                    plots=not args.no_plots, until=args.until, device=args.device,
                                    out=args.out, force=args.force)
    else:
        if not args.config:
            raise GanforgeError("train needs a CONFIG file (or --resume RUN); see --help")
        cfg = config.load(args.config, args.overrides)
        out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
        trainer, info = runs.train(cfg, out, force=args.force, progress=progress,
                                   plots=not args.no_plots, until=args.until, device=args.device)
    if not trainer.world.main:  # under torchrun rank 0 speaks for the job
        return 0
    last = info["last_log"]
    line = f"trained {info['run']} to step {info['step']}"
    if last:
        line += (f": D loss {last['loss_d']:.3f}, G loss {last['loss_g']:.3f}, "
                 f"D acc {100 * last['d_acc']:.0f}%")
    if info.get("state"):
        line += f"; health: {info['state']}"
        if info.get("retries"):
            line += f" after {info['retries']} rollback(s)"
    print(line)
    if info["plot"]:
        print(f"plot: {info['plot']}")
    return 0


def _without_nproc(argv: list[str]) -> list[str]:
    """The command line each process of a --nproc job runs: this one, without --nproc N."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def fmt_metric(name: str, v: dict[str, Any]) -> str:
    """One line per score, for people (the metric's own `line`); the numbers with their provenance
    are in eval.json. A name no longer registered (an old eval.json) prints as it is stored."""
    from .metrics.registry import METRICS

    return METRICS.get(name).line(v) if name in METRICS else f"{name}: {v}"


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import as_json, evaluate_run

    r = evaluate_run(args.run, n=args.n, seed=args.seed, use_ema=False if args.no_ema else None,
                      metrics=args.metrics, features=args.features, ref=args.ref,
                      progress=not (args.quiet or args.json), inception_weights=args.inception_weights,
                      device=args.device)
    for w in r["warnings"]:
        print(f"ganforge: warning: {w}", file=sys.stderr)
    if args.json:  # the headline values on top (as the foundation's eval printed them), then the detail
        print(json.dumps(as_json(r)))
        return 0
    print(f"{r['data']} at step {r['checkpoint_step']}:")
    for name in r["computed"]:
        print("  " + r["lines"][name])
    print(f"written: {r['eval_json']}" if r["eval_json"] else
          "not written: the checkpoint belongs to no run directory (use --json to keep the scores)")
    return 0


def _cmd_fit_classifier(args: argparse.Namespace) -> int:
    from .metrics.classifier import fit_classifier

    clf = fit_classifier(args.name, data_path=args.data_path, force=args.force, progress=True)
    i = clf.info
    print(f"{args.name}: held-out accuracy {100 * i['held_out_accuracy']:.2f}% on {i['n_held_out']} "
          f"images ({i['split']}); trained on {i['n_train']} of {i['data']}")
    print(f"weights: {clf.path} (sha256 {clf.hash})")
    return 0


def _cmd_translate(args: argparse.Namespace) -> int:
    from .translate_files import translate_files

    out = translate_files(args.run, args.inputs, args.output, tile=args.tile, overlap=args.overlap,
                          device=args.device, use_ema=not args.no_ema, direction=args.direction,
                          mask=args.mask)
    print(f"wrote {len(out)} image(s) to {args.output}")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from .errors import DataError
    from .generation import MAX_KEYS, MAX_SEEDS, Truncation, check_psi, load, parse_seeds, write_samples

    if args.truncation is not None:
        check_psi(args.truncation, allow_zero=True)
    from .tabular import is_table_run

    if args.condition or is_table_run(args.run):
        return _sample_table(args)
    if args.truncation_cutoff is not None and args.truncation is None:
        raise DataError("--truncation-cutoff K goes with --truncation PSI")
    trunc = (Truncation(args.truncation, cutoff=args.truncation_cutoff) if args.truncation is not None
             else None)
    if args.space != "z" and not args.interpolate:
        raise DataError("--space is for --interpolate walks")
    if args.mix_layers and not args.mix:
        raise DataError("--mix-layers goes with --mix ROWS:COLS")
    if args.mix:
        return _sample_mix(args, trunc)
    if args.interpolate and args.outdir:
        raise DataError("--interpolate writes one .gif (-o); --outdir is for one PNG per seed")
    if args.outdir and not args.seeds:
        raise DataError("--outdir needs --seeds, e.g. --seeds 0-63")
    if not args.outdir and not args.output:
        raise DataError("say where: -o FILE (.csv, .npy, .png, or .gif with --interpolate) or "
                        "--seeds LIST --outdir DIR")
    if args.interpolate or args.outdir:
        seeds = parse_seeds(args.seeds or "0-3", MAX_KEYS if args.interpolate else MAX_SEEDS)
        g = load(args.run, device=args.device or "auto", use_ema=not args.no_ema)
        if args.interpolate:
            from .media import write_walk

            out = write_walk(g, args.output, seeds, args.frames, label=args.label,
                             truncation=trunc, fps=args.fps, space=args.space)
            where = " in w" if args.space == "w" else ""
            print(f"wrote a {args.frames}-frame walk{where} through seeds {args.seeds or '0-3'} to {out}")
        else:
            from .media import write_seed_images

            paths = write_seed_images(g, args.outdir, seeds, label=args.label, truncation=trunc)
            print(f"wrote {len(paths)} images to {args.outdir} ({paths[0].name} ... {paths[-1].name})")
        return 0
    if args.seeds:
        raise DataError("--seeds goes with --outdir DIR (one PNG per seed) or --interpolate")
    out = write_samples(args.run, args.n, args.seed, args.output, use_ema=not args.no_ema,
                        label=args.label, device=args.device, progress=True, truncation=trunc)
    print(f"wrote {out}" if out.suffix == ".png" else f"wrote {args.n} samples to {out}")
    return 0


def _sample_table(args: argparse.Namespace) -> int:
    """`ganforge sample` of a table model: rows to a CSV, optionally all with given values."""
    from .errors import DataError
    from .tabular import parse_conditions, write_table_samples

    other = [flag for flag, on in (("--label", args.label is not None),
                                   ("--truncation", args.truncation is not None),
                                   ("--seeds", args.seeds), ("--outdir", args.outdir),
                                   ("--interpolate", args.interpolate), ("--mix", args.mix)) if on]
    if other:
        raise DataError(f"{other[0]} is for image and point models; a table model takes -n, --seed, "
                        "-o FILE.csv and --condition COL=VALUE")
    if not args.output:
        raise DataError("say where: -o FILE.csv")
    out = write_table_samples(args.run, args.n, args.seed, args.output, parse_conditions(args.condition),
                              use_ema=not args.no_ema, device=args.device)
    print(f"wrote {args.n} rows to {out}")
    return 0


def _sample_mix(args: argparse.Namespace, trunc: Any) -> int:
    """`sample --mix ROWS:COLS [--mix-layers A-B] -o grid.png`: a style-mixing grid."""
    from .errors import DataError
    from .generation import MAX_MIX, load, parse_seeds
    from .media import write_mix_grid

    if args.interpolate or args.outdir or args.seeds:
        raise DataError("--mix writes one grid (-o FILE.png); it takes no --interpolate, --seeds or --outdir")
    if not args.output or not args.output.lower().endswith(".png"):
        raise DataError("--mix writes a .png grid: -o FILE.png")
    rows, sep, cols = args.mix.partition(":")
    if not sep or not rows or not cols:
        raise DataError(f"--mix must look like ROWS:COLS, e.g. 0-4:10-15, got {args.mix!r}")
    row_seeds, col_seeds = parse_seeds(rows, MAX_MIX), parse_seeds(cols, MAX_MIX)
    layers = None
    if args.mix_layers:
        a, dash, b = args.mix_layers.partition("-")
        if not (a.strip().isdigit() and (not dash or b.strip().isdigit())):
            raise DataError(f"--mix-layers must look like A-B (style layer numbers from 0), "
                            f"got {args.mix_layers!r}")
        layers = (int(a), int(b) if dash else int(a))
    g = load(args.run, device=args.device or "auto", use_ema=not args.no_ema)
    out = write_mix_grid(g, args.output, row_seeds, col_seeds, layers, trunc, label=args.label)
    print(f"wrote a {len(row_seeds)}x{len(col_seeds)} style-mixing grid to {out}")
    return 0


def _cmd_project(args: argparse.Namespace) -> int:
    from .generation import load
    from .projection import project, read_target, write_projection

    g = load(args.run, device=args.device or "auto", use_ema=not args.no_ema)
    g.require_style()  # a one-line error for other nets, before reading the image
    target = read_target(args.image, g.data_shape)
    proj = project(g, target, steps=args.steps, wplus=args.wplus, seed=args.seed, progress=not args.quiet)
    paths = write_projection(g, proj, args.output, source=Path(args.image).name)
    how = f"{proj.features} features + pixels" if proj.features else "pixels"
    print(f"projected {args.image} into {'w+' if args.wplus else 'w'} in {args.steps} steps: loss ({how}) "
          f"{proj.losses[0]:.4f} -> {proj.losses[-1]:.4f}, pixel MSE {proj.pixel_mse:.4f}")
    if proj.note:
        print(f"note: {proj.note}")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import check_onnx, export_run
    from .generation import load

    out = export_run(args.run, args.output, args.format, use_ema=not args.no_ema, direction=args.direction)
    line = f"wrote {out}"
    if not args.no_check:
        g = load(args.run, device="cpu", use_ema=not args.no_ema).one_way(args.direction)
        diff = check_onnx(out, g)
        what = "input images" if g.net.spec.cond == "image" else "samples"
        line += f" (onnxruntime vs PyTorch on 5 {what}: max |diff| {diff:.1e})"
    print(line)
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .provenance import read

    fields = read(args.file)
    if fields is None:
        print(f"{args.file}: no ganforge provenance (not written by ganforge, or its metadata was "
              "stripped); nothing says whether it is synthetic")
        return 1
    shown = {k: v for k, v in fields.items() if v != ""}
    width = max(len(k) for k in shown)
    for k, v in shown.items():
        print(f"{k:<{width}}  {v}")
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    from .data.download import download

    out = download(args.name, args.to, base_url=args.url)
    print(f"{args.name}: files in {out} (use --set data.path={out})")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    print(f"report: {write_report(args.run)}")
    return 0


def _cmd_lab(args: argparse.Namespace) -> int:
    from .lab.server import serve
    from .lab.session import Limits

    if not 0 < args.port < 65536:
        raise GanforgeError(f"--port must be in 1..65535, got {args.port}")
    if args.max_sessions < 1:
        raise GanforgeError(f"--max-sessions must be >= 1, got {args.max_sessions}")
    from .device import resolve_device

    resolve_device(args.device)  # a missing device is one line now, not an error frame per tab
    limits = Limits(max_sessions=args.max_sessions, device=args.device, processes=not args.in_process)
    run = None
    if args.run:  # read and tried once here: a run the lab cannot open is one line, no server
        from .lab.session import LabSession
        from .training.state import load_checkpoint

        run = load_checkpoint(args.run)
        s = LabSession.from_checkpoint(run, limits)
        print(f"opening {run.path} at step {s.trainer.step}", flush=True)
    serve(args.host, args.port, open_browser=not args.no_browser, limits=limits, run=run)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from .lab.guard import is_loopback

    if not 0 < args.port < 65536:
        raise GanforgeError(f"--port must be in 1..65535, got {args.port}")
    from .device import resolve_device
    from .serve.app import serve
    from .serve.limits import Limits
    from .serve.model import load_served

    limits = Limits(max_n=args.max_n, max_batch=args.max_batch, max_wait_ms=args.max_wait_ms)
    if args.backend == "torch":
        resolve_device(args.device)  # a missing device is one line now
    model = load_served(args.run, backend=args.backend, device=args.device, use_ema=not args.no_ema,
                        direction=args.direction)
    if not is_loopback(args.host):
        print(f"ganforge: warning: binding to {args.host} makes the API reachable from other machines; "
              "it has no authentication (use 127.0.0.1 and a reverse proxy to expose it)", file=sys.stderr)
    host = f"[{args.host}]" if ":" in args.host else args.host
    info = model.info
    endpoint = "/v1/translate" if model.can_translate else "/v1/samples"
    print(f"serving {info['architecture']} generator {model.fingerprint} (step {model.step}, "
          f"{model.backend}) at http://{host}:{args.port}{endpoint} ; Ctrl-C stops", flush=True)
    serve(model, args.host, args.port, limits)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not args.verb:
        parser.print_help()
        return 2
    handler = {"train": _cmd_train, "eval": _cmd_eval, "sample": _cmd_sample,
               "download": _cmd_download, "lab": _cmd_lab,
               "fit-classifier": _cmd_fit_classifier, "report": _cmd_report,
               "export": _cmd_export, "inspect": _cmd_inspect, "serve": _cmd_serve,
               "translate": _cmd_translate, "project": _cmd_project}[args.verb]
    try:
        return handler(args)
    except GanforgeError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ganforge: interrupted; the last step was checkpointed (resume with "
              "'ganforge train --resume RUN')", file=sys.stderr)
        return 130
    except (OSError, MemoryError) as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
