"""serve/app.py: the HTTP API against `g.sample` alone, every class of bad request, provenance,
concurrency through a real uvicorn server."""

import asyncio
import http.client
import io
import json
import shutil
import threading

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

import ganforge
from ganforge.serve.app import BackgroundServer, create_app
from ganforge.serve.batcher import Busy, MicroBatcher
from ganforge.serve.limits import Limits
from ganforge.serve.model import load_served


@pytest.fixture(scope="module")
def image_model(image_run):
    return load_served(image_run, device="cpu")


@pytest.fixture(scope="module")
def client(image_model):
    with TestClient(create_app(image_model, Limits(max_n=64, max_batch=64, max_body_bytes=4096))) as c:
        yield c


@pytest.fixture(scope="module")
def points_run(tmp_path_factory, tiny_cfg_module):
    out = tmp_path_factory.mktemp("runs") / "grid"
    ganforge.train(tiny_cfg_module("train.steps=2", "train.ckpt_every=2"), out=out, plots=False)
    return out


@pytest.fixture(scope="module")
def tiny_cfg_module():
    from ganforge import config

    def make(*overrides):
        base = ["data.name=grid25", "g.width=16", "g.depth=2", "d.width=16", "d.depth=2",
                "train.batch_size=32", "train.log_every=1", "train.plot_every=0"]
        return config.load(None, base + list(overrides))

    return make


TOL = 1e-5  # batched vs alone: float32 rounding of a different summation order


def _npy(r) -> np.ndarray:
    assert r.status_code == 200, r.text
    return np.load(io.BytesIO(r.content))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """The same samples to float32 rounding: the server's forward pass runs on its worker thread,
    whose intra-op thread count (and so the order of a convolution's sums) may differ from the
    test's thread once another test has set torch's threads; another seed differs by ~0.1."""
    return a.shape == b.shape and bool(np.abs(a - b).max() <= 1e-5)


def _png(side: int, mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (side, side), 128).save(buf, format="PNG")
    return buf.getvalue()


def test_model_from_run_dir_with_scores_and_from_bare_checkpoint(image_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(image_run, run)
    (run / "eval.json").write_text(json.dumps({"metrics": {"fid": {
        "fid": 12.5, "n": 1000, "provenance": {"checkpoint_step": 2}}}}))
    with TestClient(create_app(load_served(run, device="cpu"))) as c:
        info = c.get("/v1/model").json()
    assert info["task"] == "generate" and info["architecture"] == "dcgan" and info["data"] == "digits"
    assert info["data_shape"] == [1, 8, 8] and info["num_classes"] == 10
    assert info["classes"] == list(range(10))
    assert info["class_names"] == [str(k) for k in range(10)]  # the data's names, kept in the checkpoint
    assert "input_shape" not in info and info["z_dim"] == 32
    assert info["step"] == 2 and info["scores"] == {"fid": {"fid": 12.5, "n": 1000, "step": 2}}
    bare = tmp_path / "bare.safetensors"
    shutil.copy(sorted((image_run / "checkpoints").glob("*.safetensors"))[-1], bare)
    m = load_served(bare, device="cpu")
    assert m.info["scores"] == {} and m.info["step"] == 2 and str(tmp_path) not in json.dumps(m.info)


def test_samples_are_g_sample_and_carry_provenance(client, image_run):
    g = ganforge.load(image_run, device="cpu")
    r = client.post("/v1/samples", json={"n": 5, "seed": 3, "labels": [0, 1, 2, 3, 9],
                                         "truncation": 0.7, "format": "npy"})
    assert _same(_npy(r), g.sample(5, 3, labels=[0, 1, 2, 3, 9], truncation=0.7).numpy())
    h = r.headers
    assert h["x-ganforge-synthetic"] == "true" and h["x-ganforge-generator"] == g.fingerprint
    assert h["x-ganforge-seed"] == "3" and h["x-ganforge-truncation"] == "0.7"
    assert h["x-ganforge-digital-source-type"].endswith("trainedAlgorithmicMedia")
    x = _npy(client.post("/v1/samples", json={"n": 4, "seed": 1, "format": "npy"}))
    assert _same(x, g.sample(4, 1).numpy())  # classes drawn from the seed, as g.sample draws them
    r = client.post("/v1/samples", json={"n": 1, "seed": 2, "labels": 4})
    assert r.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(r.content)) as im:
        assert im.size == (8, 8) and im.text["synthetic"] == "true" and im.text["seeds"] == "2"
        assert im.text["generator"] == g.fingerprint and im.text["labels"] == "4"
    with Image.open(io.BytesIO(client.post("/v1/samples", json={"n": 9}).content)) as im:
        assert im.size == (3 * 10 + 2, 3 * 10 + 2)  # a 3x3 grid, 2-pixel gaps
    j = client.post("/v1/samples", json={"n": 2, "seed": 5, "format": "json"}).json()
    assert j["shape"] == [2, 1, 8, 8] and len(j["labels"]) == 2 and j["provenance"]["synthetic"] == "true"
    assert np.allclose(np.array(j["samples"]), g.sample(2, 5).numpy(), atol=1e-5)


