"""Opt-in download of the public MNIST / Fashion-MNIST files, verified by their published MD5s.

Nothing in ganforge downloads by itself: this runs only when a user asks
(`ganforge download mnist --to DIR`), and a file whose checksum differs is never kept.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ..errors import DataError

# The checksums published with the data sets (the files as distributed, gzipped).
SOURCES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "mnist": (
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "fashion-mnist": (
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
}


def md5(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(name: str, dest: str | Path, base_url: str | None = None,
             report: Callable[[str], None] = print, timeout: float = 60.0) -> Path:
    """Fetch the four IDX files of `name` into `dest` (skipping verified ones); returns `dest`."""
    if name not in SOURCES:
        raise DataError(f"no download for {name!r} (known: {', '.join(SOURCES)})")
    mirrors, files = SOURCES[name]
    if base_url:
        mirrors = (base_url if base_url.endswith("/") else base_url + "/",)
    out = Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    for fname, want in files.items():
        target = out / fname
        if target.is_file() and md5(target) == want:
            report(f"{fname}: present, checksum ok")
            continue
        errors = []
        for mirror in mirrors:
            fd, tmp = tempfile.mkstemp(prefix=".dl-", dir=out)
            os.close(fd)
            try:
                with urllib.request.urlopen(mirror + fname, timeout=timeout) as r, \
                        open(tmp, "wb") as f:
                    while block := r.read(1 << 20):
                        f.write(block)
                got = md5(Path(tmp))
                if got != want:
                    errors.append(f"{mirror}: checksum {got} != published {want}")
                    continue
                os.replace(tmp, target)
                report(f"{fname}: downloaded from {mirror}, checksum ok")
                break
            except (urllib.error.URLError, OSError, ValueError) as e:
                errors.append(f"{mirror}: {getattr(e, 'reason', e)}")
            finally:
                Path(tmp).unlink(missing_ok=True)
        else:
            raise DataError(f"could not get {fname}: " + "; ".join(errors))
    return out
