"""`ganforge report RUN`: one self-contained HTML page of a run, to read offline or send to someone.

Everything is inlined (plots and sample pictures as base64 PNG data URIs, CSS in a <style> tag), so
the file opens from disk with no network and no script. The page reads only what the run directory
already holds (config.yaml, metrics.jsonl, samples/, eval.json, checkpoints/) and never imports
torch: a report of a finished run costs a second, not a model load.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .errors import CheckpointError
from .report_plots import (
    colour,
    is_num,
    plot_accuracy,
    plot_grad_norms,
    plot_health,
    plot_losses,
    plot_metric,
)

_CKPT = re.compile(r"^step_(\d+)\.safetensors$")
_SAMPLE = re.compile(r"^step_(\d+)\.png$")
MAX_SAMPLES = 8
MAX_IMAGE_WIDTH = 800
MAX_EVENT_ROWS = 500
CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 1100px; margin: 0 auto; padding: 1em 1.5em 3em; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
nav a { margin-right: 1em; }
dl.summary { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1.2em; }
dl.summary dt { font-weight: 600; }
dl.summary dd { margin: 0; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img.plot, img.sample { max-width: 100%; height: auto; border: 1px solid #eee; }
.grid { display: flex; flex-wrap: wrap; gap: 0.8em; }
figure { margin: 0; }
figcaption { text-align: center; font-size: 0.9em; color: #555; }
.note { color: #555; font-style: italic; }
.warn { background: #fff4e5; border-left: 4px solid #fd8d3c; padding: 0.4em 0.8em; }
.chip { display: inline-block; padding: 0 0.5em; border-radius: 0.6em; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 0.8em; overflow-x: auto; font-size: 0.88em; }
details { margin: 0.5em 0; }
details h4 { margin: 0.5em 0 0.2em; font-size: 0.95em; }
dl.prov { display: grid; grid-template-columns: max-content auto; gap: 0.1em 1em; margin: 0.2em 0 0.4em 1em;
          font-size: 0.92em; }
dl.prov dt { font-weight: 600; }
dl.prov dd { margin: 0; overflow-wrap: anywhere; }
"""


@dataclass
class RunData:
    """What a run directory holds, parsed leniently: a half-written or odd file is a note, not a crash."""

    path: Path
    config_text: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    logs: list[dict[str, Any]] = field(default_factory=list)
    evals: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    skipped: int = 0
    has_log: bool = False
    checkpoints: list[int] = field(default_factory=list)
    samples: list[tuple[int, Path]] = field(default_factory=list)
    eval_json: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def load_run(run: str | Path) -> RunData:
    """Read a run directory; raises CheckpointError when it is missing or not a run."""
    path = Path(run)
    if not path.exists():
        raise CheckpointError(f"run directory not found: {run}")
    ckpt_dir = path / "checkpoints"
    checkpoints = sorted(int(m.group(1)) for p in ckpt_dir.iterdir() if (m := _CKPT.match(p.name))) \
        if ckpt_dir.is_dir() else []
    if not path.is_dir() or not ((path / "config.yaml").is_file() or checkpoints):
        raise CheckpointError(f"{run} is not a ganforge run directory (it has neither config.yaml "
                              f"nor checkpoints)")
    r = RunData(path=path, checkpoints=checkpoints)
    _read_config(r)
    _read_metrics(r)
    _read_eval_json(r)
    sample_dir = path / "samples"
    if sample_dir.is_dir():
        r.samples = sorted((int(m.group(1)), p) for p in sample_dir.iterdir()
                           if (m := _SAMPLE.match(p.name)) and p.is_file())
    return r


def _read_config(r: RunData) -> None:
    p = r.path / "config.yaml"
    if not p.is_file():
        r.notes.append("config.yaml is missing")
        return
    import yaml

    r.config_text = p.read_text(errors="replace")
    try:
        cfg = yaml.safe_load(r.config_text)
    except yaml.YAMLError:
        r.notes.append("config.yaml is not valid YAML; its text is shown as is")
        return
    if isinstance(cfg, dict):
        r.config = cfg


