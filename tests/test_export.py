"""export.py: ONNX export (dynamic batch, metadata) and the onnxruntime backend, against PyTorch."""

import json

import numpy as np
import pytest
import torch

import ganforge
from ganforge.cli import main
from ganforge.config import GConfig
from ganforge.errors import CheckpointError, ConfigError, DataError, ExportError
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
    assert og.class_names == tuple(str(k) for k in range(10))  # digits: the run recorded its names
    assert main(["inspect", str(out)]) == 0 and "value_range" in capsys.readouterr().out
    assert main(["export", str(image_run), "--format", "tflite", "-o", str(out)]) == 2
    assert "unknown export format 'tflite'" in capsys.readouterr().err


def _translator(arch: str, shape, cond_shape) -> Generator:
    """An untrained image-to-image G with random batch-norm statistics and no zero-initialised layer
    (RRDB's last conv starts at zero: G would be plain bicubic upsampling)."""
    g = _trained_looking(build_g(GConfig(arch=arch, width=4, depth=1, batch_norm=True), shape, 0, cond_shape))
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in g.parameters():
            if not p.abs().sum():
                p.normal_(0, 0.1, generator=gen)
    return g.eval()


TRANSLATORS = {  # task: (arch, output shape, input shape)
    "paired": ("unet", (1, 16, 16), (1, 16, 16)),
    "superres": ("rrdb", (3, 16, 16), (3, 8, 8)),
    "inpaint": ("gated", (1, 16, 16), (2, 16, 16)),
}


@pytest.mark.parametrize("task", list(TRANSLATORS))
def test_translation_nets_match_pytorch(task, tmp_path):
    """onnxruntime vs PyTorch on inputs of another batch size than the export's (and, for the fully
    convolutional superres net, of another height and width); the metadata says how to call it."""
    from ganforge.export import check_onnx, translation_inputs
    from ganforge.generation import inpaint, translate

    arch, shape, cond_shape = TRANSLATORS[task]
    lab = LoadedGenerator(_translator(arch, shape, cond_shape), "normal", torch.device("cpu"), step=3)
    path = export_onnx(lab.net, tmp_path / f"{task}.onnx", "normal", lab.provenance(what="export"), task)
    og = ganforge.load(path)
    images, masks = translation_inputs(lab.net.spec, task, 3, seed=2)
    want = translate(lab.net, images) if masks is None else inpaint(lab.net, images, masks)
    assert float(np.abs(og.forward_images(images, masks) - want.numpy()).max()) <= 1e-4
    assert check_onnx(path, lab) <= 1e-4
    meta = og.metadata
    inputs = "image,mask" if masks is not None else "image"
    assert (og.task, meta["inputs"], meta["z_dim"]) == (task, inputs, "0")
    scale = shape[1] // cond_shape[1]
    assert json.loads(meta["cond_shape"]) == list(cond_shape) and meta["scale"] == str(scale)
    assert meta["any_size"] == ("true" if task == "superres" else "false")
    if task == "superres":
        odd = torch.rand(1, 3, 5, 7, generator=torch.Generator().manual_seed(3)) * 2 - 1
        assert og.forward_images(odd).shape == (1, 3, 5 * scale, 7 * scale)
        assert float(np.abs(og.forward_images(odd) - lab.net(None, odd).numpy()).max()) <= 1e-4
    with pytest.raises(ExportError, match="give its task"):
        export_onnx(lab.net, tmp_path / "x.onnx", "normal", lab.provenance())


def test_onnx_translate_image_refuses_bad_inputs_in_one_line(tmp_path):
    from ganforge.errors import DataError

    arch, shape, cond_shape = TRANSLATORS["inpaint"]
    lab = LoadedGenerator(_translator(arch, shape, cond_shape), "normal", torch.device("cpu"))
    og = ganforge.load(export_onnx(lab.net, tmp_path / "i.onnx", "normal", lab.provenance(), "inpaint"))
    image, mask = torch.zeros(1, 16, 16), torch.ones(1, 16, 16)
    assert og.translate_image(image, mask).shape == (1, 16, 16)
    bad_inputs = (((image, None), "needs a mask"), ((torch.zeros(1, 8, 8), mask), r"shape \(1, 16, 16\)"),
                  ((image, torch.ones(1, 8, 8)), "the mask must have shape"))
    for bad, match in bad_inputs:
        with pytest.raises(DataError, match=match) as e:
            og.translate_image(*bad)
        assert "\n" not in str(e.value)


def test_style_exports_say_truncation_is_in_w_and_onnx_refuses_it(style_run, image_run):
    """A style G's graph maps z alone: the metadata says its truncation is in w, and the onnxruntime
    backend refuses a truncation rather than truncating z (checked without a 10 s export)."""
    from ganforge.export import export_metadata

    g = ganforge.load(style_run, device="cpu")
    meta = export_metadata(g.net, g.noise_kind, g.provenance())
    assert meta["truncation_space"] == "w" and meta["truncation"] == "1.0"  # the provenance field stays
    lab = ganforge.load(image_run, device="cpu")
    assert "truncation_space" not in export_metadata(lab.net, lab.noise_kind, lab.provenance())
    og = object.__new__(OnnxGenerator)  # the refusal reads the metadata only
    og.metadata, og.spec, og.noise_kind = meta, g.net.spec, g.noise_kind
    assert og.truncates_in_w
    z = np.zeros((2, 16), np.float32)
    for call in (lambda: og.sample(2, truncation=0.5), lambda: og(z, truncation=0.7)):
        with pytest.raises(DataError, match="style-based model .* truncation pulls w"):
            call()
