"""`ganforge report`: one self-contained HTML page of a real (small) run, checked as text and in a
headless Chromium (Debian's) driven by Playwright."""

import base64
import io
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from ganforge.cli import main
from ganforge.errors import CheckpointError
from ganforge.report import build_report_html, load_run, pick_evenly, state_bands

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "grid25.yaml"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("GANFORGE_TEST_ARTIFACTS", ROOT / "test-artifacts"))
SECTIONS = ["losses", "health", "metrics-over-time", "samples", "scores", "config"]

EVENTS = [
    {"step": 40, "event": {"monitor": "collapse", "state": "Collapsed",
                           "message": "only 3 of 25 modes covered", "advice": "try d.pack=2 <or> lr/2"}},
    {"step": 50, "event": {"monitor": "oscillation", "state": "Oscillating",
                           "message": "D accuracy swings between 20% and 90%"}},
]
EVALS = [{"step": 30, "eval": {"modes": 4, "hq": 0.31, "reverse_kl": 1.9}},
         {"step": 60, "eval": {"modes": 9, "hq": 0.52, "reverse_kl": 1.1}}]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 60-step grid25 run, scored by `ganforge eval`, plus synthetic health states, events, eval
    lines and one garbage line in metrics.jsonl; then `ganforge report`."""
    run = tmp_path_factory.mktemp("report") / "run"
    assert main(["train", str(CONFIG), "--out", str(run), "--quiet",
                 "--set", "train.steps=60", "--set", "train.log_every=10", "--set", "train.plot_every=20",
                 "--set", "train.ckpt_every=30", "--set", "g.width=32", "--set", "d.width=32",
                 "--set", "train.batch_size=64"]) == 0
    assert main(["eval", str(run), "--json"]) == 0
    log = run / "metrics.jsonl"
    lines = []
    for ln in log.read_text().splitlines():
        rec = json.loads(ln)
        if "event" in rec or "eval" in rec:  # the trainer's own events (if any): only known ones
            continue
        if "loss_d" in rec:  # the trainer's own states (if any) replaced by known ones
            rec["state"] = "Running" if rec["step"] < 40 else "Collapsed"
        lines.append(json.dumps(rec))
    lines += [json.dumps(x) for x in EVENTS + EVALS] + ['{"step": 61, "loss_d": 0.6, "loss_g"']
    log.write_text("\n".join(lines) + "\n")
    return run


@pytest.fixture(scope="module")
def report(run):
    assert main(["report", str(run)]) == 0
    path = run / "report.html"
    return path, path.read_text()


def test_report_verb_writes_one_self_contained_file(run, report, capsys):
    path, page = report
    assert main(["report", str(run)]) == 0  # idempotent; prints exactly one line
    assert capsys.readouterr().out.strip().splitlines() == [f"report: {path}"]
    assert not list(run.glob(".report*"))  # the temp file was renamed away
    assert path.stat().st_size < 2_000_000

    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<script" not in page.lower() and "<link" not in page.lower()
    srcs = re.findall(r"<img\b[^>]*\bsrc=\"([^\"]*)\"", page)
    assert len(srcs) >= 10  # losses, accuracy, grad norms, health, 3 metrics, 3 samples
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in page
    for tid in ("plot-losses", "plot-accuracy", "plot-grad-norms", "plot-health", "plot-metric-modes",
                "plot-metric-hq", "plot-metric-reverse_kl", "sample-step-20", "sample-step-60"):
        assert f'data-testid="{tid}"' in page, tid


def test_report_content(run, report):
    _, page = report
    header = page.split("</header>")[0]
    assert "grid25" in header and "60 of 60" in header and "step 60 (checkpoints/step_0000060" in header
    assert re.search(r'data-testid="final-state">.*Collapsed', header)
    assert "skipped 1 line that was not a valid JSON record" in header

    health = page.split('<section id="health">')[1].split("</section>")[0]
    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td><td>(\w+)</td>", health)
    assert rows == [("40", "collapse"), ("50", "oscillation")]
    assert "only 3 of 25 modes covered" in health and "D accuracy swings between 20% and 90%" in health
    assert "try d.pack=2 &lt;or&gt; lr/2" in health  # escaped, not markup

    scores = page.split('<section id="scores">')[1].split("</section>")[0]
    ev = json.loads((run / "eval.json").read_text())
    modes = ev["metrics"]["modes"]
    assert re.search(rf'data-testid="score-modes"><td>modes</td><td>modes = {modes["modes"]}, '
                     rf'modes_total = 25', scores)
    assert 'data-testid="score-swd"' in scores and f"swd = {ev['metrics']['swd']['swd']:.6g}" in scores
    assert "<dt>checkpoint_step</dt><dd>60</dd>" in scores and "<dt>torch</dt>" in scores  # nested
    assert "no warnings" in scores

    cfg = page.split('<section id="config">')[1]
    assert "batch_size: 64" in cfg and "name: grid25" in cfg
    assert "train.eval_every" not in page.split('<section id="metrics-over-time">')[1].split("</section>")[0]


def test_report_of_a_bare_run(tmp_path):
    """Only a config and pictures: notes instead of plots, 8 of 12 pictures, wide ones narrowed."""
    run = tmp_path / "bare"
    (run / "samples").mkdir(parents=True)
    (run / "config.yaml").write_text("data:\n  name: ring8 <x>\ntrain:\n  steps: 100\n")
    for i in range(12):
        w = 1600 if i == 11 else 40
        Image.new("RGB", (w, 30), (20 * i, 0, 0)).save(run / "samples" / f"step_{10 * (i + 1):07d}.png")
    page = build_report_html(run)
    assert "no training log: metrics.jsonl is missing" in page
    assert "no health events were recorded" in page and 'data-testid="plot-health"' not in page
    assert "--set train.eval_every=1000" in page and "no eval.json" in page
    assert "unknown" in page.split('data-testid="final-state"')[1][:200]
    assert "ring8 &lt;x&gt;" in page and "<x>" not in page
    shown = re.findall(r'data-testid="sample-step-(\d+)"', page)
    assert len(shown) == 8 and shown[0] == "10" and shown[-1] == "120"
    assert re.findall(r"<figcaption>step ([\d,]+)</figcaption>", page)[-1] == "120"
    last = re.search(r'data-testid="sample-step-120"[^>]*src="data:image/png;base64,([^"]+)"', page)
    assert Image.open(io.BytesIO(base64.b64decode(last.group(1)))).size == (800, 15)


def test_health_bands_from_events_only(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.yaml").write_text("data: {name: grid25}\n")
    log = [{"step": s, "loss_d": 1.0, "loss_g": 1.0, "d_acc": 0.5, "grad_norm_d": 0.0} for s in (10, 20, 30)]
    log += [{"step": 40, "loss_d": float("nan"), "loss_g": float("inf"), "d_acc": 0.5,
             "grad_norm_d": float("inf"), "grad_norm_g": 2.0}]  # a diverging run's last line
    log += [{"step": 20, "event": {"monitor": "stall", "state": "Stalled", "message": "no progress"}},
            {"step": 30, "event": {"monitor": "recovery", "state": "Running", "message": "moving again"}},
            [1, 2], {"no": "step"}]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in log) + "\nnot json\n")
    r = load_run(run)
    assert r.skipped == 3 and len(r.logs) == 4 and len(r.events) == 2
    assert state_bands(r) == [(0, 20, "Running"), (20, 30, "Stalled"), (30, 40, "Running")]
    page = build_report_html(run)
    assert 'data-testid="plot-losses"' in page and 'data-testid="plot-grad-norms"' in page
    assert 'data-testid="plot-health"' in page and "skipped 3 lines that were not valid JSON" in page
    assert re.search(r'data-testid="final-state">.*?Running', page)


def test_pick_evenly():
    assert pick_evenly(3) == [0, 1, 2]
    picked = pick_evenly(100)
    assert len(picked) == 8 and picked[0] == 0 and picked[-1] == 99
    assert pick_evenly(9) == [0, 1, 2, 3, 5, 6, 7, 8]


def test_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["report", "no/such/run"]) == 2
    err = capsys.readouterr().err
    assert err == "ganforge: error: run directory not found: no/such/run\n"
    (tmp_path / "empty").mkdir()
    assert main(["report", "empty"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "empty is not a ganforge run directory" in err
    assert not (tmp_path / "empty" / "report.html").exists()
    with pytest.raises(CheckpointError, match="not a ganforge run directory"):
        build_report_html(tmp_path / "empty")


def test_report_in_a_browser(report):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run / make test install Debian's chromium",
                        pytrace=False)
        pytest.skip("Debian's chromium is not installed (make test installs it as root)")
    sync_api = pytest.importorskip("playwright.sync_api")
    path, _ = report
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = b.new_page(viewport={"width": 1200, "height": 900})
            requests, errors = [], []
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            n = page.evaluate("() => document.images.length")
            assert n >= 10
            assert page.evaluate(
                "() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
            sizes = page.evaluate("""() => Array.from(document.querySelectorAll('img.plot'))
                                     .map(i => [i.dataset.testid, i.getBoundingClientRect().width])""")
            assert sizes and all(w > 100 for _, w in sizes), sizes
            for sid in SECTIONS:
                assert page.locator(f"#{sid} h2").is_visible(), sid
            assert page.get_by_test_id("events").locator("tbody tr").count() == 2
            assert page.get_by_test_id("final-state").inner_text() == "Collapsed"
            assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
            assert errors == []
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            b.close()


@pytest.mark.parametrize("task", ["paired", "superres", "inpaint", "unpaired"])
def test_report_of_a_translation_run_shows_scores_beside_baselines(translation_runs, task):
    """Tiny runs of each translation task (conftest): scores with their baseline in their own column,
    training-time scores over time (baseline dashed), the input | output | target triplets."""
    root, specs, _ = translation_runs
    _, _, method, names = specs[task]
    assert main(["report", str(root / task)]) == 0
    page = (root / task / "report.html").read_text()
    scores = page.split('<section id="scores">')[1].split("</section>")[0]
    assert "<th>baseline (same images)</th>" in scores
    ev = json.loads((root / task / "eval.json").read_text())["metrics"]
    for name in names:
        assert f'data-testid="score-{name}"><td>{name}</td><td>{name} = {ev[name][name]:.6g}</td>' in scores
        b = re.search(rf'data-testid="baseline-{name}">([^<]*)</td>', scores).group(1)
        assert b == f"{method}: {name} = {ev[name]['baseline'][name]:.6g}"
    assert "<dt>held_out_images</dt><dd>12</dd>" in scores
    for tid in [f"plot-metric-{name}" for name in names] + ["sample-step-4"]:
        assert f'data-testid="{tid}"' in page, tid
