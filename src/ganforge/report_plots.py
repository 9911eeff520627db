"""The plots of `ganforge report`: matplotlib figures rendered to PNG bytes in memory.

`matplotlib.figure.Figure` directly, never pyplot: no global state, no backend to choose.
"""

from __future__ import annotations

import io
import math
from typing import Any

DPI = 80

# One colour per health state; states this table does not know get a grey.
STATE_COLOURS = {
    "Running": "#9ecae1",
    "Converged": "#74c476",
    "Collapsed": "#fd8d3c",
    "Diverged": "#de2d26",
    "Oscillating": "#9e9ac8",
    "Stalled": "#bdbdbd",
    "Overfitting": "#fdd0a2",
}
_OTHER_COLOUR = "#d9d9d9"


def is_num(v: Any) -> bool:
    """A real number (not a bool) in a JSON record."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _figure(w: float, h: float) -> Any:
    from matplotlib.figure import Figure  # no pyplot: no global state, no backend to pick

    return Figure(figsize=(w, h), layout="constrained")


def _series(logs: list[dict[str, Any]], key: str, positive: bool = False) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for rec in logs:
        if key in rec:
            v = rec[key]
            v = float(v) if is_num(v) else math.nan
            if not math.isfinite(v) or (positive and v <= 0):
                v = math.nan  # a diverged value (or a zero on a log axis) shows as a gap
            xs.append(int(rec["step"]))
            ys.append(v)
    return xs, ys


def _lines(logs: list[dict[str, Any]], series: tuple[tuple[str, str, str], ...], ylabel: str,
           height: float, log: bool = False) -> bytes | None:
    """One plot of several logged series against step (log y: positive values only)."""
    fig = _figure(8, height)
    ax = fig.add_subplot()
    drawn = False
    for key, label, colour in series:
        xs, ys = _series(logs, key, positive=log)
        if xs and (not log or any(y > 0 for y in ys)):
            ax.plot(xs, ys, label=label, color=colour, lw=1.3 if not log else 1.2)
            drawn = True
    if not drawn:
        return None
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both" if log else "major")
    ax.legend(fontsize=8)
    return _png(fig)


def plot_losses(logs: list[dict[str, Any]]) -> bytes | None:
    return _lines(logs, (("loss_d", "D loss", "#2171b5"), ("loss_g", "G loss", "#cb181d")), "loss", 3)


def plot_accuracy(logs: list[dict[str, Any]]) -> bytes | None:
    from matplotlib.ticker import PercentFormatter

    fig = _figure(8, 2.6)
    ax = fig.add_subplot()
    drawn = False
    for key, label, style in (("d_acc", "D accuracy", "-"), ("d_acc_real", "on real", ":"),
                              ("d_acc_fake", "on generated", "--")):
        xs, ys = _series(logs, key)
        if xs:
            ax.plot(xs, ys, style, label=label, lw=1.3 if key == "d_acc" else 1.0)
            drawn = True
    if not drawn:
        return None
    ax.axhline(0.5, color="#555", ls="--", lw=1, label="50%")
    ax.set_ylim(-0.02, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_xlabel("step")
    ax.set_ylabel("D accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=4, loc="lower right")
    return _png(fig)


def plot_grad_norms(logs: list[dict[str, Any]]) -> bytes | None:
    return _lines(logs, (("grad_norm_d", "D", "#2171b5"), ("grad_norm_g", "G", "#cb181d")),
                  "gradient norm", 2.6, log=True)


def colour(state: str) -> str:
    return STATE_COLOURS.get(state, _OTHER_COLOUR)


def plot_health(bands: list[tuple[int, int, str]], events: list[tuple[int, dict[str, Any]]],
                ) -> bytes | None:
    """The state over the steps as coloured bands, with a marker at each event."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if not bands and not events:
        return None
    fig = _figure(8, 1.7)
    ax = fig.add_subplot()
    for s0, s1, st in bands:
        ax.axvspan(s0, s1 if s1 > s0 else s0 + 0.5, color=colour(st), lw=0)
    for step, ev in events:
        ax.axvline(step, color="#333", lw=0.8)
        ax.plot([step], [0.85], marker="v", ms=7, color=colour(str(ev.get("state", ""))),
                markeredgecolor="#222")
    if len(events) <= 12:
        for step, ev in events:
            ax.annotate(str(ev.get("monitor", "")), (step, 0.12), fontsize=7, rotation=90,
                        xytext=(3, 0), textcoords="offset points", va="bottom")
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    lo = min([b[0] for b in bands] + [s for s, _ in events])
    hi = max([b[1] for b in bands] + [s for s, _ in events])
    ax.set_xlim(lo, hi if hi > lo else lo + 1)
    ax.set_xlabel("step")
    seen = list(dict.fromkeys([st for *_, st in bands] + [str(e.get("state", "")) for _, e in events
                                                          if e.get("state")]))
    handles: list[Any] = [Patch(color=colour(s), label=s) for s in seen]
    if events:
        handles.append(Line2D([], [], color="#333", marker="v", lw=0.8, label="event"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _png(fig)


def plot_metric(points: list[tuple[int, float]], name: str,
                baseline: tuple[str, float] | None = None) -> bytes:
    """A training-time score against step; `baseline` (method, value): a dashed line, so a translation
    run's score reads against what the baseline scores on the same images."""
    fig = _figure(3.6, 2.4)
    ax = fig.add_subplot()
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", ms=3, lw=1.2, color="#6a51a3")
    if baseline is not None:
        ax.axhline(baseline[1], ls="--", lw=1, color="#737373", label=baseline[0])
        ax.legend(fontsize=7)
    ax.set_title(name, fontsize=10)
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    return _png(fig)
