"""Regenerate docs/lab.png: the lab on two clusters after training, every layer on.

    .venv/bin/python scripts/lab_screenshot.py [--out docs/lab.png] [--seconds 20]
Needs Debian's chromium (make test installs it) and the dev extras (playwright).
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from ganforge.lab.server import BackgroundServer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="docs/lab.png")
    ap.add_argument("--seconds", type=float, default=20.0, help="training time before the shot")
    args = ap.parse_args()
    with BackgroundServer() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1320, "height": 800})
        page.goto(url)
        page.wait_for_function("() => window.ganforgeLab[0].frame !== null")
        page.get_by_test_id("speed").fill("0")
        page.get_by_test_id("speed").dispatch_event("change")
        page.get_by_test_id("show-manifold").check()
        page.get_by_test_id("show-arrows").check()
        page.get_by_test_id("play").click()
        t0 = time.time()
        while time.time() - t0 < args.seconds:
            if "Converged" in page.get_by_test_id("status").inner_text() and time.time() - t0 > 5:
                break
            time.sleep(0.5)
        page.get_by_test_id("pause").click()
        time.sleep(0.5)
        status = page.get_by_test_id("status").inner_text()
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=args.out, clip={"x": 0, "y": 0, "width": 1320, "height": 720})
        print(re.sub(r"\s+", " ", status))
        print(f"written: {args.out}")
        browser.close()


if __name__ == "__main__":
    main()
