import numpy as np
import torch
from PIL import Image

from ganforge.viz import field_grid, plot_points


def test_field_colours_blue_real_red_fake_white_line(tmp_path):
    bounds = (-1.0, 1.0, -1.0, 1.0)
    xs, ys, pts = field_grid(bounds, resolution=60)
    assert pts.shape == (3600, 2)
    # D says "real" on the left half (x < 0), "fake" on the right half.
    field = (pts[:, 0] < 0).float().reshape(60, 60).numpy() * 0.98 + 0.01
    empty = torch.empty(0, 2)
    path = plot_points(tmp_path / "f.png", empty, empty, bounds, field, title="t")
    img = np.asarray(Image.open(path).convert("RGB")).astype(int)
    h, w, _ = img.shape
    # Probe inside the axes: a quarter of the way from each side, at mid height.
    row = h // 2
    left = img[row, int(w * 0.3)]
    right = img[row, int(w * 0.7)]
    assert left[2] > left[0] + 40, left  # blue
    assert right[0] > right[2] + 40, right  # red
    # the white contour at 0.5 runs down the middle: some near-white pixel on the centre row
    centre = img[row, int(w * 0.4): int(w * 0.6)]
    assert (centre.min(axis=1) > 220).any()
