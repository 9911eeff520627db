"""serve/model.py: the onnxruntime backend serves the same samples as PyTorch."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

import ganforge
from ganforge.errors import ConfigError
from ganforge.serve.app import create_app
from ganforge.serve.model import load_served


def test_onnx_backend_from_a_run_matches_torch(image_run, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    m = load_served(image_run, backend="onnx")
    g = ganforge.load(image_run, device="cpu")
    assert m.backend == "onnx" and m.fingerprint == g.fingerprint and m.info["backend"] == "onnx"
    assert not list(tmp_path.iterdir())  # nothing left behind
    with TestClient(create_app(m)) as c:
        r = c.post("/v1/samples", json={"n": 6, "seed": 4, "labels": 3, "truncation": 0.5, "format": "npy"})
        assert r.status_code == 200 and r.headers["x-ganforge-generator"] == g.fingerprint
        import io

        got = np.load(io.BytesIO(r.content))
    assert float(np.abs(got - g.sample(6, 4, labels=3, truncation=0.5).numpy()).max()) < 1e-4


def test_backend_and_device_are_checked(image_run):
    with pytest.raises(ConfigError, match="unknown backend"):
        load_served(image_run, backend="tf")
    with pytest.raises(ConfigError, match="runs on the CPU"):
        load_served(image_run, backend="onnx", device="cuda")


def test_style_models_refuse_truncation_instead_of_truncating_z(style_run):
    """The server cannot truncate a style G in w (its batched forward maps z): a 422 naming the field,
    never z truncated silently; plain requests are served as LoadedGenerator.sample makes them."""
    import io

    from ganforge.errors import DataError

    m = load_served(style_run)
    assert m.truncates_in_w and "not served" in m.info["truncation"]
    with pytest.raises(DataError, match="style-based model"):
        m.inputs(2, 0, truncation=0.5)
    with TestClient(create_app(m)) as c:
        r = c.post("/v1/samples", json={"n": 2, "seed": 1, "truncation": 0.5, "format": "npy"})
        assert r.status_code == 422 and r.json()["field"] == "truncation"
        assert "pulls w toward the mean w" in r.json()["error"]
        r = c.post("/v1/samples", json={"n": 2, "seed": 1, "format": "npy"})
        assert r.status_code == 200
        got = np.load(io.BytesIO(r.content))
    want = ganforge.load(style_run, device="cpu").sample(2, 1).numpy()
    assert float(np.abs(got - want).max()) < 1e-5
