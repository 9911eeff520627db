"""/v1/translate for every image-to-image task: superres at any size (tiled, output bounded), inpaint
with its required mask; one-line 4xx errors; the onnx backend gives what PyTorch gives."""

import io

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from ganforge import config
from ganforge.generation import inpaint, load, translate_tiled
from ganforge.runs import train
from ganforge.serve.app import create_app
from ganforge.serve.limits import Limits
from ganforge.serve.model import load_served

TINY = ["train.steps=1", "g.width=4", "g.depth=1", "d.width=4", "train.batch_size=2", "train.plot_every=0"]


@pytest.fixture(scope="module")
def sr_run(tmp_path_factory):
    """x4 super-resolution of 32 px photos (8 px inputs), one step."""
    out = tmp_path_factory.mktemp("sr") / "run"
    train(config.load("configs/sr-x4.yaml", [*TINY, "data.size=32", "task.pretrain_steps=0"]), out,
          progress=False, plots=False)
    return out


@pytest.fixture(scope="module")
def inpaint_run(tmp_path_factory):
    """Gated-convolution inpainting of 16 px Fashion-MNIST, one step."""
    out = tmp_path_factory.mktemp("inpaint") / "run"
    train(config.load("configs/inpaint-fashion.yaml", [*TINY, "data.size=16"]), out, progress=False,
          plots=False)
    return out


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _random(h: int, w: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    shape = (h, w, channels) if channels > 1 else (h, w)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _as_input(arr: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(arr.astype(np.float32) / 127.5 - 1)
    return t[None] if t.dim() == 2 else t.permute(2, 0, 1)


def _uint8(x: torch.Tensor) -> np.ndarray:
    y = ((x.clamp(-1, 1) + 1) * 127.5).numpy()
    return y[0] if y.shape[0] == 1 else y.transpose(1, 2, 0)


def _got(r) -> np.ndarray:
    assert r.status_code == 200, r.text
    return np.asarray(Image.open(io.BytesIO(r.content)), dtype=np.float64)


def _one_line_error(r, status: int, field: str) -> str:
    body = r.json()
    assert r.status_code == status and body["field"] == field, body
    assert "\n" not in body["error"] and "Traceback" not in body["error"]
    return body["error"]


def test_superres_serves_any_size_in_tiles(sr_run):
    model = load_served(sr_run, device="cpu")
    g = load(sr_run, device="cpu")
    upload = _random(12, 20)  # not the training size (8x8), not square
    with TestClient(create_app(model, Limits(max_output_pixels=64 * 64))) as c:
        info = c.get("/v1/model").json()
        assert (info["task"], info["scale"], info["any_size"], info["mask"]) == ("superres", 4, True, False)
        assert info["input_shape"] == [3, None, None] and info["trained_on"]["input_shape"] == [3, 8, 8]
        r = c.post("/v1/translate", files={"image": ("a.png", _png(upload), "image/png")})
        got = _got(r)
        assert got.shape == (48, 80, 3) and r.headers["x-ganforge-synthetic"] == "true"
        want = _uint8(translate_tiled(g.net, _as_input(upload), 128, 32, 4))
        assert np.abs(got - want).max() <= 1.0
        big = _random(20, 20)  # 80x80 out > 64x64 pixels: refused before decoding
        err = _one_line_error(c.post("/v1/translate", files={"image": ("b.png", _png(big), "image/png")}),
                              413, "image")
        assert "80x80 output" in err
        r = c.post("/v1/translate", files={"image": ("a.png", _png(upload), "image/png"),
                                           "mask": ("m.png", _png(_random(12, 20, 1)), "image/png")})
        assert "no mask" in _one_line_error(r, 422, "mask")


def test_inpaint_needs_a_mask_of_the_image_size(inpaint_run):
    model = load_served(inpaint_run, device="cpu")
    g = load(inpaint_run, device="cpu")
    image = _random(16, 16, 1)
    hole = np.zeros((16, 16), np.uint8)
    hole[4:10, 3:12] = 255  # white = the hole
    files = {"image": ("a.png", _png(image), "image/png"), "mask": ("m.png", _png(hole), "image/png")}
    with TestClient(create_app(model, Limits())) as c:
        info = c.get("/v1/model").json()
        assert (info["task"], info["mask"], info["input_shape"], info["scale"]) == ("inpaint", True,
                                                                                   [1, 16, 16], 1)
        got = _got(c.post("/v1/translate", files=files))
        x, m = _as_input(image)[None], torch.from_numpy(hole[None, None] > 0).float()
        want = _uint8(inpaint(g.net, x, m)[0])
        assert got.shape == (16, 16) and np.abs(got - want).max() <= 1.0
        assert np.array_equal(got[hole == 0], image[hole == 0])  # the valid pixels come back as sent
        missing = c.post("/v1/translate", files={"image": files["image"]})
        assert "needs a mask" in _one_line_error(missing, 422, "mask")
        small = {**files, "mask": ("m.png", _png(hole[:8, :8]), "image/png")}
        assert "must match" in _one_line_error(c.post("/v1/translate", files=small), 422, "mask")
        corrupt = {**files, "image": ("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "image/png")}
        _one_line_error(c.post("/v1/translate", files=corrupt), 400, "image")
        corrupt = {**files, "mask": ("m.png", b"GIF89a" + b"\1" * 30, "image/png")}
        _one_line_error(c.post("/v1/translate", files=corrupt), 400, "mask")
        other = {"image": ("a.png", _png(_random(8, 8, 1)), "image/png"),
                 "mask": ("m.png", _png(hole[:8, :8]), "image/png")}
        assert "16x16" in _one_line_error(c.post("/v1/translate", files=other), 422, "image")


@pytest.mark.parametrize("which", ["sr", "inpaint"])
def test_the_onnx_backend_translates_as_pytorch_does(which, sr_run, inpaint_run):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    run = sr_run if which == "sr" else inpaint_run
    files = ({"image": ("a.png", _png(_random(10, 14)), "image/png")} if which == "sr" else
             {"image": ("a.png", _png(_random(16, 16, 1)), "image/png"),
              "mask": ("m.png", _png(_random(16, 16, 1, seed=1)), "image/png")})
    outs = []
    for backend in ("torch", "onnx"):
        model = load_served(run, backend=backend)
        assert model.can_translate and model.info["backend"] == backend
        with TestClient(create_app(model, Limits())) as c:
            outs.append(_got(c.post("/v1/translate", files=files)))
    assert outs[0].shape == outs[1].shape and np.abs(outs[0] - outs[1]).max() <= 1.0


def test_an_exported_superres_file_is_served_as_its_run(sr_run, tmp_path, capsys):
    """`ganforge export` of a translation run, then `serve x.onnx --backend onnx`: the file alone says
    the task, the scale and that any size goes."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from ganforge.cli import main

    out = tmp_path / "sr.onnx"
    assert main(["export", str(sr_run), "-o", str(out)]) == 0
    assert "on 5 input images: max |diff|" in capsys.readouterr().out
    model = load_served(out, backend="onnx")
    assert (model.task, model.scale, model.info["any_size"], model.info["input_shape"]) == (
        "superres", 4, True, [3, None, None])
    with TestClient(create_app(model, Limits())) as c:
        got = _got(c.post("/v1/translate", files={"image": ("a.png", _png(_random(6, 9)), "image/png")}))
    assert got.shape == (24, 36, 3)
