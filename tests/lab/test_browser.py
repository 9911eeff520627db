"""The lab in a real browser: headless Chromium (Debian's) driven by Playwright."""

import os
import re
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("GANFORGE_TEST_ARTIFACTS", ROOT / "test-artifacts"))

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        pytest.fail("chromium is missing in CI: .ci/run / make test install Debian's chromium",
                    pytrace=False)
    pytest.skip("Debian's chromium is not installed (make test installs it as root)",
                allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server():
    from ganforge.lab.server import BackgroundServer

    with BackgroundServer() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def _epoch(page) -> int:
    m = re.search(r"Epoch: (\d+)", page.get_by_test_id("status").inner_text())
    return int(m.group(1)) if m else -1


def _wait(cond, timeout=30.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out")


def _open(server, browser, height: int = 1100):
    """A fresh page on the lab, its script errors collected, its first frame drawn."""
    page = browser.new_page(viewport={"width": 1400, "height": height})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server)
    _wait(lambda: _epoch(page) == 0)
    return page, errors


def _painted_share(page) -> float:
    """Share of canvas pixels painted (alpha > 0)."""
    return page.evaluate("""() => {
        const c = document.querySelector('[data-testid="field"]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n / (d.length / 4); }""")


def _dataset(page) -> str:
    return page.evaluate("() => window.ganforgeLab[0].frame && window.ganforgeLab[0].frame.settings.dataset")


def test_lab_in_a_browser(server, browser, tmp_path):
    from ganforge.cli import main

    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server)
    _wait(lambda: _epoch(page) == 0)
    status = page.get_by_test_id("status").inner_text()
    assert re.match(r"Epoch: 0 – D loss: .* – G loss: .* – D acc: .* – State: Paused", status), status

    # play at 50 steps/s: the epoch count and the losses move
    page.get_by_test_id("speed").fill("50")
    page.get_by_test_id("speed").dispatch_event("change")
    page.get_by_test_id("play").click()
    _wait(lambda: _epoch(page) >= 10)
    first = page.get_by_test_id("status").inner_text()
    _wait(lambda: _epoch(page) >= 40)
    later = page.get_by_test_id("status").inner_text()
    assert "State: Running" in later or "State: Converged" in later or "State: Collapsed" in later
    loss = lambda s: re.search(r"D loss: ([\d.]+) – G loss: ([\d.]+)", s).groups()  # noqa: E731
    assert loss(first) != loss(later)
    page.get_by_test_id("pause").click()
    _wait(lambda: "State: Paused" in page.get_by_test_id("status").inner_text()
          or "State: Converged" in page.get_by_test_id("status").inner_text()
          or "State: Collapsed" in page.get_by_test_id("status").inner_text())

    # the field layer covers the canvas; without it only the points are painted
    with_field = _painted_share(page)
    page.get_by_test_id("show-field").uncheck()
    without = _painted_share(page)
    assert with_field > 0.9 and without < 0.5
    page.get_by_test_id("show-field").check()

    # switch data sets
    page.get_by_test_id("dataset").select_option("single")
    _wait(lambda: _dataset(page) == "single")
    page.get_by_test_id("dataset").select_option("two")
    _wait(lambda: _dataset(page) == "two" and _epoch(page) == 0)

    # draw your own: paint a stroke in the upper-left quarter
    page.get_by_test_id("dataset").select_option("draw")
    box = page.get_by_test_id("field").bounding_box()
    page.mouse.move(box["x"] + 60, box["y"] + 60)
    page.mouse.down()
    for i in range(20):
        page.mouse.move(box["x"] + 60 + 4 * i, box["y"] + 60 + 2 * i)
    page.mouse.up()
    def drawn_points_in_use():
        f = page.evaluate("() => window.ganforgeLab[0].frame")
        # the painted stroke lies in the upper-left quarter of the [-2, 2]^2 drawing window
        return f["settings"]["dataset"] == "draw" and all(x < 0 and y > 0 for x, y in f["real"])

    _wait(drawn_points_in_use)
    page.get_by_test_id("step").click()
    _wait(lambda: _epoch(page) == 1)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lab.png"), full_page=True)

    # export the model and sample from it with the CLI
    with page.expect_download() as dl:
        page.get_by_test_id("export-model").click()
    ck = tmp_path / "lab.safetensors"
    dl.value.save_as(ck)
    assert main(["sample", str(ck), "-n", "20", "-o", str(tmp_path / "s.npy")]) == 0

    # compare: a second session side by side
    page.get_by_test_id("compare").check()
    _wait(lambda: re.search(r"Epoch: \d+", page.get_by_test_id("b-status").inner_text()))
    assert page.evaluate("() => window.ganforgeLab.length") == 2
    sessions = page.evaluate("() => window.ganforgeLab.map(v => v.session)")
    assert sessions[0] != sessions[1]
    assert errors == []
    page.close()


