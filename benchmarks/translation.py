"""Image-to-image runs against the baseline a user would otherwise pick, on held-out data.

    PYTHONPATH=src python benchmarks/translation.py [--superres RUN] [--paired RUN] [--paired-l1 RUN]
                                                   [--unpaired RUN]

- superres: the run's G on the held-out crops of its photo set (whole photos held out), inputs made by
  the run's own degradation with a fixed seed (the task's `preview`), against bicubic upsampling of the
  same inputs: PSNR and SSIM (scikit-image's, on [0, 1], per image, averaged) and L1. Target: >= 1.5 dB
  above bicubic.
- paired: the run's G on the held-out characters of its glyph pairs, against the identity (the input
  as the output) and, with --paired-l1, an L1-only G (the same recipe with task.pretrain_steps =
  train.steps: no D step ever): SSIM to the true glyph (target >= 0.8), L1, PSNR.
- unpaired: a CycleGAN run, each direction on the held-out characters (never seen by either side in
  training), against the identity: PSNR / SSIM / L1 to the true glyph and the share the glyph
  classifier reads as the right character (target >= 90%).
- the scores are the package's (ganforge.task_eval, what `ganforge eval RUN` writes to eval.json): this
  script adds the run's training time and the verdicts.
- inpainting has its own table (benchmarks/inpaint_holes.py -> results/inpaint_holes.md).

Each row names the run's step and the wall time its training took (from its metrics log), so a row
reads as "this far in this many CPU minutes". Writes benchmarks/results/translation.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _runs import write_results  # noqa: E402


def _minutes(run: Path, ckpt_path: Path) -> str:
    """Training wall time: from the run's config.yaml (written at the start) to its latest checkpoint."""
    start = run / "config.yaml"
    if not start.is_file():
        return "?"
    return f"{(ckpt_path.stat().st_mtime - start.stat().st_mtime) / 60:.1f}"


def _row(task: str, method: str, step: str, minutes: str, s: dict[str, float], n: int) -> str:
    acc = f"{100 * s['glyph_acc']:.1f}%" if "glyph_acc" in s else "-"
    return (f"| {task} | {method} | {step} | {minutes} | {n} | {s['psnr']:.2f} | {s['ssim']:.3f} | "
            f"{s['l1']:.4f} | {acc} |")


def _scores(run: str, kind: str, n: int, prefix: str = "") -> tuple[Any, dict[str, float], dict[str, float],
                                                                     str, int]:
    """The run's checkpoint, G's and the baseline's scores (those named `prefix` + stat, e.g. AtoB_ssim
    for an unpaired run), the baseline's name and the image count: the package's own evaluation of the
    task (ganforge.task_eval), as `ganforge eval` computes it."""
    from ganforge.evaluation import load_task
    from ganforge.task_eval import SCORERS, EvalRequest
    from ganforge.training.state import load_generator

    ckpt, g = load_generator(run)
    cfg = ckpt.config
    if cfg.task.kind != kind:
        sys.exit(f"{run} is a {cfg.task.kind} run, not {kind}")
    s = SCORERS.get(kind)(load_task(cfg), EvalRequest(cfg, n, cfg.eval.seed))(g)
    names = [k for k in ("psnr", "ssim", "l1", "glyph_acc") if prefix + k in s.results]
    ours = {k: s.results[prefix + k][prefix + k] for k in names}
    base = {k: s.results[prefix + k]["baseline"][prefix + k] for k in names}
    head = s.results[prefix + "psnr"]
    images = head["provenance"].get("held_out_images", s.provenance.get("held_out_images", 0))
    return ckpt, ours, base, head["baseline"]["method"], images


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--superres", help="a superres run directory")
    p.add_argument("--paired", help="a paired (pix2pix) run directory")
    p.add_argument("--paired-l1", help="the paired recipe trained on L1 alone "
                   "(task.pretrain_steps=train.steps)")
    p.add_argument("--unpaired", help="an unpaired (CycleGAN) run directory")
    p.add_argument("-n", type=int, default=1000, help="held-out images at most")
    p.add_argument("--out", default="benchmarks/results/translation.md")
    a = p.parse_args()
    if not (a.superres or a.paired or a.unpaired):
        sys.exit("give --superres RUN, --paired RUN and/or --unpaired RUN")
    t0 = time.time()
    rows, verdicts = [], []
    for kind, run in (("superres", a.superres), ("paired", a.paired)):
        if not run:
            continue
        ckpt, ours, base, method, n = _scores(run, kind, a.n)
        cfg = ckpt.config
        step, mins = str(ckpt.step), _minutes(Path(run), Path(ckpt.path))
        if kind == "superres":
            name = f"superres x{cfg.task.scale} ({cfg.data.name})"
            gain = ours["psnr"] - base["psnr"]
            verdicts.append(f"superres: {gain:+.2f} dB PSNR over bicubic (target +1.5 dB): "
                            f"{'met' if gain >= 1.5 else 'MISSED'}.")
        else:
            name = f"paired ({cfg.data.name})"
            method += " (input as output)"
            verdicts.append(f"paired: SSIM to the true glyph {ours['ssim']:.3f} (target >= 0.8): "
                            f"{'met' if ours['ssim'] >= 0.8 else 'MISSED'}.")
        rows.append(_row(name, method, "-", "-", base, n))
        if kind == "paired" and a.paired_l1:
            ck, l1_only, _, _, _ = _scores(a.paired_l1, "paired", a.n)
            rows.append(_row(name, f"L1-only G ({ck.config.g.arch}, no D)", str(ck.step),
                             _minutes(Path(a.paired_l1), Path(ck.path)), l1_only, n))
        rows.append(_row(name, f"ganforge ({cfg.g.arch} G)", step, mins, ours, n))
        print(*rows[-3:], sep="\n", flush=True)
    if a.unpaired:
        for way in ("AtoB", "BtoA"):
            ckpt, ours, base, method, n = _scores(a.unpaired, "unpaired", a.n, f"{way}_")
            name = f"unpaired {way} ({ckpt.config.data.name})"
            rows.append(_row(name, f"{method} (input as output)", "-", "-", base, n))
            rows.append(_row(name, f"ganforge CycleGAN ({ckpt.config.g.arch} Gs)", str(ckpt.step),
                             _minutes(Path(a.unpaired), Path(ckpt.path)), ours, n))
            if "glyph_acc" in ours:
                verdicts.append(f"unpaired {way}: {100 * ours['glyph_acc']:.1f}% of the translated held-out "
                                f"glyphs classified as the right character (target >= 90%): "
                                f"{'met' if ours['glyph_acc'] >= 0.9 else 'MISSED'}.")
            print(*rows[-2:], sep="\n", flush=True)
    lines = ["# Image-to-image on held-out data", "",
             "Each trained run beside the baseline a user would otherwise pick, on the same held-out images "
             "(superres: whole photos held out, inputs degraded with a fixed seed; paired, unpaired: "
             "held-out characters). "
             "PSNR and SSIM are scikit-image's on [0, 1], per image, averaged; L1 in [-1, 1] units. Minutes: "
             "the run's training wall time on this machine.", "",
             "Glyph accuracy: the share of outputs the nearest-template glyph classifier "
             "(ganforge.metrics.glyphs) reads as the right character, over every character of the target "
             "font.",
             "", "| task | method | step | train minutes | images | PSNR (dB) | SSIM | L1 | glyph acc |",
             "|---|---|---|---|---|---|---|---|---|", *rows, "", *verdicts, ""]
    write_results(lines, a.out, t0)


if __name__ == "__main__":
    main()