def _read_metrics(r: RunData) -> None:
    p = r.path / "metrics.jsonl"
    if not p.is_file():
        return
    r.has_log = True
    for line in p.read_bytes().decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            r.skipped += 1
            continue
        if not isinstance(rec, dict) or not is_num(rec.get("step")):
            r.skipped += 1
            continue
        step = int(rec["step"])
        if isinstance(rec.get("eval"), dict):
            r.evals.append((step, {k: float(v) for k, v in rec["eval"].items() if is_num(v)}))
        elif isinstance(rec.get("event"), dict):
            r.events.append((step, rec["event"]))
        else:
            r.logs.append(rec)
    if r.skipped:
        what = "line that was not a valid JSON record" if r.skipped == 1 else \
            "lines that were not valid JSON records"
        r.notes.append(f"skipped {r.skipped} {what} in metrics.jsonl")


def _read_eval_json(r: RunData) -> None:
    p = r.path / "eval.json"
    if not p.is_file():
        return
    try:
        data = json.loads(p.read_text(errors="replace"))
    except ValueError:
        r.notes.append("eval.json is not valid JSON; its scores are not shown")
        return
    if isinstance(data, dict):
        r.eval_json = data
    else:
        r.notes.append("eval.json does not hold a JSON object; its scores are not shown")


# --- plots ----------------------------------------------------------------------------------


def state_bands(r: RunData) -> list[tuple[int, int, str]]:
    """(start, end, state) spans over the steps. A logged state describes the interval that ends at
    its line; without logged states, an event's state holds from its step until the next event."""
    logged = [(int(rec["step"]), str(rec["state"])) for rec in r.logs if isinstance(rec.get("state"), str)]
    raw: list[tuple[int, int, str]] = []
    if logged:
        prev = 0
        for step, st in logged:
            raw.append((prev, step, st))
            prev = step
    elif r.events:
        points = [(0, "Running")] + sorted((s, str(e["state"])) for s, e in r.events
                                           if isinstance(e.get("state"), str))
        ends = [s for s, _ in points[1:]] + [max(last_step(r), points[-1][0])]
        raw = [(s0, s1, st) for (s0, st), s1 in zip(points, ends, strict=True) if s1 > s0]
        if ends[-1] == points[-1][0]:  # an event at the very last step still shows its state
            raw.append((points[-1][0], points[-1][0], points[-1][1]))
    merged: list[tuple[int, int, str]] = []
    for s0, s1, st in raw:
        if merged and merged[-1][2] == st:
            merged[-1] = (merged[-1][0], s1, st)
        else:
            merged.append((s0, s1, st))
    return merged


# --- pieces of HTML ---------------------------------------------------------------------------


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _img(png: bytes, testid: str, alt: str, cls: str = "plot") -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<img class="{cls}" data-testid="{_e(testid)}" alt="{_e(alt)}" '
            f'src="data:image/png;base64,{data}">')


def _note(text: str, testid: str | None = None) -> str:
    tid = f' data-testid="{_e(testid)}"' if testid else ""
    return f'<p class="note"{tid}>{_e(text)}</p>'


def last_step(r: RunData) -> int:
    steps = [int(x["step"]) for x in r.logs] + [s for s, _ in r.evals] + r.checkpoints[-1:]
    return max(steps, default=0)


def final_state(r: RunData) -> str:
    """The last state recorded (a log line's state wins a tie with an event at the same step)."""
    logged = [(int(x["step"]), 1, str(x["state"])) for x in r.logs if isinstance(x.get("state"), str)]
    evented = [(s, 0, str(e["state"])) for s, e in r.events if isinstance(e.get("state"), str)]
    found = sorted(logged + evented, key=lambda t: (t[0], t[1]))
    if found:
        return found[-1][2]
    return "unknown (no health state was recorded)"


