"""The HTTP API of `ganforge serve`: FastAPI routes over one served model.

POST /v1/samples   {"n", "seed", "labels", "truncation", "format": png | npy | json}
POST /v1/translate multipart: image (and mask, for inpainting); image-to-image models only: paired
                   at the training size, superres at any size (in tiles), inpaint with its mask
GET  /v1/model     what the model is (task, architecture, shape, classes, step, scores)
GET  /healthz      liveness
GET  /metrics      Prometheus text: requests, latency, batch sizes

A bad request is a 4xx JSON `{"error": ..., "field": ...}` naming the field, never a 500 or a
traceback. Every size a client controls is bounded (limits.py); requests name no files; every
sample carries its provenance (X-Ganforge-* headers; PNG text chunks too).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import sys
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

import numpy as np
import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import DataError, GanforgeError
from ..provenance import Provenance
from ..server_thread import ServerThread, free_port
from ..viz import image_grid
from .batcher import Busy, MicroBatcher
from .limits import Limits
from .metrics import Metrics
from .model import Refused, ServedModel

ROUTES = ("/v1/samples", "/v1/translate", "/v1/model", "/healthz", "/metrics")
JSON_TYPES = ("application/json",)
IMAGE_MODES = {1: "L", 3: "RGB"}


class ApiError(Exception):
    """A request the server refuses: its status, a one-line reason, the field at fault."""

    def __init__(self, status: int, error: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.field, self.headers = status, error, field, headers


def error_response(status: int, error: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "field": field}, status_code=status, headers=headers)


class SampleRequest(BaseModel):
    """POST /v1/samples. Strict: "3" is not a number and true is not 1."""

    model_config = ConfigDict(extra="forbid", strict=True)

    n: int = Field(1, ge=1)
    seed: int = Field(0, ge=0, lt=2**63)
    labels: int | list[int] | None = Field(None, description="one class for all, or one per sample")
    truncation: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    format: Literal["png", "npy", "json"] = "png"


def _field_of(loc: tuple[Any, ...]) -> str | None:
    """('labels', 3) -> 'labels[3]'; pydantic's union branch names ('list[int]') are left out."""
    parts = [p for p in loc if p != "body"]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif out and ("[" in p or p in ("int", "float", "str")):
            continue
        else:
            out += ("." if out else "") + str(p)
    return out or None


def _validation_error(errors: list[Any]) -> ApiError:
    e = errors[0]
    field = _field_of(tuple(e.get("loc", ())))
    if e.get("type") == "extra_forbidden":
        return ApiError(422, f"unknown field {field!r} (known: {', '.join(SampleRequest.model_fields)})",
                        field)
    if field is None:
        return ApiError(422, "the body must be a JSON object, e.g. {\"n\": 4, \"seed\": 0}")
    return ApiError(422, f"{field}: {e.get('msg', 'invalid value')}", field.split("[")[0].split(".")[0])


def _provenance_headers(prov: Provenance) -> dict[str, str]:
    names = {"seeds": "Seed", "digital_source_type": "Digital-Source-Type",
             "ganforge_version": "Version"}
    return {f"X-Ganforge-{names.get(k, k.replace('_', '-').title())}": v
            for k, v in prov.fields().items() if v != "" and k != "what"}


