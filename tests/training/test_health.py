"""Health monitors: each fires on a constructed failure and stays quiet otherwise (synthetic
streams here; real training runs in test_health_runs.py)."""

import math

import pytest
import torch

from ganforge.data.toy import grid25
from ganforge.training.health import (
    COLLAPSED,
    CONVERGED,
    DIVERGED,
    MEANING,
    OSCILLATING,
    OVERFITTING,
    RUNNING,
    STALLED,
    STATES,
    Health,
    Quality,
    Thresholds,
    diversity,
    effective_modes,
    measure_quality,
)

TH = Thresholds(warmup=100, patience=2, progress_checks=6)


def _feed(h: Health, steps: range, acc: float = 0.5, fake: float = 0.5, grad: float = 1.0) -> None:
    for s in steps:
        h.observe(s, 0.7, 0.7, acc, d_acc_fake=fake, grad_norm_g=grad)


def test_every_state_has_a_meaning():
    assert set(MEANING) == set(STATES) == {RUNNING, CONVERGED, COLLAPSED, DIVERGED, OSCILLATING, STALLED,
                                           OVERFITTING}


def test_overfitting_needs_r_t_high_for_the_whole_window():
    h = Health(Thresholds(overfit_window=200, overfit_rt=0.9))
    for s in range(199):
        h.observe(s, 0.7, 0.7, 0.5, ada_rt=0.95)
    assert h.state == RUNNING
    h.observe(199, 0.7, 0.7, 0.5, ada_rt=0.85)  # one dip starts the count again
    for s in range(200, 399):
        h.observe(s, 0.7, 0.7, 0.5, ada_rt=0.9)
    assert h.state == RUNNING
    h.observe(399, 0.7, 0.7, 0.5, ada_rt=0.92)
    assert h.state == OVERFITTING and "D is overfitting" in h.reason and "raise ada_target" in h.reason
    ev = h.pop_events()
    assert len(ev) == 1 and ev[0].monitor == "overfitting" and ev[0].step == 399
    assert "train.ada_target" in ev[0].advice
    quiet = Health(Thresholds(overfit_window=10))  # without ADA (no ada_rt, or NaN before r_t exists)
    for s in range(50):
        quiet.observe(s, 0.7, 0.7, 0.5, ada_rt=math.nan if s % 2 else None)
    assert quiet.state == RUNNING


def test_divergence_on_nan_and_on_exploding_losses():
    h = Health(TH)
    h.observe(5, 0.7, math.nan, 0.5)
    assert h.state == DIVERGED and "loss_g became nan at step 5" in h.reason
    ev = h.pop_events()
    assert len(ev) == 1 and ev[0].monitor == "divergence" and "lower the learning rates" in ev[0].advice
    h.observe(6, 0.7, 0.7, 0.5)
    assert h.state == DIVERGED and h.pop_events() == []  # sticky, and said once
    big = Health(TH)
    big.observe(3, 2e4, 0.7, 0.5)
    assert big.state == DIVERGED and "beyond" in big.reason


def test_runaway_needs_both_a_winning_d_and_a_vanishing_gradient():
    h = Health(Thresholds(runaway_window=100))
    _feed(h, range(1, 41), grad=1.0)
    _feed(h, range(41, 200), acc=1.0, fake=1.0, grad=1e-4)
    assert h.state == STALLED
    ev = h.pop_events()
    assert ev[-1].monitor == "runaway" and "vanishes" in ev[-1].message and "loss.name=ns" in ev[-1].advice
    ns = Health(Thresholds(runaway_window=100))  # D wins, but G still gets a gradient: not a runaway
    _feed(ns, range(1, 200), acc=1.0, fake=1.0, grad=2.0)
    assert ns.state == RUNNING and ns.pop_events() == []


def _checks(h: Health, distances: list[float], start: int = 0, every: int = 20, **q) -> None:
    for i, d in enumerate(distances):
        step = start + (i + 1) * every
        _feed(h, range(step - every + 1, step + 1))
        h.observe_quality(Quality(d, **q))


def test_oscillation_stall_and_convergence_from_the_tracked_metric():
    osc = Health(TH)
    _checks(osc, [1.0, 0.2, 0.9, 0.2, 1.0, 0.25, 0.95, 0.2, 1.0, 0.2, 0.9, 0.2])
    assert osc.state == OSCILLATING and "swung between" in osc.reason
    stall = Health(TH)
    _checks(stall, [1.0] * 14)
    assert stall.state == STALLED and "no progress" in stall.reason
    good = Health(TH)
    _checks(good, [1.0, 0.6, 0.3, 0.15, 0.08, 0.05, 0.045, 0.046, 0.044, 0.045], scale=4.0)
    assert good.state == CONVERGED and "D accuracy 50%" in good.reason
    steady = Health(TH)  # still improving, D not near 50%: just running
    for i, d in enumerate([1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2]):
        _feed(steady, range(i * 20 + 1, i * 20 + 21), acc=0.9)
        steady.observe_quality(Quality(d))
    assert steady.state == RUNNING and steady.events == []


