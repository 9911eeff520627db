import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.config import DataConfig
from ganforge.data import build_data, fit_images
from ganforge.data.images import (
    load_idx_folder,
    load_image_folder,
    load_npz,
    read_idx,
    to_float,
    to_uint8,
)
from ganforge.errors import DataError

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mnist"


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    return bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def test_idx_parser_on_hand_made_bytes(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.idx").write_bytes(idx_bytes(a))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(idx_bytes(a)))
    assert np.array_equal(read_idx(tmp_path / "a.idx"), a)
    assert np.array_equal(read_idx(tmp_path / "a.idx.gz"), a)
    b = np.array([1, -2, 300], dtype=">i4")
    (tmp_path / "b.idx").write_bytes(idx_bytes(b, 0x0C))
    assert read_idx(tmp_path / "b.idx").tolist() == [1, -2, 300]


@pytest.mark.parametrize("data, fragment", [
    (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "bad magic"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "unsupported IDX type"),
    (b"\x00\x00\x08\x02\x00\x00", "truncated IDX header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05", "says 3 data bytes"),
])
def test_idx_parser_rejects_bad_files(tmp_path, data, fragment):
    p = tmp_path / "bad.idx"
    p.write_bytes(data)
    with pytest.raises(DataError, match=fragment):
        read_idx(p)


def test_idx_folder_with_labels(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (5, 6, 6), dtype=np.uint8)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(imgs))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.array([0, 1, 2, 1, 0], dtype=np.uint8))))
    d = load_idx_folder(tmp_path)
    assert d.shape == (1, 6, 6) and d.size == 5 and d.labels.tolist() == [0, 1, 2, 1, 0]
    assert torch.equal(d.images[:, 0], torch.from_numpy(imgs))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.array([0, 1], dtype=np.uint8))))
    with pytest.raises(DataError, match="2 labels for 5 images"):
        load_idx_folder(tmp_path)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/mnist is not beside the repo")
def test_shared_mnist_is_the_published_test_set():
    raw = gzip.decompress((SHARED / "t10k-images-idx3-ubyte.gz").read_bytes())
    assert hashlib.md5(raw).hexdigest() == "2646ac647ad5339dbf082846283269ea"
    d = build_data(DataConfig(name="mnist", path=str(SHARED)))
    assert d.shape == (1, 28, 28) and d.size == 10000
    counts = torch.bincount(d.labels).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    x = d.sample(16, torch.Generator().manual_seed(0))
    assert x.shape == (16, 1, 28, 28) and x.min() >= -1 and x.max() <= 1


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "imgs"
    (root / "cats").mkdir(parents=True)
    (root / "dogs" / "deep").mkdir(parents=True)
    Image.new("RGB", (12, 10), (255, 0, 0)).save(root / "cats" / "a.png")
    Image.new("L", (10, 10), 128).save(root / "cats" / "grey.bmp")
    pal = Image.new("P", (10, 10))
    pal.putpalette([0, 0, 255] * 256)
    pal.save(root / "dogs" / "palette.png")
    Image.new("CMYK", (10, 14), (0, 255, 255, 0)).save(root / "dogs" / "deep" / "cmyk.jpg")
    Image.new("RGB", (10, 10), (0, 255, 0)).save(root / "dogs" / "c.webp")
    (root / "dogs" / "broken.png").write_bytes(b"\x89PNG not really")
    return root


def test_image_folder_labels_modes_and_corrupt_files(tmp_path):
    d = load_image_folder(_folder(tmp_path), size=8, channels=0, max_bad_share=0.5)
    assert d.shape == (3, 8, 8) and d.size == 5 and d.skipped == 1
    assert d.classes == ["cats", "dogs"] and sorted(d.labels.tolist()) == [0, 0, 1, 1, 1]
    by_label = {tuple(img[:, 4, 4].tolist()) for img in d.images}
    assert (255, 0, 0) in by_label and (0, 0, 255) in by_label and (128, 128, 128) in by_label
    with pytest.raises(DataError, match="1 of 6 images .* could not be read"):
        load_image_folder(tmp_path / "imgs", size=8, max_bad_share=0.1)
    with pytest.raises(DataError, match="different sizes"):
        load_image_folder(tmp_path / "imgs", size=0, max_bad_share=0.5)
    grey = load_image_folder(tmp_path / "imgs", size=8, channels=1, max_bad_share=0.5)
    assert grey.shape == (1, 8, 8)


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_image_folder(tmp_path / "empty")
    with pytest.raises(DataError, match="not found"):
        load_image_folder(tmp_path / "nope")
    with pytest.raises(DataError, match="needs data.path"):
        build_data(DataConfig(name="folder"))