class Guard:
    """ASGI middleware at the edge: counts and times every request (metrics), refuses past
    `max_concurrency` (503) and bodies past their limit (413: by Content-Length, and by counting
    the bytes as they stream in when there is none or it lies)."""

    def __init__(self, app: ASGIApp, limits: Limits, metrics: Metrics) -> None:
        self.app, self.limits, self.metrics = app, limits, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        endpoint = scope["path"] if scope["path"] in ROUTES else "other"
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        limit = self.limits.max_upload_bytes if endpoint == "/v1/translate" else self.limits.max_body_bytes
        try:
            self.metrics.in_flight += 1
            if self.metrics.in_flight > self.limits.max_concurrency:
                await error_response(503, f"the server is busy ({self.limits.max_concurrency} requests "
                                     "at once); retry shortly", headers={"Retry-After": "1"}
                                     )(scope, receive, sending)
                return
            length = Headers(scope=scope).get("content-length")
            if length is not None and (not length.isdigit() or int(length) > limit):
                await error_response(413 if length.isdigit() else 400,
                                     f"the body must be at most {limit:,} bytes" if length.isdigit()
                                     else "Content-Length is not a number")(scope, receive, sending)
                return
            seen = [0]

            async def receiving() -> Message:
                message = await receive()
                if message["type"] == "http.request":
                    seen[0] += len(message.get("body", b""))
                    if seen[0] > limit:
                        raise HTTPException(413, f"the body must be at most {limit:,} bytes")
                return message

            await self.app(scope, receiving, sending)
        finally:
            self.metrics.in_flight -= 1
            self.metrics.request(endpoint, status[0], time.perf_counter() - t0)


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _json_body(request: Request) -> SampleRequest:
    if _content_type(request) not in JSON_TYPES:
        raise ApiError(415, "send the request as JSON (Content-Type: application/json)")
    raw = await request.body()
    try:
        obj = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "the body is not valid JSON") from None
    try:
        return SampleRequest.model_validate(obj)
    except ValidationError as e:
        raise _validation_error(e.errors()) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check(req: SampleRequest, model: ServedModel, limits: Limits) -> None:
    """What depends on the model and the server's limits: 422 naming the field."""
    if req.n > limits.max_n:
        raise ApiError(422, f"n must be at most {limits.max_n} (the server's limit), got {req.n}", "n")
    k = model.spec.num_classes
    if req.labels is not None:
        if not k:
            raise ApiError(422, "labels need a class-conditional model; this one is not", "labels")
        values = [req.labels] if isinstance(req.labels, int) else req.labels
        if not isinstance(req.labels, int) and len(values) != req.n:
            raise ApiError(422, f"labels: give one class for all or one per sample ({req.n}), "
                           f"got {len(values)}", "labels")
        bad = next((v for v in values if not 0 <= v < k), None)
        if bad is not None:
            raise ApiError(422, f"unknown label {bad}: the classes are 0..{k - 1}", "labels")
    if req.truncation is not None and req.truncation != 1 and model.truncates_in_w:
        from .model import TRUNCATION_IN_W

        raise ApiError(422, TRUNCATION_IN_W, "truncation")
    if req.format == "png" and not model.images:
        raise ApiError(422, "png is for image models; this one makes points (use npy or json)", "format")
    if req.format == "json" and req.n * math.prod(model.spec.data_shape) > limits.max_json_values:
        most = max(1, limits.max_json_values // math.prod(model.spec.data_shape))
        raise ApiError(422, f"format json: at most {most} samples of this model per request "
                       "(use npy for more)", "n")


def _labels_text(req: SampleRequest, model: ServedModel) -> str:
    if not model.spec.num_classes:
        return ""
    if req.labels is None:
        return "drawn from the seed"
    return str(req.labels) if isinstance(req.labels, int) else "one per sample, as given"


def _png(x: np.ndarray, prov: Provenance) -> bytes:
    from PIL import Image

    n = len(x)
    nrow = 1 if n == 1 else max(1, min(16, round(n**0.5)))
    picture = image_grid(torch.from_numpy(x), nrow, pad=0 if n == 1 else 2)
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG", pnginfo=prov.png_info())
    return buf.getvalue()


def _npy(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(x, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()


def _check_size(what: str, w: int, h: int, scale: int, limits: Limits) -> None:
    """413 before decoding: a side past max_image_side, or an output (scale x) past max_output_pixels."""
    if max(w, h) > limits.max_image_side:
        raise ApiError(413, f"{what} is {w}x{h}; at most {limits.max_image_side} pixels a side", what)
    if w * h * scale * scale > limits.max_output_pixels:
        raise ApiError(413, f"{what} is {w}x{h}: its {w * scale}x{h * scale} output would pass the "
                       f"server's limit of {limits.max_output_pixels:,} pixels", what)


def _read_image(data: bytes, what: str, mode: str, limits: Limits, scale: int = 1) -> torch.Tensor:
    """Upload bytes -> (1, C, H, W) float in [-1, 1]; corrupt 400, too large 413, one line each."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ApiError(400, f"{what} is empty", what)
    try:
        with Image.open(io.BytesIO(data)) as im:
            _check_size(what, *im.size, scale, limits)
            im.load()
            arr = np.asarray(im.convert(mode), dtype=np.float32)
    except ApiError:
        raise
    except Image.DecompressionBombError:
        raise ApiError(413, f"{what} has too many pixels", what) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ApiError(400, f"{what} is not a readable image (PNG, JPEG, WebP ...)", what) from None
    t = torch.from_numpy(arr.copy())
    t = t[None] if t.dim() == 2 else t.permute(2, 0, 1)
    return (t / 127.5 - 1)[None]


async def _upload(form: Any, name: str, required: bool) -> bytes | None:
    part = form.get(name)
    if part is None:
        if required:
            raise ApiError(422, f"{name} is missing: send it as a multipart file field", name)
        return None
    if not isinstance(part, UploadFile):
        raise ApiError(422, f"{name} must be a file, not a text field", name)
    ctype = (part.content_type or "").lower()
    if not ctype.startswith("image/"):
        raise ApiError(415, f"{name} must be an image (Content-Type image/png, image/jpeg ...), "
                       f"got {ctype or 'none'}", name)
    return await part.read()


def create_app(model: ServedModel, limits: Limits | None = None) -> FastAPI:
    """The API over one model. No docs pages (they load scripts from elsewhere) and no files."""
    limits = limits or Limits()
    metrics = Metrics(limits.max_batch)
    batcher = MicroBatcher(model.forward, limits.max_batch, limits.max_wait_ms / 1000, limits.max_queue,
                           on_batch=metrics.batch)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        batcher.close()

    app = FastAPI(title="ganforge serve", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.model, app.state.limits, app.state.metrics, app.state.batcher = model, limits, metrics, batcher
    app.add_middleware(Guard, limits=limits, metrics=metrics)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError) -> JSONResponse:
        return error_response(e.status, e.error, e.field, e.headers)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, e: HTTPException) -> JSONResponse:
        detail = e.detail if isinstance(e.detail, str) else "bad request"
        if e.status_code == 404:
            detail = f"no such endpoint: {request.method} {request.url.path[:100]}"
        elif e.status_code == 405:
            detail = f"{request.url.path} does not take {request.method}"
        return error_response(e.status_code, detail, headers=getattr(e, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        err = _validation_error(list(e.errors()))
        return error_response(err.status, err.error, err.field)

    @app.exception_handler(GanforgeError)
    async def _ganforge_error(request: Request, e: GanforgeError) -> JSONResponse:
        return error_response(422, str(e).splitlines()[0][:300])

    @app.exception_handler(Exception)
    async def _internal(request: Request, e: Exception) -> JSONResponse:  # a bug: no traceback out
        print(f"ganforge serve: internal error on {request.url.path}: {type(e).__name__}: {e}",
              file=sys.stderr)
        return error_response(500, "internal error (the server log says more)")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.text(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/model")
    async def model_info() -> dict[str, Any]:
        return {**model.info, "limits": {"max_n": limits.max_n, "max_batch": limits.max_batch,
                                         "max_body_bytes": limits.max_body_bytes,
                                         "max_upload_bytes": limits.max_upload_bytes,
                                         "max_image_side": limits.max_image_side,
                                         "max_output_pixels": limits.max_output_pixels}}

    @app.post("/v1/samples")
    async def samples(request: Request) -> Response:
        if model.spec.cond == "image":
            raise ApiError(409, "this model translates images; use /v1/translate")
        req = await _json_body(request)
        _check(req, model, limits)
        z, y = model.inputs(req.n, req.seed, req.labels, req.truncation)
        try:
            x = await batcher.submit(z, y)
        except Busy as e:
            raise ApiError(503, f"the server is busy ({e}); retry shortly", headers={"Retry-After": "1"}
                           ) from None
        what = f"grid of {req.n}" if req.format == "png" and req.n > 1 else f"{req.n} samples"
        prov = model.provenance(req.seed, _labels_text(req, model), req.truncation, what)
        headers = _provenance_headers(prov)
        if req.format == "png":
            return Response(_png(x, prov), media_type="image/png", headers=headers)
        if req.format == "npy":
            return Response(_npy(x), media_type="application/x-npy", headers=headers)
        body = {"shape": list(x.shape), "samples": np.round(x.astype(np.float64), 5).tolist(),
                "labels": None if y is None else y.tolist(), "provenance": prov.fields()}
        return JSONResponse(body, headers=headers)

    @app.post("/v1/translate")
    async def translate(request: Request) -> Response:
        if _content_type(request) != "multipart/form-data":
            raise ApiError(415, "send the image as multipart/form-data (a file field 'image', "
                           "optionally 'mask')")
        async with request.form(max_files=2, max_fields=2, max_part_size=64 << 10) as form:
            unknown = next((k for k in form if k not in ("image", "mask")), None)
            if unknown is not None:
                raise ApiError(422, f"unknown field {unknown[:50]!r} (known: image, mask)", unknown[:50])
            image_bytes = await _upload(form, "image", required=True)
            mask_bytes = await _upload(form, "mask", required=False)
        mode = IMAGE_MODES.get(model.image_channels, "RGB") if model.images else "RGB"
        image = await asyncio.to_thread(_read_image, image_bytes or b"", "image", mode, limits, model.scale)
        mask = None
        if mask_bytes is not None:
            mask = await asyncio.to_thread(_read_image, mask_bytes, "mask", "L", limits)
            if mask.shape[-2:] != image.shape[-2:]:
                raise ApiError(422, f"mask is {mask.shape[-1]}x{mask.shape[-2]}, the image "
                               f"{image.shape[-1]}x{image.shape[-2]}: they must match", "mask")
            mask = (mask > 0).float()
        if not model.can_translate:
            raise ApiError(409, "this model generates from noise; use /v1/samples")
        loop = asyncio.get_running_loop()
        try:
            model.check_upload(image, mask)
            out = await loop.run_in_executor(batcher.executor, model.translate, image, mask)
        except Refused as e:
            raise ApiError(422, str(e), e.field) from None
        except DataError as e:
            raise ApiError(422, str(e).splitlines()[0][:300], "image") from None
        prov = model.provenance(0, "", None, f"{model.task} of an uploaded image")
        return Response(_png(out, prov), media_type="image/png", headers=_provenance_headers(prov))

    return app


def _uvicorn_config(app: Any, host: str, port: int, limits: Limits) -> Any:
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                          limit_concurrency=limits.max_concurrency + 64, timeout_keep_alive=5,
                          h11_max_incomplete_event_size=64 << 10)


def serve(model: ServedModel, host: str = "127.0.0.1", port: int = 8000,
          limits: Limits | None = None) -> None:
    """Serve until Ctrl-C."""
    import uvicorn

    limits = limits or Limits()
    uvicorn.Server(_uvicorn_config(create_app(model, limits), host, port, limits)).run()


class BackgroundServer(ServerThread):
    """The API served from a thread (tests, benchmarks): `with BackgroundServer(model) as url: ...`."""

    what = "the server"

    def __init__(self, model: ServedModel, limits: Limits | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        import uvicorn

        limits = limits or Limits()
        port = port or free_port(host)
        self.app = create_app(model, limits)
        super().__init__(uvicorn.Server(_uvicorn_config(self.app, host, port, limits)), f"http://{host}:{port}")