HINTLESS = """() => {
    // every visible control (input, select, button) names a visible, non-empty one-line hint
    const bad = [];
    for (const el of document.querySelectorAll('input, select, button')) {
        if (el.closest('[hidden]') || el.hidden || el.closest('.hint') || el.type === 'file') continue;
        const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
        const hints = ids.map(i => document.getElementById(i)).filter(h => h && h.classList.contains('hint'));
        if (!hints.length || hints.some(h => !h.textContent.trim() || h.closest('[hidden]')))
            bad.push(el.dataset.testid || el.outerHTML.slice(0, 60));
    }
    return bad; }"""


STORED = "() => localStorage.getItem('ganforge-lab-explain')"


def test_teaching_panel_hints_and_collapse(server, browser):
    page, errors = _open(server, browser, 1100)
    panel = page.get_by_test_id("explain")
    text = panel.inner_text()
    assert "A GAN is a two-player game: the Generator makes fake samples" in text
    assert "Generator — turns random noise into fake data and tries to fool D" in text
    assert "Discriminator — labels points as real vs fake" in text
    for word in ("Real", "Fake (G)", "Boundary (D = 50%)", "Like I'm five"):
        assert word in text, word
    assert page.evaluate(HINTLESS) == []
    n_controls = page.evaluate("() => document.querySelectorAll('[aria-describedby]').length")
    assert n_controls >= 30
    assert "Real points are the target distribution" in page.locator("#h-dataset").inner_text()
    assert "Blue means D thinks real" in page.locator("#h-show-field").inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lab-teaching-panel.png"), full_page=True)
    # collapse: survives a reload
    page.locator('[data-testid="explain"] > summary').click()
    assert page.evaluate("() => document.querySelector('[data-testid=explain]').open") is False
    _wait(lambda: page.evaluate(STORED) == "closed")  # the toggle event stores it after the click
    page.reload()
    _wait(lambda: _epoch(page) == 0)
    assert page.evaluate("() => document.querySelector('[data-testid=explain]').open") is False
    assert not page.get_by_text("Like I'm five").is_visible()
    page.locator('[data-testid="explain"] > summary').click()
    _wait(lambda: page.evaluate(STORED) == "open")
    page.reload()
    _wait(lambda: _epoch(page) == 0)
    assert page.evaluate("() => document.querySelector('[data-testid=explain]').open") is True
    # the compare view's controls have their own hints too
    page.get_by_test_id("compare").check()
    _wait(lambda: re.search(r"Epoch: \d+", page.get_by_test_id("b-status").inner_text()))
    assert page.evaluate(HINTLESS) == []
    assert errors == []
    page.close()


def _lit(page) -> list[str]:
    return page.evaluate("""() => Array.from(document.querySelectorAll(
        '[data-testid="model-graph"] .edge.lit')).map(e => e.dataset.edge)""")


