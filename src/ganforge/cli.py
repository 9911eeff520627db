"""`ganforge <verb>`: parses arguments, calls the library, prints. Errors are one line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .errors import GanforgeError

TRAIN_EXAMPLE = """examples:
  ganforge train configs/grid25.yaml --out runs/grid25
  ganforge train configs/ring8.yaml --out runs/ring8 --set train.steps=3000 --set seed=1
  ganforge train configs/grid25.yaml --out runs/grid25 --until 2000   # stop early...
  ganforge train --resume runs/grid25                                  # ...and continue
  ganforge train --resume runs/grid25 --set train.steps=8000           # train for longer"""

EVAL_EXAMPLE = """example:
  ganforge eval runs/grid25 --json
prints modes captured, high-quality share (hq, 0-1) and reverse KL, and writes runs/grid25/eval.json"""

SAMPLE_EXAMPLE = """examples:
  ganforge sample runs/grid25 -n 5000 --seed 0 -o samples.csv
  ganforge sample runs/grid25 -n 5000 -o samples.npy
  ganforge sample runs/mnist -n 64 -o grid.png
  ganforge sample runs/mnist-cond -n 16 --label 7 -o sevens.png"""


DOWNLOAD_EXAMPLE = """example (needs a network; nothing in ganforge downloads otherwise):
  ganforge download mnist --to data/mnist
  ganforge train configs/mnist-dcgan.yaml --set data.path=data/mnist"""

LAB_EXAMPLE = """example:
  ganforge lab                 # opens http://127.0.0.1:8000/ in your browser
  ganforge lab --port 8080 --no-browser"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
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
    t.add_argument("--resume", metavar="RUN", help="continue RUN from its latest checkpoint")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set train.steps=3000 (repeatable)")
    t.add_argument("--until", type=int, metavar="K",
                   help="stop after step K (checkpointed) without changing the schedule; "
                        "continue later with --resume")
    t.add_argument("--force", action="store_true", help="replace an existing run directory")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--no-plots", action="store_true", help="skip the PNG plots of points")

    e = sub.add_parser("eval", help="mode coverage / quality of a run's latest checkpoint",
                       epilog=EVAL_EXAMPLE, formatter_class=fmt)
    e.add_argument("run", help="run directory (or a checkpoint file)")
    e.add_argument("-n", type=int, default=None, help="samples (default: eval.n_samples, 2500)")
    e.add_argument("--seed", type=int, default=None, help="sampling seed (default: eval.seed)")
    e.add_argument("--no-ema", action="store_true", help="use G itself, not its EMA copy")
    e.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("sample", help="write generated samples to .csv or .npy",
                       epilog=SAMPLE_EXAMPLE, formatter_class=fmt)
    s.add_argument("run", help="run directory (or a checkpoint file)")
    s.add_argument("-n", type=int, default=1000, help="number of samples (default 1000)")
    s.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    s.add_argument("-o", "--output", required=True, help="FILE.csv or FILE.npy")
    s.add_argument("--no-ema", action="store_true", help="use G itself, not its EMA copy")
    s.add_argument("--label", type=int, default=None,
                   help="class-conditional models: every sample of this class")

    dl = sub.add_parser("download", help="opt-in: fetch MNIST / Fashion-MNIST, checksum-verified",
                        epilog=DOWNLOAD_EXAMPLE, formatter_class=fmt)
    dl.add_argument("name", help="mnist or fashion-mnist")
    dl.add_argument("--to", required=True, metavar="DIR", help="folder for the IDX files")
    dl.add_argument("--url", help="another mirror (base URL of the four .gz files)")

    lab = sub.add_parser("lab", help="the browser playground on the real trainer",
                         epilog=LAB_EXAMPLE, formatter_class=fmt)
    lab.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    lab.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    lab.add_argument("--max-sessions", type=int, default=8, help="browser tabs served at once")
    return p


def _cmd_train(args: argparse.Namespace) -> int:
    from . import config, runs

    progress = not args.quiet
    if args.resume:
        if args.config:
            raise GanforgeError("give either a CONFIG or --resume RUN, not both")
        trainer, info = runs.resume(args.resume, overrides=args.overrides, progress=progress,
                                    plots=not args.no_plots, until=args.until)
    else:
        if not args.config:
            raise GanforgeError("train needs a CONFIG file (or --resume RUN); see --help")
        cfg = config.load(args.config, args.overrides)
        out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
        trainer, info = runs.train(cfg, out, force=args.force, progress=progress,
                                   plots=not args.no_plots, until=args.until)
    last = info["last_log"]
    line = f"trained {info['run']} to step {info['step']}"
    if last:
        line += (f": D loss {last['loss_d']:.3f}, G loss {last['loss_g']:.3f}, "
                 f"D acc {100 * last['d_acc']:.0f}%")
    print(line)
    if info["plot"]:
        print(f"plot: {info['plot']}")
    return 0


def _fmt_eval(r: dict) -> str:
    if r["modes"] is None:
        return f"{r['data']}: sliced Wasserstein to real data {r['sliced_wasserstein']:.4f}"
    kl = "n/a (no high-quality sample)" if r["reverse_kl"] is None else f"{r['reverse_kl']:.4f}"
    return (f"{r['data']}: modes {r['modes']}/{r['modes_total']}, "
            f"high quality {100 * r['hq']:.1f}%, reverse KL {kl} "
            f"({r['provenance']['n_samples']} samples, step {r['provenance']['checkpoint_step']})")


def _cmd_eval(args: argparse.Namespace) -> int:
    from . import runs

    r = runs.evaluate(args.run, n=args.n, seed=args.seed,
                      use_ema=False if args.no_ema else None)
    if args.json:
        print(json.dumps(r))
    else:
        print(_fmt_eval(r))
        print(f"written: {Path(args.run) / 'eval.json'}")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from . import runs

    out = runs.sample(args.run, args.n, args.seed, args.output, use_ema=not args.no_ema,
                      label=args.label)
    print(f"wrote {args.n} samples to {out}")
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    from .data.download import download

    out = download(args.name, args.to, base_url=args.url)
    print(f"{args.name}: files in {out} (use --set data.path={out})")
    return 0


def _cmd_lab(args: argparse.Namespace) -> int:
    from .lab.server import serve
    from .lab.session import Limits

    if not 0 < args.port < 65536:
        raise GanforgeError(f"--port must be in 1..65535, got {args.port}")
    if args.max_sessions < 1:
        raise GanforgeError(f"--max-sessions must be >= 1, got {args.max_sessions}")
    serve(args.host, args.port, open_browser=not args.no_browser,
          limits=Limits(max_sessions=args.max_sessions))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.verb:
        parser.print_help()
        return 2
    handler = {"train": _cmd_train, "eval": _cmd_eval, "sample": _cmd_sample,
               "download": _cmd_download, "lab": _cmd_lab}[args.verb]
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