def _header(r: RunData) -> str:
    data = r.config.get("data", {})
    dname = data.get("name", "unknown") if isinstance(data, dict) else "unknown"
    train = r.config.get("train", {})
    target = train.get("steps") if isinstance(train, dict) else None
    steps = f"{last_step(r):,}" + (f" of {target:,}" if is_num(target) else "")
    ckpt = f"step {r.checkpoints[-1]:,} (checkpoints/step_{r.checkpoints[-1]:07d}.safetensors)" \
        if r.checkpoints else "none"
    state = final_state(r)
    now = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    rows = [("Run", _e(r.path.name or str(r.path)), "run"), ("Data set", _e(dname), "dataset"),
            ("Steps trained", _e(steps), "steps"), ("Latest checkpoint", _e(ckpt), "checkpoint"),
            ("Final state", f'<span class="chip" style="background:{colour(state)}">{_e(state)}</span>',
             "final-state")]
    if r.logs:
        last = r.logs[-1]
        bits = [f"{label} {f'{last[k]:.4g}' if k != 'd_acc' else f'{100 * last[k]:.0f}%'}"
                for k, label in (("loss_d", "D loss"), ("loss_g", "G loss"), ("d_acc", "D acc"))
                if is_num(last.get(k))]
        if bits:
            rows.append(("Last log", _e(f"step {last['step']}: " + ", ".join(bits)), "last-log"))
    rows += [("Generated", _e(now), "generated"), ("ganforge", _e(__version__), "version")]
    dl = "".join(f'<dt>{k}</dt><dd data-testid="{t}">{v}</dd>' for k, v, t in rows)
    notes = "".join(f'<p class="warn" data-testid="note">{_e(n)}</p>' for n in r.notes)
    nav = " ".join(f'<a href="#{i}">{_e(t)}</a>' for i, t in SECTIONS)
    return (f'<header id="summary"><h1>Run report: {_e(r.path.name or str(r.path))}</h1>'
            f'<dl class="summary">{dl}</dl>{notes}<nav>{nav}</nav></header>')


SECTIONS = [("losses", "Losses"), ("health", "Health"), ("metrics-over-time", "Metrics over time"),
            ("samples", "Samples over time"), ("scores", "Scores"), ("config", "Config")]
_TITLES = dict(SECTIONS)


