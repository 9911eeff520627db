"""Two image domains A and B: aligned pairs (pix2pix) or two independent sets (CycleGAN).

Like `ImageData`, images stay uint8 (N x C x H x W) in memory and come out in [-1, 1] when a batch is
drawn. A paired batch is ONE index draw used for both sides, so a[i] and b[i] stay a pair; an unpaired
batch is two draws. Held-out data rides along as `.test` (CycleGAN's testA/testB, the glyphs' test
characters, pix2pix's test/ folder) or is made by `split()`.

Layouts read here, the ones users already have:
  side-by-side   every image is A|B, split at the horizontal middle (pix2pix's facades, edges2shoes);
  A/ + B/        two folders whose files match by name (stem, extension free);
  cycleGAN       trainA/ trainB/ (+ testA/ testB/), any counts, no matching.
Either paired layout may hold train/ and test/ (or val/) sub-folders: they become the split.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, DataError
from ..registry import Registry
from .draws import Draws, random_draws
from .images import (
    BAD_IMAGE_ERRORS,
    _fit_image,
    _guess_channels,
    _open_image,
    fit_tensor,
    image_files,
    load_image_folder,
    to_float,
)

PAIRED_SETS: Registry = Registry("paired data set")
UNPAIRED_SETS: Registry = Registry("unpaired data set")
SPLIT_DIRS = ("train", "test", "val")


def _check_images(what: str, x: torch.Tensor) -> None:
    if x.dtype != torch.uint8 or x.dim() != 4:
        raise DataError(f"{what}: expected uint8 images N x C x H x W, got {x.dtype} {tuple(x.shape)}")


class _TwoDomains:
    """What paired and unpaired sets share: images of domain A and of domain B, uint8 N x C x H x W."""

    a: torch.Tensor
    b: torch.Tensor

    @property
    def shape_a(self) -> tuple[int, ...]:
        return tuple(self.a.shape[1:])

    @property
    def shape_b(self) -> tuple[int, ...]:
        return tuple(self.b.shape[1:])


@dataclass
class PairedData(_TwoDomains):
    """Aligned images: b[i] is what a[i] should become. Labels (if any) belong to the pair."""

    name: str
    description: str
    a: torch.Tensor
    b: torch.Tensor
    labels: torch.Tensor | None = None
    classes: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    test: PairedData | None = None  # held-out pairs; None until a layout or split() gives some
    skipped: int = 0  # unreadable files (or pairs) left out
    kind: str = "paired"

    def __post_init__(self) -> None:
        _check_images(f"{self.name} A", self.a)
        _check_images(f"{self.name} B", self.b)
        if len(self.a) != len(self.b):
            raise DataError(f"{self.name}: {len(self.a)} A images for {len(self.b)} B images")
        if self.labels is not None and len(self.labels) != len(self.a):
            raise DataError(f"{self.name}: {len(self.labels)} labels for {len(self.a)} pairs")
        if self.names and len(self.names) != len(self.a):
            raise DataError(f"{self.name}: {len(self.names)} names for {len(self.a)} pairs")

    @property
    def size(self) -> int:
        return len(self.a)

    @property
    def num_classes(self) -> int:
        if self.classes:
            return len(self.classes)
        return int(self.labels.max()) + 1 if self.labels is not None and len(self.labels) else 0

    def sample(self, n: int, generator: torch.Generator,
               draws: Draws = random_draws) -> tuple[torch.Tensor, torch.Tensor]:
        """n pairs in [-1, 1]; one index draw serves both sides, so they stay aligned."""
        idx = draws(len(self.a), n, generator)
        return to_float(self.a[idx]), to_float(self.b[idx])

    def sample_labeled(self, n: int, generator: torch.Generator,
                       draws: Draws = random_draws) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.labels is None:
            raise DataError(f"{self.name} has no labels")
        idx = draws(len(self.a), n, generator)
        return to_float(self.a[idx]), to_float(self.b[idx]), self.labels[idx]

    def take(self, idx: torch.Tensor | list[int]) -> PairedData:
        """The pairs at `idx` (no test part): what split() and unpaired() are made of."""
        idx = torch.as_tensor(idx, dtype=torch.int64)
        return dataclasses.replace(
            self, a=self.a[idx], b=self.b[idx], test=None,
            labels=None if self.labels is None else self.labels[idx],
            names=[self.names[i] for i in idx.tolist()] if self.names else [],
            description=f"{len(idx)} of {self.description}")

    def split(self, every: int = 5) -> PairedData:
        """Hold out every `every`-th pair (deterministic) as `.test`; a set that already has a test part
        (a test/ folder, the glyphs' test characters) is returned as it is."""
        if self.test is not None:
            return self
        if every < 2 or self.size < every:
            raise DataError(f"{self.name}: cannot hold out every {every}th of {self.size} pairs")
        i = torch.arange(self.size)
        held = i % every == every - 1
        train = self.take(i[~held])
        return dataclasses.replace(train, description=self.description + f", every {every}th pair held out",
                                   test=self.take(i[held]))

    def fit(self, size: int = 0, channels: int = 0) -> PairedData:
        """Both sides (and the test part) to `channels` (1 <-> 3) and `size` (antialiased resize)."""
        a, b = fit_tensor(self.a, size, channels), fit_tensor(self.b, size, channels)
        if a is self.a and b is self.b:
            return self
        return dataclasses.replace(self, a=a, b=b, description=f"{self.description}, as {tuple(a.shape[1:])}",
                                   test=None if self.test is None else self.test.fit(size, channels))

    def reversed(self) -> PairedData:
        """B -> A (pix2pix's --direction BtoA), test part included."""
        return dataclasses.replace(self, a=self.b, b=self.a, description=self.description + ", B -> A",
                                   test=None if self.test is None else self.test.reversed())

    def unpaired(self) -> UnpairedData:
        """The unpaired view: A from the even-numbered pairs, B from the odd ones (disjoint halves, so no
        image has its partner on the other side), with each side's true counterpart kept for scoring.
        The test part stays whole: every test A has its B, which is what scoring needs."""
        i = torch.arange(self.size)
        ia, ib = i[i % 2 == 0], i[i % 2 == 1]
        lab = self.labels
        test = None
        if self.test is not None:
            t = self.test
            test = UnpairedData(t.name, t.description, t.a, t.b, a_truth=t.b, b_truth=t.a,
                                labels_a=t.labels, labels_b=t.labels, classes=t.classes,
                                names_a=t.names, names_b=t.names)
        return UnpairedData(
            self.name, self.description + ", unpaired (A: even pairs, B: odd pairs)",
            self.a[ia], self.b[ib], a_truth=self.b[ia], b_truth=self.a[ib],
            labels_a=None if lab is None else lab[ia], labels_b=None if lab is None else lab[ib],
            classes=self.classes, names_a=[self.names[k] for k in ia.tolist()] if self.names else [],
            names_b=[self.names[k] for k in ib.tolist()] if self.names else [], test=test,
            skipped=self.skipped)


@dataclass
class UnpairedData(_TwoDomains):
    """Two domains drawn independently. When the truth is known (glyphs, or a paired set viewed as
    unpaired), `a_truth[i]` is a[i] as it looks in B and `b_truth[j]` is b[j] as it looks in A."""

    name: str
    description: str
    a: torch.Tensor
    b: torch.Tensor
    a_truth: torch.Tensor | None = None
    b_truth: torch.Tensor | None = None
    labels_a: torch.Tensor | None = None
    labels_b: torch.Tensor | None = None
    classes: list[str] = field(default_factory=list)
    names_a: list[str] = field(default_factory=list)
    names_b: list[str] = field(default_factory=list)
    test: UnpairedData | None = None
    skipped: int = 0
    kind: str = "unpaired"

    def __post_init__(self) -> None:
        for what, x in (("A", self.a), ("B", self.b)):
            _check_images(f"{self.name} {what}", x)
        for what, truth, side in (("A", self.a_truth, self.a), ("B", self.b_truth, self.b)):
            if truth is not None and len(truth) != len(side):
                raise DataError(f"{self.name}: {len(truth)} ground-truth images for {len(side)} "
                                f"{what} images")

    @property
    def size_a(self) -> int:
        return len(self.a)

    @property
    def size_b(self) -> int:
        return len(self.b)

    @property
    def size(self) -> int:
        """The larger side: what one 'epoch' of an unpaired run means (CycleGAN's convention)."""
        return max(len(self.a), len(self.b))

    @property
    def has_truth(self) -> bool:
        return self.a_truth is not None

    def sample(self, n: int, generator: torch.Generator, draws: Draws = random_draws,
               draws_b: Draws = random_draws) -> tuple[torch.Tensor, torch.Tensor]:
        """n images from A and n from B in [-1, 1], two independent draws (A's first): not pairs."""
        ia = draws(len(self.a), n, generator)
        ib = draws_b(len(self.b), n, generator)
        return to_float(self.a[ia]), to_float(self.b[ib])

    def truth(self, side: str = "a") -> PairedData:
        """Each A image with its true B counterpart (side="b": each B with its A) as a PairedData, for
        scoring a translation; a DataError when this set has no ground truth."""
        if side not in ("a", "b"):
            raise ValueError(f"side must be 'a' or 'b', not {side!r}")
        x, y = (self.a, self.a_truth) if side == "a" else (self.b, self.b_truth)
        if y is None:
            raise DataError(f"{self.name} has no ground truth for its unpaired images")
        labels = self.labels_a if side == "a" else self.labels_b
        names = self.names_a if side == "a" else self.names_b
        return PairedData(self.name, f"{self.description}, {side.upper()} with its ground truth", x, y,
                          labels=labels, classes=self.classes, names=names)

    def reversed(self) -> UnpairedData:
        """B <-> A, test part included."""
        return dataclasses.replace(
            self, a=self.b, b=self.a, a_truth=self.b_truth, b_truth=self.a_truth, labels_a=self.labels_b,
            labels_b=self.labels_a, names_a=self.names_b, names_b=self.names_a,
            description=self.description + ", B -> A",
            test=None if self.test is None else self.test.reversed())


# --- folders --------------------------------------------------------------------------------------


def _stack(arrays: list[np.ndarray], where: Path, what: str) -> torch.Tensor:
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise DataError(f"{what} images in {where} have different sizes {sorted(shapes)[:3]}...; "
                        "set data.size to resize and centre-crop them")
    return torch.from_numpy(np.stack(arrays))


def _too_many_bad(bad: int, total: int, where: Path, max_bad_share: float) -> None:
    if bad > max_bad_share * total or bad == total:
        raise DataError(f"{bad} of {total} images in {where} could not be read "
                        f"(more than data.max_bad_share={max_bad_share:g})")


def _split_parts(names: list[str]) -> tuple[list[int], list[int]] | None:
    """Indices of train/ and test/ (else val/) names when every name sits in one of those folders."""
    tops = [n.split("/", 1)[0] if "/" in n else "" for n in names]
    if not names or any(t not in SPLIT_DIRS for t in tops) or "train" not in tops:
        return None
    held = "test" if "test" in tops else "val" if "val" in tops else None
    train = [i for i, t in enumerate(tops) if t == "train"]
    test = [i for i, t in enumerate(tops) if t == held] if held else []
    return train, test


def _with_split_folders(data: PairedData) -> PairedData:
    parts = _split_parts(data.names)
    if parts is None:
        return data
    train, test = parts
    out = dataclasses.replace(data.take(train), description=data.description + ", train/ part")
    if test:
        out.test = data.take(test)
    return out


def load_side_by_side(folder: str | Path, size: int = 0, channels: int = 0,
                      max_bad_share: float = 0.1) -> PairedData:
    """Images that hold A|B side by side (pix2pix): each is cut at its horizontal middle, then each half
    is resized and centre-cropped to `size`. An odd width is an error (the middle is ambiguous)."""
    from PIL import UnidentifiedImageError

    d = Path(folder)
    if not d.is_dir():
        raise DataError(f"pairs folder not found: {d}")
    files = image_files(d)
    if not files:
        raise DataError(f"no images found in {d}")
    channels = channels or _guess_channels(files)
    a, b, names, bad = [], [], [], 0
    for p in files:
        try:
            im = _open_image(p, channels)
        except (UnidentifiedImageError, *BAD_IMAGE_ERRORS):
            bad += 1
            continue
        w, h = im.size
        if w % 2:
            raise DataError(f"{p}: width {w} is odd; a side-by-side A|B image needs an even width")
        a.append(_fit_image(im.crop((0, 0, w // 2, h)), size))
        b.append(_fit_image(im.crop((w // 2, 0, w, h)), size))
        names.append(p.relative_to(d).with_suffix("").as_posix())
    _too_many_bad(bad, len(files), d, max_bad_share)
    x, y = _stack(a, d, "A"), _stack(b, d, "B")
    data = PairedData("pairs-folder", f"{len(x)} side-by-side pairs A {tuple(x.shape[1:])} -> "
                      f"B {tuple(y.shape[1:])} from {d}", x, y, names=names, skipped=bad)
    return _with_split_folders(data)


def _by_stem(root: Path, side: str) -> dict[str, Path]:
    files = image_files(root)
    out: dict[str, Path] = {}
    for p in files:
        key = p.relative_to(root).with_suffix("").as_posix()
        if key in out:
            raise DataError(f"{side}/ in {root.parent} has two images named {key!r} "
                            f"({out[key].name}, {p.name})")
        out[key] = p
    return out


def _names(keys: list[str], n: int = 3) -> str:
    return ", ".join(keys[:n]) + (", ..." if len(keys) > n else "")


def load_ab_folders(folder: str | Path, size: int = 0, channels: int = 0,
                    max_bad_share: float = 0.1) -> PairedData:
    """`A/` and `B/` whose files match by name without extension (A/x.png <-> B/x.jpg); a name on one
    side only is an error listing how many and the first few. A pair with an unreadable side is
    skipped and counted."""
    from PIL import UnidentifiedImageError

    d = Path(folder)
    da, db = d / "A", d / "B"
    if not da.is_dir() or not db.is_dir():
        raise DataError(f"{d} needs both A/ and B/ folders")
    fa, fb = _by_stem(da, "A"), _by_stem(db, "B")
    only_a, only_b = sorted(set(fa) - set(fb)), sorted(set(fb) - set(fa))
    if only_a or only_b:
        raise DataError(f"A/ and B/ in {d} do not match: {len(only_a)} name(s) only in A/ "
                        f"({_names(only_a)}), {len(only_b)} only in B/ ({_names(only_b)})")
    if not fa:
        raise DataError(f"no images found in {da} and {db}")
    keys = sorted(fa)
    ca = channels or _guess_channels([fa[k] for k in keys])
    cb = channels or _guess_channels([fb[k] for k in keys])
    a, b, names, bad = [], [], [], 0
    for k in keys:
        try:
            pa = _fit_image(_open_image(fa[k], ca), size)
            pb = _fit_image(_open_image(fb[k], cb), size)
        except (UnidentifiedImageError, *BAD_IMAGE_ERRORS):
            bad += 1
            continue
        a.append(pa)
        b.append(pb)
        names.append(k)
    _too_many_bad(bad, len(keys), d, max_bad_share)
    x, y = _stack(a, da, "A"), _stack(b, db, "B")
    data = PairedData("pairs-folder", f"{len(x)} pairs A {tuple(x.shape[1:])} -> B {tuple(y.shape[1:])} "
                      f"from {da} and {db}", x, y, names=names, skipped=bad)
    return _with_split_folders(data)


def load_pairs_folder(folder: str | Path, size: int = 0, channels: int = 0,
                      max_bad_share: float = 0.1) -> PairedData:
    """A/ + B/ folders when both exist, else side-by-side A|B images."""
    d = Path(folder)
    if (d / "A").is_dir() and (d / "B").is_dir():
        return load_ab_folders(d, size, channels, max_bad_share)
    return load_side_by_side(d, size, channels, max_bad_share)


def load_cyclegan_folder(folder: str | Path, size: int = 0, channels: int = 0,
                         max_bad_share: float = 0.1) -> UnpairedData:
    """CycleGAN's layout: trainA/ and trainB/, optional testA/ and testB/ (both or neither)."""
    d = Path(folder)
    missing = [s for s in ("trainA", "trainB") if not (d / s).is_dir()]
    if missing:
        raise DataError(f"{d} is not a CycleGAN folder: no {' or '.join(s + '/' for s in missing)}")
    tests = [(d / s).is_dir() for s in ("testA", "testB")]
    if any(tests) and not all(tests):
        raise DataError(f"{d} has {'testA' if tests[0] else 'testB'}/ without its partner folder")
    sides = {}
    for s in ("A", "B"):
        ch = channels or _guess_channels(image_files(d / f"train{s}"))
        train = load_image_folder(d / f"train{s}", size, ch, max_bad_share)
        test = load_image_folder(d / f"test{s}", size, ch, max_bad_share) if all(tests) else None
        if test is not None and test.shape != train.shape:
            raise DataError(f"test{s}/ images are {test.shape}, train{s}/ images {train.shape} in {d}; "
                            "set data.size to bring both to one size")
        sides[s] = (train, test)
    (ta, sa), (tb, sb) = sides["A"], sides["B"]
    test = None
    if sa is not None and sb is not None:
        test = UnpairedData("cyclegan-folder", f"{sa.size} testA, {sb.size} testB images from {d}",
                            sa.images, sb.images, names_a=sa.names, names_b=sb.names,
                            skipped=sa.skipped + sb.skipped)
    return UnpairedData("cyclegan-folder", f"{ta.size} A images {ta.shape}, {tb.size} B images {tb.shape} "
                        f"from {d}", ta.images, tb.images, names_a=ta.names, names_b=tb.names, test=test,
                        skipped=ta.skipped + tb.skipped)


# --- registered sets ------------------------------------------------------------------------------


@PAIRED_SETS.register("pairs-folder")
def pairs_folder(path: str | None = None, size: int = 0, channels: int = 0, max_bad_share: float = 0.1,
                 **_: object) -> PairedData:
    """pix2pix data (data.path): A/ + B/ folders matched by name, or side-by-side A|B images."""
    if not path:
        raise DataError("data.name=pairs-folder needs data.path=FOLDER (A/ + B/, or A|B images)")
    return load_pairs_folder(path, size, channels, max_bad_share)


@UNPAIRED_SETS.register("cyclegan-folder")
def cyclegan_folder(path: str | None = None, size: int = 0, channels: int = 0, max_bad_share: float = 0.1,
                    **_: object) -> UnpairedData:
    """CycleGAN data (data.path): trainA/ trainB/ and optional testA/ testB/."""
    if not path:
        raise DataError("data.name=cyclegan-folder needs data.path=FOLDER with trainA/ and trainB/")
    return load_cyclegan_folder(path, size, channels, max_bad_share)


def load_paired(name: str, **options: object) -> PairedData:
    """A registered paired set by name (unknown names list the known ones)."""
    return PAIRED_SETS.get(name)(**options)


def load_unpaired(name: str, **options: object) -> UnpairedData:
    """A registered unpaired set, or a paired one seen unpaired (disjoint halves, truth kept)."""
    if name in UNPAIRED_SETS:
        return UNPAIRED_SETS.get(name)(**options)
    if name in PAIRED_SETS:
        return PAIRED_SETS.get(name)(**options).unpaired()
    known = ", ".join(sorted(UNPAIRED_SETS.names() + PAIRED_SETS.names()))
    raise ConfigError(f"unknown unpaired data set {name!r} (known: {known})")