def test_collapse_on_modes_stuck_below_all_but_not_while_gaining():
    stuck = Health(TH)
    for i in range(10):
        _feed(stuck, range(i * 20 + 1, i * 20 + 21))
        stuck.observe_modes([500, 0], hq=0.9, distance=0.5)
    assert stuck.state == COLLAPSED and "only 1 of 2 modes covered" in stuck.reason
    assert "d.pack=2" in stuck.events[-1].advice
    gaining = Health(TH)
    for i, covered in enumerate([10, 14, 17, 19, 21, 23, 24, 25, 25, 25]):
        counts = [40] * covered + [0] * (25 - covered)
        _feed(gaining, range(i * 20 + 1, i * 20 + 21))
        gaining.observe_modes(counts, hq=0.9, distance=1.0 / (i + 1))
    assert COLLAPSED not in [e.state for e in gaining.events]


def test_image_diversity_collapse_and_the_quality_check():
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(64, 1, 28, 28, generator=gen) * 2 - 1
    assert diversity(real) > 0 and diversity(real[:1].repeat(8, 1, 1, 1)) == 0.0
    same = real[:1].repeat(64, 1, 1, 1) + 0.01 * torch.randn(64, 1, 28, 28, generator=gen)

    class Images:
        modes = None

    q = measure_quality(same, real, Images(), TH)
    assert q.diversity is not None and q.diversity < 0.1 and q.finite
    assert measure_quality(real.flip(0), real, Images(), TH).diversity == pytest.approx(1.0, rel=1e-9)
    h = Health(TH)
    for i in range(8):
        _feed(h, range(i * 20 + 1, i * 20 + 21))
        h.observe_quality(q)
    assert h.state == COLLAPSED and "as diverse as real data" in h.reason
    bad = measure_quality(torch.full((4, 2), math.nan), torch.zeros(4, 2), grid25(), TH)
    assert not bad.finite
    h2 = Health(TH)
    h2.observe_quality(bad)
    assert h2.state == DIVERGED


def test_mixture_quality_counts_modes():
    data = grid25()
    x = data.modes.repeat(40, 1)
    q = measure_quality(x, x, data, TH)
    assert (q.modes, q.modes_total, q.hq) == (25, 25, 1.0) and q.distance == 0.0


def test_health_and_eval_count_covered_modes_alike():
    """One definition of a covered mode: eval's `modes`, health's quality check (and through it the
    lab's quality line, which reads q.mode_stats) give the same number for the same samples."""
    from ganforge import config
    from ganforge.evaluation import Evaluator

    data = grid25()
    x = torch.cat([data.modes[:24].repeat(100, 1), data.modes[24:]])  # one stray sample on mode 25
    cfg = config.load(None, ["data.name=grid25"])
    result = Evaluator(cfg, ["modes"], len(x), 0)(x).results["modes"]
    eval_modes = result["modes"]
    assert eval_modes == 25 and "nearest mode of at least one high-quality sample" in result["protocol"]
    q = measure_quality(x, x, data, TH)
    assert q.modes == eval_modes == q.mode_stats["modes"]
    h = Health(TH)
    h.observe_modes(q.counts, hq=q.hq)
    assert f"({eval_modes}/25 modes covered)" in h.reason  # what the health line says


def test_effective_modes_is_exp_entropy():
    assert effective_modes([50, 50]) == pytest.approx(2.0)
    assert effective_modes([100, 0, 0]) == pytest.approx(1.0)
    p = [0.97, 0.03]
    assert effective_modes([97, 3]) == pytest.approx(math.exp(-sum(x * math.log(x) for x in p)))


def test_both_modes_covered_but_mass_on_one_is_collapse():
    """A handful of samples "covers" the second mode; the spread says the G has collapsed."""
    piled = Health(TH)
    _checks(piled, [0.5] * 10, modes=2, modes_total=2, hq=0.95, counts=[970, 30])
    assert piled.state == COLLAPSED and "pile onto 1.1 of them" in piled.reason
    even = Health(TH)
    _checks(even, [0.5] * 10, modes=2, modes_total=2, hq=0.95, counts=[520, 480])
    assert even.state != COLLAPSED


def test_health_watch_passes_r_t_to_the_overfitting_monitor(tmp_path):
    import json
    from types import SimpleNamespace

    from ganforge.training.callbacks import HealthWatch

    cb = HealthWatch(tmp_path / "metrics.jsonl", 0, Thresholds(overfit_window=3), verbose=False)
    t = SimpleNamespace(step=0)
    cb.on_start(t)
    for s in range(1, 4):
        t.step = s
        stats = {"loss_d": 0.7, "loss_g": 0.7, "d_acc": 0.5, "ada_rt": 0.95}
        cb.on_step(t, stats)
    assert stats["state"] == OVERFITTING
    rec = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert rec["step"] == 3 and rec["event"]["monitor"] == "overfitting"