def test_model_graph_lights_up_during_a_step_and_slow_motion(server, browser):
    page, errors = _open(server, browser, 1100)
    nodes = page.evaluate("""() => Array.from(document.querySelectorAll(
        '[data-testid="model-graph"] [data-node]')).map(e => e.dataset.node)""")
    assert nodes == ["z", "G", "fake", "real", "D", "pred", "lossD", "lossG"]
    assert _lit(page) == []
    # record every change of the lit edges during one normal step
    page.evaluate("""() => { window.litLog = [];
        const svg = document.querySelector('[data-testid="model-graph"]');
        new MutationObserver(() => {
            const lit = Array.from(svg.querySelectorAll('.edge.lit')).map(e => e.dataset.edge).join(',');
            if (window.litLog[window.litLog.length - 1] !== lit) window.litLog.push(lit);
        }).observe(svg, {attributes: true, subtree: true, attributeFilter: ['class']}); }""")
    page.get_by_test_id("step").click()
    _wait(lambda: _epoch(page) == 1)
    _wait(lambda: page.evaluate("() => window.litLog.length >= 6") and _lit(page) == [])
    log = [x for x in page.evaluate("() => window.litLog") if x]
    # in the order the step computes: G forward, D forward, D's gradient, G through D, G's gradient
    assert log.index("z-G,G-fake") < log.index("fake-D,real-D,D-pred,pred-lossD") \
        < log.index("grad-lossD-D") < log.index("grad-lossG-D,grad-D-G"), log

    # slow motion: one step, phase by phase
    page.get_by_test_id("slow-motion").check()
    assert page.get_by_test_id("slow-next").is_visible()
    texts, lit = [page.get_by_test_id("phase-text").inner_text()], []
    for k in range(6):
        page.get_by_test_id("slow-next").click()
        _wait(lambda k=k: f"State: Slow motion {k + 1}/6" in page.get_by_test_id("status").inner_text())
        texts.append(page.get_by_test_id("phase-text").inner_text())
        assert texts[-1].startswith(f"{k + 1}/6"), texts[-1]
        lit.append(tuple(_lit(page)))
        assert _epoch(page) == (1 if k < 5 else 2)
        if k == 3:
            page.screenshot(path=str(ARTIFACTS / "lab-slow-motion.png"), full_page=True)
    assert len(set(texts)) == 7 and "grad-lossD-D" in lit[3] and "grad-D-G" in lit[5]
    assert len(set(lit[1:])) == 5
    page.get_by_test_id("slow-next").click()  # the step is done: back to normal
    _wait(lambda: "State: Paused" in page.get_by_test_id("status").inner_text())
    assert "back to the normal view" in page.get_by_test_id("phase-text").inner_text()
    assert _lit(page) == [] and _epoch(page) == 2
    assert page.evaluate("() => window.ganforgeLab[0].frame.phase === undefined")
    page.get_by_test_id("slow-motion").uncheck()
    assert not page.get_by_test_id("slow-next").is_visible()
    assert errors == []
    page.close()


def _curve_pixels(page, testid="density-1d") -> dict:
    """Pixels of the 1-D view near each curve's colour: real (green), G (purple), D (blue)."""
    return page.evaluate("""(tid) => {
        const c = document.querySelector(`[data-testid="${tid}"]`);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const want = {real: [27, 120, 55], fake: [118, 42, 131], d: [67, 147, 195]};
        const n = {real: 0, fake: 0, d: 0};
        let sum = 0;
        for (let i = 0; i < d.length; i += 4) {
            sum = (sum * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) % 1000000007;
            for (const [k, [r, g, b]] of Object.entries(want))
                if (Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) < 40) n[k]++;
        }
        n.hash = sum;
        return n; }""", testid)


def test_1d_data_shows_the_gan_paper_figure(server, browser):
    page, errors = _open(server, browser, 1000)
    assert page.get_by_test_id("density-1d").is_hidden() and page.get_by_test_id("field").is_visible()
    page.get_by_test_id("dataset").select_option("two1d")
    _wait(lambda: _dataset(page) == "two1d")
    _wait(lambda: page.get_by_test_id("density-1d").is_visible())
    assert page.get_by_test_id("field").is_hidden()
    before = _curve_pixels(page)
    assert before["real"] > 200 and before["fake"] > 200 and before["d"] > 100, before
    page.get_by_test_id("speed").fill("50")
    page.get_by_test_id("speed").dispatch_event("change")
    page.get_by_test_id("play").click()
    _wait(lambda: _epoch(page) >= 60)
    during = _curve_pixels(page)
    assert during["hash"] != before["hash"]  # G's density and D(x) move while playing
    assert during["real"] > 200 and during["fake"] > 100 and during["d"] > 100, during
    _wait(lambda: _epoch(page) >= 150)
    page.get_by_test_id("pause").click()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lab-1d.png"), full_page=True)
    page.get_by_test_id("dataset").select_option("two")  # back to 2-D: the field again
    _wait(lambda: _dataset(page) == "two" and page.get_by_test_id("field").is_visible())
    assert page.get_by_test_id("density-1d").is_hidden()
    assert errors == []
    page.close()


def test_lab_opens_a_trained_run(browser, tmp_path):
    """`ganforge lab RUN`: the page starts from the run's latest checkpoint, at its step; Play
    continues it; the model export is a checkpoint further on."""
    from ganforge import config, runs
    from ganforge.lab.server import BackgroundServer
    from ganforge.training.state import load_checkpoint

    cfg = config.load(None, ["data.name=two", "g.width=32", "g.depth=2", "d.width=32", "d.depth=2",
                             "train.batch_size=64", "train.steps=37", "train.plot_every=0"])
    run = tmp_path / "run"
    runs.train(cfg, run, progress=False, plots=False, device="cpu")
    with BackgroundServer(run=run) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        _wait(lambda: _epoch(page) == 37)
        assert "State: Paused" in page.get_by_test_id("status").inner_text()
        assert "step_0000037" in page.get_by_test_id("source").inner_text()
        assert page.get_by_test_id("g-width").input_value() == "32"
        assert _painted_share(page) > 0.9  # its field
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "lab-run.png"), full_page=True)
        page.get_by_test_id("play").click()
        _wait(lambda: _epoch(page) >= 45)
        page.get_by_test_id("pause").click()
        with page.expect_download() as dl:
            page.get_by_test_id("export-model").click()
        ck = tmp_path / "lab.safetensors"
        dl.value.save_as(ck)
        assert load_checkpoint(ck).step >= 45
        assert errors == []
        page.close()