def test_points_model_json_and_npy_but_no_png(points_run):
    g = ganforge.load(points_run, device="cpu")
    with TestClient(create_app(load_served(points_run, device="cpu"))) as c:
        x = _npy(c.post("/v1/samples", json={"n": 7, "format": "npy"}))
        assert _same(x, g.sample(7).numpy())
        assert c.post("/v1/samples", json={"n": 3, "format": "json"}).json()["shape"] == [3, 2]
        r = c.post("/v1/samples", json={"n": 3})  # png is the default
        assert r.status_code == 422 and r.json()["field"] == "format"
        r = c.post("/v1/samples", json={"labels": 1, "format": "npy"})
        assert r.status_code == 422 and r.json()["field"] == "labels"
        assert c.get("/v1/model").json()["formats"] == ["npy", "json"]


BAD = [
    ({"n": "4"}, 422, "n"),  # wrong types
    ({"n": 2.0}, 422, "n"),
    ({"n": True}, 422, "n"),
    ({"seed": -1}, 422, "seed"),
    ({"seed": 2**64}, 422, "seed"),
    ({"truncation": "0.5"}, 422, "truncation"),
    ({"truncation": 1.5}, 422, "truncation"),
    ({"labels": "7"}, 422, "labels"),
    ({"labels": [1, "x"], "n": 2}, 422, "labels"),
    ({"n": 65}, 422, "n"),  # n above the server's limit
    ({"n": 0}, 422, "n"),
    ({"labels": 10}, 422, "labels"),  # unknown label
    ({"labels": [0, -1], "n": 2}, 422, "labels"),
    ({"labels": [0, 1, 2], "n": 2}, 422, "labels"),
    ({"format": "gif"}, 422, "format"),
    ({"nn": 3}, 422, "nn"),  # unknown field
    ([1, 2], 422, None),  # not an object
]


@pytest.mark.parametrize(("body", "status", "field"), BAD)
def test_bad_sample_requests_get_4xx_naming_the_field(client, body, status, field):
    r = client.post("/v1/samples", json=body)
    assert r.status_code == status and r.json()["field"] == field, r.text
    assert "Traceback" not in r.text


def test_bad_bodies_and_methods(client):
    def post(content, ctype="application/json", **kw):
        return client.post("/v1/samples", content=content, headers={"content-type": ctype}, **kw)

    assert post(b'{"n": 1,').status_code == 400  # malformed JSON
    assert post(b'{"n": NaN}').status_code == 400
    assert post(b'\xff\xfe').status_code == 400
    assert post(b'{"n": 1}', "text/plain").status_code == 415  # wrong content type
    assert client.post("/v1/samples", data={"n": "1"}).status_code == 415
    r = post(b'{"n": 1, "pad": "' + b"x" * 5000 + b'"}')  # past max_body_bytes (Content-Length)
    assert r.status_code == 413 and "4,096" in r.json()["error"]

    def chunks():  # no Content-Length: the bytes are counted as they arrive
        for _ in range(10):
            yield b" " * 1000

    assert post(chunks()).status_code == 413
    assert client.get("/v1/samples").status_code == 405
    r = client.get("/etc/passwd")
    assert r.status_code == 404 and r.json()["error"].startswith("no such endpoint")
    assert client.get("/docs").status_code == 404  # no pages that load code from elsewhere


