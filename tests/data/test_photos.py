from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import PHOTO_SETS
from ganforge.data.images import FASHION_DIR
from ganforge.data.photos import grid_crops, load_photo_folder, load_skimage_photos
from ganforge.errors import DataError


def test_grid_crops():
    img = np.arange(2 * 5 * 7, dtype=np.uint8).reshape(2, 5, 7)
    k = grid_crops(img, 3, 2)
    assert k.shape == (2 * 3, 2, 3, 3) and np.array_equal(k[4], img[:, 2:5, 2:5])
    assert grid_crops(img, 6, 6).shape == (0, 2, 6, 6)


def test_held_out_photo_never_in_train_crops():
    import skimage.data

    d = load_skimage_photos(size=96, photos=("astronaut", "coffee"), held_out=("coffee",))
    assert all(n.startswith("astronaut/") for n in d.names)
    assert all(n.startswith("coffee/") for n in d.test.names)
    coffee = torch.from_numpy(skimage.data.coffee().transpose(2, 0, 1).copy())
    assert torch.equal(d.test.images[0], coffee[:, :96, :96])
    flat_test = {bytes(c.numpy()) for c in d.test.images}
    assert not flat_test & {bytes(c.numpy()) for c in d.images} and d.size == 25
    with pytest.raises(DataError, match="unknown photo"):
        PHOTO_SETS.get("photos")(held_out="nope")


def _folder(root: Path, n: int = 10, size=(8, 6)) -> None:
    root.mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", size, (10 * i, 0, 0)).save(root / f"{i:02d}.png")


def test_image_folder_with_masks_and_held_out_every_kth(tmp_path):
    _folder(tmp_path / "f")
    (tmp_path / "f" / "masks").mkdir()
    for i in range(10):
        m = np.zeros((6, 8), dtype=np.uint8)
        m[:i % 3 + 1] = 255
        Image.fromarray(m).save(tmp_path / "f" / "masks" / f"{i:02d}.png")
    d = PHOTO_SETS.get("photos-folder")(path=str(tmp_path / "f"), every=5)
    assert d.size == 8 and d.test.size == 2 and d.test.names == ["04.png", "09.png"]
    assert d.masks.shape == (8, 1, 6, 8) and d.test.masks.shape == (2, 1, 6, 8)
    assert d.masks[:, 0, :, 0].sum(1).div(255).tolist() == [1, 2, 3, 1, 3, 1, 2, 3]
    x, m = d.sample_masked(16, torch.Generator().manual_seed(0))
    idx = torch.randint(8, (16,), generator=torch.Generator().manual_seed(0))
    assert torch.equal(m, (d.masks[idx] > 0).float()) and x.shape == (16, 3, 6, 8)


def test_wrong_mask_size_and_missing_mask_are_one_line_errors(tmp_path):
    _folder(tmp_path / "f", n=3)
    (tmp_path / "f" / "masks").mkdir()
    Image.new("L", (8, 6)).save(tmp_path / "f" / "masks" / "00.png")
    Image.new("L", (8, 6)).save(tmp_path / "f" / "masks" / "01.png")
    with pytest.raises(DataError, match=r"no mask for 1 of 3 images \(02\)"):
        load_photo_folder(tmp_path / "f", every=0)
    Image.new("L", (7, 6)).save(tmp_path / "f" / "masks" / "02.png")
    with pytest.raises(DataError, match=r"mask .*02.png is 7x6, its image 02.png is 8x6") as e:
        load_photo_folder(tmp_path / "f", every=0)
    assert "\n" not in str(e.value)


def test_train_test_folders_and_corrupt_file(tmp_path):
    _folder(tmp_path / "g" / "train", n=5)
    _folder(tmp_path / "g" / "test", n=2, size=(12, 9))
    (tmp_path / "g" / "train" / "bad.jpg").write_bytes(b"nope")
    d = load_photo_folder(tmp_path / "g", size=4, max_bad_share=0.2)
    assert d.size == 5 and d.test.size == 2 and d.skipped == 1 and d.test.shape == (3, 4, 4)
    assert d.masks is None
    with pytest.raises(DataError, match="has no masks"):
        d.sample_masked(2, torch.Generator())


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_photos_hold_out_t10k():
    d = PHOTO_SETS.get("photos-fashion")(limit=50)
    assert d.size == 50 and d.test.size == 50 and d.shape == (1, 28, 28)
    assert not torch.equal(d.images, d.test.images)
