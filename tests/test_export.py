"""export.py: ONNX export (dynamic batch, metadata) and the onnxruntime backend, against PyTorch."""

import json

import numpy as np
import pytest
import torch

import ganforge
from ganforge.cli import main
from ganforge.config import GConfig
from ganforge.errors import CheckpointError, ConfigError, ExportError
from ganforge.export import OnnxGenerator, export_onnx
from ganforge.generation import LoadedGenerator
from ganforge.nets import build_g
from ganforge.nets.cond import ConditionalBatchNorm
from ganforge.nets.contract import Generator, NetSpec

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def _trained_looking(g: Generator) -> Generator:
    """Random batch-norm statistics and class embeddings, so eval-mode BN and the classes matter."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_(0, 0.5, generator=gen)
                m.running_var.uniform_(0.5, 2.0, generator=gen)
            if isinstance(m, ConditionalBatchNorm):
                m.embed.weight.normal_(1, 0.3, generator=gen)
    return g


NETS = {
    "mlp": lambda: build_g(GConfig(width=16, depth=2, noise_dim=3, batch_norm=True), (2,)),
    "dcgan": lambda: build_g(GConfig(arch="dcgan", width=8, batch_norm=True, noise_dim=4), (1, 8, 8)),
    "dcgan-cond": lambda: build_g(GConfig(arch="dcgan", width=8, batch_norm=True, noise_dim=4), (3, 8, 8), 5),
    "resnet-cond": lambda: build_g(GConfig(arch="resnet", width=8, noise_dim=8), (3, 32, 32), 10),
}


@pytest.mark.parametrize("name", list(NETS))
def test_onnx_matches_pytorch_at_another_batch_size(name, tmp_path):
    torch.manual_seed(0)
    noise = "uniform" if name == "mlp" else "normal"
    lab = LoadedGenerator(_trained_looking(NETS[name]()), noise, torch.device("cpu"), step=5, source="ck")
    path = export_onnx(lab.net, tmp_path / f"{name}.onnx", noise, lab.provenance(what="export"))
    og = ganforge.load(path)  # exported at batch 2, run at 5 and 1
    assert isinstance(og, OnnxGenerator)
    for n in (5, 1):
        got, want = og.sample(n, seed=3), lab.sample(n, seed=3).numpy()
        assert got.shape == (n, *lab.data_shape) and got.dtype == np.float32
        assert float(np.abs(got - want).max()) <= 1e-4
    z = lab.noise(5, seed=1)
    y = [0, 1, 2, 3, 4] if lab.num_classes else None
    assert float(np.abs(og(z.numpy(), y, truncation=0.5) - lab(z, y, truncation=0.5).numpy()).max()) <= 1e-4
    meta = og.metadata
    assert json.loads(meta["data_shape"]) == list(lab.data_shape) and meta["z_dim"] == str(lab.z_dim)
    assert meta["num_classes"] == str(lab.num_classes) and meta["noise"] == noise
    assert meta["value_range"] == ("[-1, 1]" if len(lab.data_shape) == 3 else "data units")
    assert meta["synthetic"] == "true" and meta["generator"] == lab.fingerprint and meta["step"] == "5"
    assert meta["ganforge_version"] == ganforge.__version__


class _Unexportable(Generator):
    """Data-dependent Python control flow: torch.export cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.spec = NetSpec((2,), z_dim=2)
        self.lin = torch.nn.Linear(2, 2)

    def forward(self, z, c=None):
        return self.lin(z) if float(z.sum()) > 0 else -self.lin(z)


def test_unexportable_nets_and_bad_files_are_one_line(tmp_path):
    prov = LoadedGenerator(_Unexportable(), "normal", torch.device("cpu")).provenance()
    with pytest.raises(ExportError, match="cannot export this generator to ONNX: ") as e:
        export_onnx(_Unexportable(), tmp_path / "u.onnx", "normal", prov)
    assert "\n" not in str(e.value) and not (tmp_path / "u.onnx").exists()
    with pytest.raises(CheckpointError, match="ONNX model not found"):
        ganforge.load(tmp_path / "missing.onnx")
    with pytest.raises(ConfigError, match="backend='onnx' needs a .onnx file"):
        ganforge.load(tmp_path, backend="onnx")
    with pytest.raises(ConfigError, match="unknown backend"):
        ganforge.load(tmp_path, backend="tflite")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ExportError, match="not a readable ONNX model"):
        ganforge.load(tmp_path / "junk.onnx")


def test_export_cli_on_a_run(image_run, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", str(image_run), "--format", "onnx", "-o", str(out)]) == 0
    line = capsys.readouterr().out
    assert line.startswith(f"wrote {out} (onnxruntime vs PyTorch on 5 samples: max |diff|")
    og = ganforge.load(out)
    assert (og.num_classes, og.data_shape, og.z_dim) == (10, (1, 8, 8), 32)
    assert main(["inspect", str(out)]) == 0 and "value_range" in capsys.readouterr().out
    assert main(["export", str(image_run), "--format", "tflite", "-o", str(out)]) == 2
    assert "unknown export format 'tflite'" in capsys.readouterr().err
