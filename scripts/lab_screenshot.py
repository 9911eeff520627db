"""Regenerate the lab's screenshots in docs/: the lab on two clusters after training, every layer
on (docs/lab.png), or the image view (docs/lab-images.png) on an image set.

    .venv/bin/python scripts/lab_screenshot.py [--out docs/lab.png] [--seconds 20]
    .venv/bin/python scripts/lab_screenshot.py --data digits --out docs/lab-images.png --seconds 40
    .venv/bin/python scripts/lab_screenshot.py --data digits --set noise_dim=2 --seconds 60 ...
Needs Debian's chromium (make test installs it) and the dev extras (playwright).
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from ganforge.lab.page import LAB_IMAGES
from ganforge.lab.server import BackgroundServer
from ganforge.lab.session import Limits

TESTID = {"noise_dim": "noise-dim", "g_width": "g-width", "d_width": "d-width", "lr_g": "lr-g",
          "lr_d": "lr-d", "pack": "pack", "d_steps": "d-steps", "batch_size": "batch-size", "seed": "seed"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="docs/lab.png")
    ap.add_argument("--seconds", type=float, default=20.0, help="training time before the shot")
    ap.add_argument("--data", default="two", help="the data set picked in the menu")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help=f"a setting typed into its box before Play ({', '.join(TESTID)})")
    args = ap.parse_args()
    images = args.data in LAB_IMAGES
    with BackgroundServer(Limits(processes=True)) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1320, "height": 1400 if images else 800})
        page.goto(url)
        page.wait_for_function("() => window.ganforgeLab[0].frame !== null")
        if args.data != "two":
            page.get_by_test_id("dataset").select_option(args.data)
            page.wait_for_function(f"() => window.ganforgeLab[0].frame.settings.dataset === {args.data!r}")
        for item in args.set:
            key, _, value = item.partition("=")
            box = page.get_by_test_id(TESTID[key])
            box.fill(value)
            box.dispatch_event("change")
            page.wait_for_function(f"() => String(window.ganforgeLab[0].frame.settings.{key}) === {value!r}")
        page.get_by_test_id("speed").fill("0")
        page.get_by_test_id("speed").dispatch_event("change")
        if not images:
            page.get_by_test_id("show-manifold").check()
            page.get_by_test_id("show-arrows").check()
        page.get_by_test_id("play").click()
        t0 = time.time()
        while time.time() - t0 < args.seconds:
            done = "Converged" in page.get_by_test_id("status").inner_text()
            if not images and done and time.time() - t0 > 5:
                break
            time.sleep(0.5)
        page.get_by_test_id("pause").click()
        time.sleep(0.5)
        status = page.get_by_test_id("status").inner_text()
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        # the status line down to the class bars (images) or the canvas, without the panels above
        top = page.get_by_test_id("status").bounding_box()["y"] - 6
        bottom = page.get_by_test_id("class-bars" if images else "field").bounding_box()
        clip = {"x": 0, "y": top, "width": 1180, "height": bottom["y"] + bottom["height"] + 40 - top}
        page.screenshot(path=args.out, clip=clip, full_page=True)
        if images:  # a 256-colour palette: a third of the bytes; D's smooth field would band
            Image.open(args.out).convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(args.out)
        print(re.sub(r"\s+", " ", status), "|", page.get_by_test_id("source").inner_text() or "",
              re.sub(r"\s+", " ", page.locator('[data-role="reason"]').inner_text()))
        print(f"written: {args.out}")
        browser.close()


if __name__ == "__main__":
    main()