def test_npz_layouts(tmp_path):
    p = tmp_path / "a.npz"
    np.savez(p, x=np.full((4, 5, 5, 3), 0.5, dtype=np.float32), y=np.arange(4))
    d = load_npz(p)
    assert d.shape == (3, 5, 5) and d.labels.tolist() == [0, 1, 2, 3]
    assert int(d.images[0, 0, 0, 0]) == 128  # 0.5 of [0, 1] -> 127.5 -> 128
    np.savez(p, images=np.zeros((2, 5, 5), dtype=np.uint8), labels=np.arange(3))
    with pytest.raises(DataError, match="3 labels for 2 images"):
        load_npz(p)
    np.savez(p, z=np.zeros(3))
    with pytest.raises(DataError, match="needs an array named"):
        load_npz(p)


def test_fit_images_and_value_range():
    from ganforge.data.images import ImageData

    d = ImageData("t", "t", torch.full((2, 1, 8, 8), 200, dtype=torch.uint8))
    e = fit_images(d, size=4, channels=3)
    assert e.shape == (3, 4, 4) and int(e.images[0, 2, 1, 1]) == 200
    assert to_float(torch.tensor([0, 255], dtype=torch.uint8)).tolist() == [-1.0, 1.0]
    x = torch.linspace(-1, 1, 256)
    assert torch.equal(to_uint8(x), torch.arange(256, dtype=torch.uint8))


def test_idx_folder_concatenates_train_and_test_splits(tmp_path):
    a = np.zeros((3, 4, 4), dtype=np.uint8)
    b = np.full((2, 4, 4), 9, dtype=np.uint8)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(a))
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(b))
    d = load_idx_folder(tmp_path)
    assert d.size == 5 and d.labels is None  # labels only when every split has them
    assert d.images[:, 0, 0, 0].tolist() == [0, 0, 0, 9, 9]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/mnist is not beside the repo")
def test_stacked_mnist_channels_match_their_label():
    base = build_data(DataConfig(name="mnist"))
    d = build_data(DataConfig(name="stacked-mnist"))
    assert d.shape == (3, 28, 28) and d.num_classes == 1000
    x, y = d.sample_labeled(32, torch.Generator().manual_seed(5))
    idx = torch.randint(base.size, (32, 3), generator=torch.Generator().manual_seed(5))
    for i in range(32):
        for ch in range(3):
            assert torch.equal(x[i, ch], to_float(base.images[idx[i, ch], 0]))
        digits = [int(base.labels[idx[i, ch]]) for ch in range(3)]
        assert int(y[i]) == 100 * digits[0] + 10 * digits[1] + digits[2]
    big = build_data(DataConfig(name="stacked-mnist", size=32))
    assert big.shape == (3, 32, 32) and type(big) is type(d)


def test_digits_from_scikit_learn():
    d = build_data(DataConfig(name="digits"))
    assert d.shape == (1, 8, 8) and d.size == 1797 and d.num_classes == 10
    assert int(d.images.max()) == 255 and int(d.images.min()) == 0


FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not FASHION.is_dir() and not __import__("os").environ.get("CI"),
                    reason="Debian package dataset-fashion-mnist not installed (make test installs it)")
def test_fashion_mnist_full_set():
    d = build_data(DataConfig(name="fashion-mnist"))
    assert d.shape == (1, 28, 28) and d.size == 70000
    assert torch.bincount(d.labels).tolist() == [7000] * 10