def _section(sid: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{_e(_TITLES[sid])}</h2>{body}</section>'


def _losses(r: RunData) -> str:
    if not r.logs:
        why = "no training log: metrics.jsonl is missing" if not r.has_log else \
            "no training log: metrics.jsonl holds no training lines"
        return _section("losses", _note(why, "no-training-log"))
    parts = []
    for fn, tid, alt in ((plot_losses, "plot-losses", "D and G loss against step"),
                         (plot_accuracy, "plot-accuracy", "D accuracy against step"),
                         (plot_grad_norms, "plot-grad-norms", "gradient norms of D and G against step")):
        png = fn(r.logs)
        if png:
            parts.append(f"<figure>{_img(png, tid, alt)}</figure>")
    return _section("losses", "".join(parts) or _note("the training log has no loss columns"))


def _health(r: RunData) -> str:
    parts = []
    png = plot_health(state_bands(r), r.events)
    if png:
        parts.append(f"<figure>{_img(png, 'plot-health', 'health state over steps, with events')}</figure>")
    if not r.events:
        parts.append(_note("no health events were recorded", "no-events"))
    else:
        rows = []
        for step, ev in r.events[:MAX_EVENT_ROWS]:
            st = str(ev.get("state", ""))
            chip = f'<span class="chip" style="background:{colour(st)}">{_e(st)}</span>' if st else ""
            rows.append(f'<tr><td class="num">{step}</td><td>{_e(ev.get("monitor", ""))}</td><td>{chip}</td>'
                        f'<td>{_e(ev.get("message", ""))}</td><td>{_e(ev.get("advice", "") or "")}</td></tr>')
        more = len(r.events) - MAX_EVENT_ROWS
        parts.append('<table data-testid="events"><thead><tr><th>step</th><th>monitor</th><th>state</th>'
                     f'<th>message</th><th>advice</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
        if more > 0:
            parts.append(_note(f"... and {more} more events (all are in metrics.jsonl)"))
    return _section("health", "".join(parts))


def _metrics_over_time(r: RunData) -> str:
    series: dict[str, list[tuple[int, float]]] = {}
    for step, scores in r.evals:
        for k, v in scores.items():
            series.setdefault(k, []).append((step, v))
    if not series:
        return _section("metrics-over-time", _note(
            "no evaluations during training; to get them, train with --set train.eval_every=1000 "
            "(scores eval.metrics on eval.n_during samples every 1000 steps)", "no-evals"))
    lines = baselines(r)
    figs = [f"<figure>{_img(plot_metric(pts, k, lines.get(k)), f'plot-metric-{k}', f'{k} against step')}"
            "</figure>" for k, pts in series.items()]
    return _section("metrics-over-time", f'<div class="grid">{"".join(figs)}</div>')


def pick_evenly(n: int, k: int = MAX_SAMPLES) -> list[int]:
    """k indices of 0..n-1 spread evenly, always the first and the last."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def _sample_png(path: Path) -> bytes | None:
    """The PNG's bytes as they are, or re-encoded narrower when wider than MAX_IMAGE_WIDTH."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.format == "PNG" and im.width <= MAX_IMAGE_WIDTH:
                return path.read_bytes()
            im.load()
            if im.width > MAX_IMAGE_WIDTH:
                h = max(1, round(im.height * MAX_IMAGE_WIDTH / im.width))
                im = im.resize((MAX_IMAGE_WIDTH, h), Image.Resampling.LANCZOS)
            if im.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                im = im.convert("RGBA")
            buf = io.BytesIO()
            im.save(buf, format="PNG", optimize=True)
            return buf.getvalue()
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def _samples(r: RunData) -> str:
    if not r.samples:
        return _section("samples", _note("no sample pictures in samples/ (train.plot_every=0, or "
                                         "trained with --no-plots)", "no-samples"))
    chosen = [r.samples[i] for i in pick_evenly(len(r.samples))]
    figs, bad = [], []
    for step, p in chosen:
        png = _sample_png(p)
        if png is None:
            bad.append(p.name)
            continue
        figs.append(f'<figure>{_img(png, f"sample-step-{step}", f"samples at step {step}", "sample")}'
                    f"<figcaption>step {step:,}</figcaption></figure>")
    parts = [f'<div class="grid">{"".join(figs)}</div>']
    if len(r.samples) > len(chosen):
        parts.insert(0, _note(f"{len(chosen)} of {len(r.samples)} pictures, evenly spaced"))
    if bad:
        parts.append(_note(f"unreadable pictures skipped: {', '.join(bad)}"))
    return _section("samples", "".join(parts))


def _nested(v: Any, depth: int = 0) -> str:
    """A provenance value as nested definition lists (dicts) or a compact line (lists, scalars)."""
    if isinstance(v, dict):
        if not v:
            return "<em>empty</em>"
        items = "".join(f"<dt>{_e(k)}</dt><dd>{_nested(x, depth + 1)}</dd>" for k, x in v.items())
        return f'<dl class="prov">{items}</dl>'
    if isinstance(v, list):
        if all(not isinstance(x, (dict, list)) for x in v):
            shown = ", ".join(_fmt(x) for x in v[:30])
            more = f", ...] ({len(v)} values)" if len(v) > 30 else "]"
            return _e(f"[{shown}{more}")
        return "<ol>" + "".join(f"<li>{_nested(x, depth + 1)}</li>" for x in v) + "</ol>"
    if v is None:
        return "<em>none</em>"
    return _e(_fmt(v))


def _numbers(v: dict[str, Any]) -> str:
    """'k = v, ...' for the numbers of a score (None: a score with nothing to measure)."""
    return ", ".join(f"{k} = {_fmt(x) if x is not None else 'n/a'}" for k, x in v.items()
                     if is_num(x) or x is None)


def _baseline(v: dict[str, Any]) -> str:
    """'method: k = v' for a score measured beside a baseline (translation tasks), else '-'."""
    b = v.get("baseline")
    if not isinstance(b, dict):
        return "-"
    return f"{b.get('method', 'baseline')}: {_numbers(b) or '-'}"


def baselines(r: RunData) -> dict[str, tuple[str, float]]:
    """Each eval.json score's baseline value (name -> (method, value)): the metrics-over-time plots
    draw it as a line beside G's training-time scores."""
    metrics = r.eval_json.get("metrics") if r.eval_json else None
    out = {}
    for name, v in (metrics.items() if isinstance(metrics, dict) else ()):
        b = v.get("baseline") if isinstance(v, dict) else None
        if isinstance(b, dict) and is_num(b.get(name)):
            out[name] = (str(b.get("method", "baseline")), float(b[name]))
    return out


def _scores(r: RunData) -> str:
    ej = r.eval_json
    if ej is None:
        return _section("scores", _note("no eval.json: score the latest checkpoint with "
                                        f"'ganforge eval {r.path}'", "no-scores"))
    metrics = ej.get("metrics") if isinstance(ej.get("metrics"), dict) else {}
    with_baselines = bool(baselines(r))
    rows, details = [], []
    for name, v in metrics.items():
        v = v if isinstance(v, dict) else {"value": v}
        prov = v.get("provenance") if isinstance(v.get("provenance"), dict) else {}
        step = prov.get("checkpoint_step", ej.get("checkpoint_step", ""))
        base = f'<td data-testid="baseline-{_e(name)}">{_e(_baseline(v))}</td>' if with_baselines else ""
        rows.append(f'<tr data-testid="score-{_e(name)}"><td>{_e(name)}</td><td>{_e(_numbers(v) or "-")}</td>'
                    f'{base}<td class="num">{_e(step)}</td></tr>')
        other = {k: x for k, x in v.items()
                 if k not in ("provenance", "baseline") and not is_num(x) and x is not None}
        body = ""
        if other:
            body += f"<h4>details</h4>{_nested(other)}"
        if prov:
            body += f"<h4>provenance</h4>{_nested(prov)}"
        if body:
            details.append(f'<details open data-testid="provenance-{_e(name)}"><summary>{_e(name)}</summary>'
                           f"{body}</details>")
    head = (f"<p>{_e(ej.get('data', ''))} at checkpoint step {_e(ej.get('checkpoint_step', '?'))}</p>"
            if ej.get("checkpoint_step") is not None else "")
    head_base = "<th>baseline (same images)</th>" if with_baselines else ""
    table = _note("eval.json has no scores")
    if rows:
        table = ('<table data-testid="scores"><thead><tr><th>metric</th><th>values</th>'
                 f'{head_base}<th>checkpoint step</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    warnings = ej.get("warnings") if isinstance(ej.get("warnings"), list) else []
    items = "".join(f"<li>{_e(w)}</li>" for w in warnings)
    warn = f'<h3>Warnings</h3><ul data-testid="eval-warnings">{items}</ul>' if warnings else \
        _note("no warnings", "no-eval-warnings")
    prov = f"<h3>Provenance</h3>{''.join(details)}" if details else ""
    return _section("scores", head + table + warn + prov)


def _config(r: RunData) -> str:
    if r.config_text is None:
        return _section("config", _note("config.yaml is missing"))
    return _section("config", f'<pre data-testid="config">{_e(r.config_text)}</pre>')


def build_report_html(run: str | Path) -> str:
    """The whole page as one string (tests and other front ends can use it without writing)."""
    r = load_run(run)
    body = "".join([_header(r), "<main>", _losses(r), _health(r), _metrics_over_time(r), _samples(r),
                    _scores(r), _config(r), "</main>"])
    title = _e(f"ganforge report: {r.path.name or r.path}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{CSS}</style></head><body>{body}</body></html>\n")


def write_report(run: str | Path) -> Path:
    """Write RUN/report.html atomically (temp file + rename): a reader never sees half a page."""
    page = build_report_html(run)
    out = Path(run) / "report.html"
    tmp = out.with_name(".report.html.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