def _tile_frames(page, testid="sample-grid") -> dict:
    """Pixels of the grid canvas in D's verdict colours (blue real / red fake) and a hash of all."""
    return page.evaluate("""(tid) => {
        const c = document.querySelector(`[data-testid="${tid}"]`);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const n = {blue: 0, red: 0, hash: 0};
        for (let i = 0; i < d.length; i += 4) {
            n.hash = (n.hash * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) % 1000000007;
            if (d[i] === 67 && d[i + 1] === 147 && d[i + 2] === 195) n.blue++;
            if (d[i] === 214 && d[i + 1] === 96 && d[i + 2] === 77) n.red++;
        }
        return n; }""", testid)


def test_image_mode_shows_a_live_grid_with_d_verdicts(server, browser):
    page, errors = _open(server, browser, 1500)
    assert page.get_by_test_id("sample-grid").is_hidden() and page.get_by_test_id("conditional").is_hidden()
    page.get_by_test_id("dataset").select_option("digits")
    _wait(lambda: _dataset(page) == "digits")
    _wait(lambda: page.get_by_test_id("sample-grid").is_visible())
    assert page.get_by_test_id("field").is_hidden() and page.get_by_test_id("show-field").is_hidden()
    assert page.get_by_test_id("g-depth").is_hidden() and page.get_by_test_id("conditional").is_visible()
    assert page.get_by_test_id("lr-g").input_value() == "0.0005"  # the image recipe's settings
    assert page.get_by_test_id("speed").input_value() == "0"  # images train at full speed
    before = _tile_frames(page)
    assert before["blue"] + before["red"] > 64 * 40, before  # every tile framed by D's verdict
    page.get_by_test_id("play").click()
    _wait(lambda: _epoch(page) >= 40)
    during = _tile_frames(page)
    assert during["hash"] != before["hash"]  # G's samples change while playing
    _wait(lambda: page.evaluate("() => !!window.ganforgeLab[0].frame.images.hist"))
    _wait(lambda: _epoch(page) >= 150, timeout=60)
    page.get_by_test_id("pause").click()
    real = _tile_frames(page, "real-grid")
    assert real["blue"] + real["red"] > 16 * 40, real
    hist = _curve_pixels(page, "d-histogram")
    assert hist["real"] > 50 and hist["fake"] > 50, hist  # both batches' bars are drawn
    assert _curve_pixels(page, "class-bars")["fake"] > 50  # G's samples by class
    walk = page.get_by_test_id("walk")
    w0 = _tile_frames(page, "walk-view")["hash"]
    walk.fill("12")
    walk.dispatch_event("input")
    assert _tile_frames(page, "walk-view")["hash"] != w0  # the slider walks through noise space
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lab-images.png"), full_page=True)
    # class-conditional: a row per class, and slow motion shows the batch as images
    page.get_by_test_id("conditional").check()
    _wait(lambda: page.evaluate("() => window.ganforgeLab[0].frame.images.grid.n") == 80)
    assert page.get_by_test_id("walk-class").is_visible()
    page.get_by_test_id("walk-class").select_option("3")
    _wait(lambda: page.evaluate("() => window.ganforgeLab[0].frame.images.walk.label") == "3")
    page.get_by_test_id("slow-motion").check()
    for k in range(6):
        page.get_by_test_id("slow-next").click()
        _wait(lambda k=k: page.evaluate("() => window.ganforgeLab[0].slowPhase") == k)
    assert "One step done" in page.get_by_test_id("phase-text").inner_text()
    assert _tile_frames(page)["blue"] + _tile_frames(page)["red"] > 0
    page.get_by_test_id("dataset").select_option("two")  # back to points: the field again
    _wait(lambda: _dataset(page) == "two" and page.get_by_test_id("field").is_visible())
    assert page.get_by_test_id("sample-grid").is_hidden()
    assert page.get_by_test_id("lr-g").input_value() == "0.03"
    assert errors == []
    page.close()