def test_translate_validates_uploads_and_refuses_generators(image_model):
    limits = Limits(max_n=8, max_batch=8, max_image_side=16, max_upload_bytes=8192)
    with TestClient(create_app(image_model, limits)) as c:
        def up(files):
            return c.post("/v1/translate", files=files)

        r = c.post("/v1/translate", json={"image": "x.png"})  # requests never name files
        assert r.status_code == 415
        assert up({"mask": ("m.png", _png(8), "image/png")}).json()["field"] == "image"  # missing: 422
        r = up({"image": ("a.txt", b"hello", "text/plain")})
        assert r.status_code == 415 and r.json()["field"] == "image"
        r = up({"image": ("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "image/png")})  # corrupt
        assert r.status_code == 400 and r.json()["field"] == "image"
        r = up({"image": ("a.png", _png(32), "image/png")})  # larger than max_image_side
        assert r.status_code == 413 and r.json()["field"] == "image"
        r = up({"image": ("a.png", b"\0" * 9000, "image/png")})  # larger than max_upload_bytes
        assert r.status_code == 413
        r = up({"image": ("a.png", _png(8), "image/png"), "mask": ("m.png", _png(4), "image/png")})
        assert r.status_code == 422 and r.json()["field"] == "mask"
        r = up({"image": ("a.png", _png(8), "image/png"), "other": ("o.png", _png(8), "image/png")})
        assert r.status_code == 422 and r.json()["field"] == "other"
        r = up({"image": ("a.png", _png(8), "image/png"), "mask": ("m.png", _png(8), "image/png")})
        assert r.status_code == 409 and "/v1/samples" in r.json()["error"]


def test_healthz_and_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    client.post("/v1/samples", json={"n": 3, "format": "npy"})
    client.get("/nothing/here")
    text = client.get("/metrics").text
    assert 'ganforge_requests_total{endpoint="/v1/samples",status="200"}' in text
    assert 'ganforge_requests_total{endpoint="other",status="404"}' in text
    assert "ganforge_request_seconds_bucket" in text and "ganforge_batch_samples_count" in text
    assert "/nothing/here" not in text  # label values are the app's own routes only


def test_batched_forward_equals_each_request_alone(image_model):
    reqs = [(3, 0, None, None), (1, 7, 4, 0.5), (6, 9, [1, 2, 3, 4, 5, 6], 1.0), (2, 11, None, 0.8)]
    inputs = [image_model.inputs(*r) for r in reqs]
    seen: list[tuple[int, int]] = []

    async def run():
        b = MicroBatcher(image_model.forward, 64, 0.05, 16, on_batch=lambda s, k: seen.append((s, k)))
        try:
            return await asyncio.gather(*(b.submit(z, y) for z, y in inputs))
        finally:
            b.close()

    outs = asyncio.run(run())
    assert seen == [(12, 4)]  # one forward pass for all four
    g_alone = ganforge.load(image_model.checkpoint, device="cpu")
    for (n, seed, labels, trunc), out in zip(reqs, outs, strict=True):
        # the same inputs and the same net; CPU convolutions sum in a batch-size-dependent order,
        # so a batch of 12 agrees with a batch of n to float32 rounding, not bit for bit
        want = g_alone.sample(n, seed, labels=labels, truncation=trunc).numpy()
        assert out.shape == want.shape and float(np.abs(out - want).max()) < TOL


def test_batcher_refuses_past_its_queue():
    gate = threading.Event()

    def slow(z, y):
        gate.wait(5)
        return z.numpy()

    async def run():
        b = MicroBatcher(slow, 4, 0.0, 1)
        first = asyncio.ensure_future(b.submit(torch.zeros(4, 2), None))  # fills a batch, then blocks
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(b.submit(torch.zeros(1, 2), None))  # waits in the queue
        await asyncio.sleep(0.01)
        with pytest.raises(Busy):
            await b.submit(torch.zeros(1, 2), None)
        gate.set()
        await asyncio.gather(first, second)
        b.close()

    asyncio.run(run())


def test_concurrent_requests_on_a_real_server(image_model, image_run):
    g = ganforge.load(image_run, device="cpu")
    limits = Limits(max_n=16, max_batch=256, max_wait_ms=50)
    results: dict[int, tuple[int, bytes]] = {}
    start = threading.Barrier(16)
    with BackgroundServer(image_model, limits) as url:
        port = int(url.rsplit(":", 1)[1])

        def client(i: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            start.wait()
            conn.request("POST", "/v1/samples", json.dumps({"n": 4, "seed": i, "format": "npy"}),
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            results[i] = (r.status, r.read())
            conn.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/metrics")
        metrics = conn.getresponse().read().decode()
    assert sorted(results) == list(range(16)) and all(s == 200 for s, _ in results.values())
    for i, (_, body) in results.items():
        assert float(np.abs(np.load(io.BytesIO(body)) - g.sample(4, i).numpy()).max()) < TOL
    forwards = int(next(line.split()[-1] for line in metrics.splitlines()
                        if line.startswith("ganforge_batch_requests_count")))
    assert forwards < 16  # some requests shared a forward pass


def test_a_paired_model_translates_uploaded_images(tmp_path):
    """/v1/translate on a pix2pix run: the PNG that comes back is the generator's translation of
    the upload (generation.translate, to uint8 rounding); masks and other sizes are refused."""
    from ganforge import config
    from ganforge.generation import load, translate
    from ganforge.runs import train

    tiny = ["data.size=16", "train.steps=2", "g.width=4", "d.width=4", "train.batch_size=4",
            "train.plot_every=0"]
    cfg = config.load("configs/pix2pix-glyphs.yaml", tiny)
    train(cfg, tmp_path / "run", progress=False, plots=False)
    model = load_served(tmp_path / "run")
    assert model.can_translate
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (16, 16), generator=gen, dtype=torch.uint8)
    buf = io.BytesIO()
    Image.fromarray(x.numpy(), "L").save(buf, format="PNG")
    with TestClient(create_app(model, Limits())) as c:
        assert c.get("/v1/model").json()["task"] == "paired"
        r = c.post("/v1/translate", files={"image": ("g.png", buf.getvalue(), "image/png")})
        assert r.status_code == 200 and r.headers["x-ganforge-synthetic"] == "true"
        got = np.asarray(Image.open(io.BytesIO(r.content)), dtype=np.float64)
        want = translate(load(tmp_path / "run").net, (x.float() / 127.5 - 1)[None, None])
        want = ((want[0, 0].clamp(-1, 1) + 1) * 127.5).numpy()
        assert got.shape == (16, 16) and np.abs(got - want).max() <= 1.0
        r = c.post("/v1/translate", files={"image": ("g.png", buf.getvalue(), "image/png"),
                                           "mask": ("m.png", buf.getvalue(), "image/png")})
        assert r.status_code == 422 and r.json()["field"] == "mask" and "no mask" in r.json()["error"]
        small = io.BytesIO()
        Image.fromarray(x[:8, :8].numpy(), "L").save(small, format="PNG")
        r = c.post("/v1/translate", files={"image": ("s.png", small.getvalue(), "image/png")})
        assert r.status_code == 422 and "16x16" in r.json()["error"] and r.json()["field"] == "image"
        assert c.post("/v1/samples", json={"n": 1}).status_code == 409
