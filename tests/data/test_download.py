"""The opt-in downloader against a local file:// mirror: no network in tests."""

import gzip
import hashlib

import pytest

from ganforge.cli import main
from ganforge.data import download as dl
from ganforge.errors import DataError


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    src = tmp_path / "mirror"
    src.mkdir()
    files = {}
    for i, name in enumerate(dl.SOURCES["mnist"][1]):
        data = gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 2, i, i]))
        (src / name).write_bytes(data)
        files[name] = hashlib.md5(data).hexdigest()
    monkeypatch.setitem(dl.SOURCES, "mnist", (("unused",), files))
    return src


def test_download_verifies_and_skips_present_files(mirror, tmp_path):
    out = tmp_path / "out"
    said = []
    dl.download("mnist", out, base_url=mirror.as_uri(), report=said.append)
    assert sorted(p.name for p in out.iterdir()) == sorted(dl.SOURCES["mnist"][1])
    assert all("downloaded" in s for s in said)
    said.clear()
    dl.download("mnist", out, base_url=mirror.as_uri(), report=said.append)
    assert all("present, checksum ok" in s for s in said)


def test_a_bad_checksum_is_refused_and_nothing_is_kept(mirror, tmp_path):
    (mirror / "t10k-labels-idx1-ubyte.gz").write_bytes(b"tampered")
    out = tmp_path / "out"
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz.*checksum .* != published"):
        dl.download("mnist", out, base_url=mirror.as_uri(), report=lambda s: None)
    assert not (out / "t10k-labels-idx1-ubyte.gz").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".dl-")]


def test_cli_download_errors_are_one_line(tmp_path, capsys):
    assert main(["download", "cifar", "--to", str(tmp_path)]) == 2
    assert "no download for 'cifar'" in capsys.readouterr().err
    assert main(["download", "mnist", "--to", str(tmp_path),
                 "--url", (tmp_path / "nowhere").as_uri()]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ganforge: error: could not get")

