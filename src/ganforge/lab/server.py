"""The lab's server: static page + one training session per WebSocket (one per browser tab).

Training runs in the server on the ganforge trainer, in a worker thread per tick, and frames are
streamed at a bounded rate. A bad message gets an error frame; it never takes the server down.
Sessions are bounded in number and size, idle ones are reaped, a closed tab stops its training.
Only the lab's own pages, reached by the lab's own address, may use it (Host and Origin checks):
any web page may open a WebSocket to localhost, and DNS rebinding lends a page a name for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from fastapi import FastAPI, HTTPException, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.background import BackgroundTask

from ..errors import GanforgeError
from ..server_thread import ServerThread, free_port
from ..training.health import DIVERGED
from ..training.state import Checkpoint, load_checkpoint
from .guard import ANY_ADDRESS, OwnOriginOnly, host_name, is_loopback, lab_hosts
from .session import LabSession, Limits, options
from .worker import RemoteSession

Session = LabSession | RemoteSession  # in the server's threads, or each in its own process

FPS = 10.0  # frames per second sent to a playing page, at most
CHECK_EVERY_S = 0.5  # live quality check period
GRACE_S = 3  # on Ctrl-C / SIGTERM, wait this long for pages to let go (steps are bounded)
MAX_DEPTH = 8  # nesting of a message from the page (a points message is 3 deep)
class Lab:
    """The sessions of one server; each has a lock so steps, settings and frames never interleave.
    With a run (`ganforge lab RUN`), every page opens its own session restored from that run's
    checkpoint (read once, when the server starts): a reload shows the run again."""

    def __init__(self, limits: Limits, run: str | Path | Checkpoint | None = None) -> None:
        self.limits = limits
        self.sessions: dict[str, Session] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        self.run = run if run is None or isinstance(run, Checkpoint) else load_checkpoint(run)

    def new_session(self) -> Session:
        if self.limits.processes:  # the worker reads the run itself
            return RemoteSession(self.limits, None if self.run is None else str(self.run.path))
        if self.run is None:
            return LabSession(self.limits)
        return LabSession.from_checkpoint(self.run, self.limits)

    def open(self) -> tuple[str, Session]:
        """A new session (slow with processes: call it off the event loop)."""
        self.reap()
        if len(self.sessions) >= self.limits.max_sessions:
            raise GanforgeError(f"the lab is full ({self.limits.max_sessions} sessions); "
                                "close a tab or try again later")
        sid = uuid.uuid4().hex[:12]
        session = self.new_session()
        self.sessions[sid] = session
        self.locks[sid] = asyncio.Lock()
        return sid, session

    def close(self, sid: str) -> None:
        s = self.sessions.pop(sid, None)
        if s is not None:
            s.stop()
        self.locks.pop(sid, None)

    def close_all(self) -> None:
        """Stop every session (the server is shutting down): training threads return promptly."""
        for sid in list(self.sessions):
            self.close(sid)

    def reap(self) -> None:
        """Close sessions that are paused and have heard nothing from their page for a while."""
        now = time.monotonic()
        for sid, s in list(self.sessions.items()):
            if not s.playing and now - s.last_seen > self.limits.idle_seconds:
                self.close(sid)


def _frame(s: Session) -> dict[str, Any]:
    return s.frame()


def _finite(obj: Any) -> Any:
    """obj with every non-finite float replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    """Standard JSON for the page: a browser's JSON.parse rejects NaN and Infinity (a diverged
    run's points and field are full of them), so they go out as null."""
    try:
        return json.dumps(obj, allow_nan=False)
    except ValueError:  # rare: only then walk the whole message
        return json.dumps(_finite(obj), allow_nan=False)


def _no_constant(name: str) -> Any:
    raise GanforgeError(f"message is not valid JSON: {name} is not a JSON number")


def _max_chars(limits: Limits) -> int:
    """The longest message taken: the limit, or more when max_points pairs need it."""
    return max(limits.max_message_chars, 64 * limits.max_points)


def _depth(obj: Any, bound: int) -> int:
    """Nesting depth of parsed JSON, without recursion; stops counting past bound."""
    deepest, todo = 0, [(obj, 1)]
    while todo:
        o, d = todo.pop()
        if isinstance(o, (dict, list)):
            deepest = max(deepest, d)
            if d > bound:
                break
            todo.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return deepest


def parse(text: str, max_chars: int) -> dict[str, Any]:
    """A message from the page: a JSON object of bounded size and depth, in standard JSON (no
    NaN / Infinity literals, which Python's json.loads would otherwise accept)."""
    if len(text) > max_chars:
        raise GanforgeError(f"message too large ({len(text)} characters, at most {max_chars})")
    try:
        msg = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError:
        raise GanforgeError("message is not valid JSON") from None
    except RecursionError:  # ~1,000 levels exhaust the parser's stack
        raise GanforgeError(f"message is nested too deeply (at most {MAX_DEPTH} levels)") from None
    if not isinstance(msg, dict):
        raise GanforgeError("a message must be a JSON object")
    if _depth(msg, MAX_DEPTH) > MAX_DEPTH:
        raise GanforgeError(f"message is nested too deeply (at most {MAX_DEPTH} levels)")
    return msg


async def _handle(lab: Lab, sid: str, s: Session, msg: dict[str, Any]) -> dict[str, Any] | None:
    """Apply one message from the page; returns a frame to send (or None)."""
    kind = msg.get("type")
    lock = lab.locks[sid]
    async with lock:
        if kind == "play":
            await asyncio.to_thread(s.slow_finish)
            s.playing = True
        elif kind == "pause":
            s.playing = False
        elif kind == "step":
            s.playing = False
            which = msg.get("which", "both")
            await asyncio.to_thread(s.step, which)
            await asyncio.to_thread(s.check)
        elif kind == "reset":
            s.playing = False
            await asyncio.to_thread(s.reset)
        elif kind == "settings":
            values = msg.get("values")
            if not isinstance(values, dict):
                raise GanforgeError("settings message needs a 'values' object")
            if "speed" in values:
                s.speed = _speed(values.pop("speed"), lab.limits)
            if values:
                await asyncio.to_thread(s.apply, values)
        elif kind == "points":
            await asyncio.to_thread(s.set_points, msg.get("points"))
            s.playing = False
        elif kind == "slow":  # slow motion: one phase of a training step, then its frame
            s.playing = False
            info = await asyncio.to_thread(s.slow_step, msg.get("phase"))
            frame = await asyncio.to_thread(_frame, s)
            frame.update(info)
            return frame
        elif kind == "walk":  # image view: the class the noise walk holds (class-conditional runs)
            await asyncio.to_thread(s.set_walk_class, msg.get("walk_class"))
        elif kind == "frame":
            pass
        else:
            raise GanforgeError(f"unknown message type {kind!r}")
        return await asyncio.to_thread(_frame, s)


def _error(message: str, limit: int = 300) -> dict[str, Any]:
    """An error frame; what it quotes from the page is cut short."""
    return {"type": "error", "message": message if len(message) <= limit else message[:limit] + "..."}


def _speed(value: Any, limits: Limits) -> float:
    """Steps per second; 0 means as fast as the machine goes."""
    if (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)
            or value < 0):
        raise GanforgeError(f"speed must be a number >= 0 (0 = as fast as possible), got {value!r}")
    return min(float(value), limits.max_steps_per_s)


async def _train_loop(lab: Lab, sid: str, s: Session,
                      send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    """While playing: run the steps due at the chosen speed, send a frame every 1/FPS s.
    A failing tick pauses the session with an error frame: the loop never dies silently."""
    owed = 0.0
    last_check = 0.0
    tick = 1.0 / FPS
    overhead = 0.01  # recent time of a tick spent outside the session's work (pipe, JSON, send)
    while sid in lab.sessions:
        t0 = time.perf_counter()
        lab.reap()
        if s.playing and s.health_state != DIVERGED:
            try:
                async with lab.locks[sid]:
                    # the session's work fits in what the tick's other costs leave: the frame rate holds
                    budget = max(0.01, tick - overhead - 0.005)
                    if s.speed == 0:
                        n = 10**6
                    else:
                        owed += s.speed * tick
                        n = int(owed)
                        owed -= n
                    check = time.perf_counter() - last_check > CHECK_EVERY_S
                    if check:
                        last_check = time.perf_counter()
                    if not s.playing:  # a slow-motion message paused it while this tick waited
                        continue
                    t_call = time.perf_counter()
                    frame = await asyncio.to_thread(s.tick, n, budget, check)  # one round trip
                    worked = min(time.perf_counter() - t_call, budget)
                    if s.health_state == DIVERGED:
                        s.playing = False
                        frame["playing"], frame["state"] = False, DIVERGED
            except (GanforgeError, ValueError, TypeError, RuntimeError) as e:
                s.playing = False
                owed = 0.0
                frame = _error(f"training stopped: {e}")
            try:
                await send(frame)
            except WebSocketDisconnect:  # the page left; ws() closes the session
                return
            if frame.get("type") == "frame":
                overhead = 0.8 * overhead + 0.2 * max(0.0, time.perf_counter() - t0 - worked)
        await asyncio.sleep(max(tick - (time.perf_counter() - t0), 0.005))


def create_app(limits: Limits | None = None, allowed_hosts: Iterable[str] | None = None,
               run: str | Path | Checkpoint | None = None) -> FastAPI:
    """The lab's app. allowed_hosts: the Host header values it answers to (`lab_hosts(host, port)`
    for a server on host:port); None = the loopback names on any port. run: a run directory or
    checkpoint (file or loaded) that every page opens, restored and paused at its step."""
    lab = Lab(limits or Limits(), run)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        lab.close_all()

    app = FastAPI(title="ganforge lab", docs_url=None, redoc_url=None, lifespan=lifespan)
    allowed = None if allowed_hosts is None else frozenset(h.strip().lower() for h in allowed_hosts)
    app.add_middleware(OwnOriginOnly, allowed=allowed)
    app.state.lab = lab
    static = resources.files("ganforge.lab") / "static"

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return (static / "index.html").read_text()

    @app.get("/static/{name}")
    def asset(name: str) -> Response:
        if name not in {"lab.js", "lab.css"}:
            raise HTTPException(404)
        media = "text/javascript" if name.endswith(".js") else "text/css"
        return Response((static / name).read_text(), media_type=media)

    @app.get("/api/options")
    def api_options() -> dict[str, Any]:
        return options()

    def _session(sid: str) -> Session:
        s = lab.sessions.get(sid)
        if s is None:
            raise HTTPException(404, "no such session (closed or expired)")
        return s

    @app.get("/api/sessions/{sid}/checkpoint")
    async def export_checkpoint(sid: str) -> FileResponse:
        s = _session(sid)
        tmp = Path(tempfile.mkdtemp(prefix="ganforge-lab-")) / "lab.safetensors"
        async with lab.locks[sid]:  # a consistent snapshot: no step runs while it is written
            step = await asyncio.to_thread(s.export_checkpoint, str(tmp))
        return FileResponse(tmp, filename=f"ganforge-lab-step{step}.safetensors",
                            media_type="application/octet-stream",
                            background=BackgroundTask(shutil.rmtree, tmp.parent, True))

    @app.get("/api/sessions/{sid}/config.yaml")
    def export_config(sid: str) -> PlainTextResponse:
        s = _session(sid)
        return PlainTextResponse(s.config_yaml(), headers={
            "Content-Disposition": 'attachment; filename="ganforge-lab.yaml"'})

    @app.get("/api/sessions/{sid}/points.csv")
    def export_points(sid: str) -> PlainTextResponse:
        s = _session(sid)
        return PlainTextResponse(s.points_csv(), headers={
            "Content-Disposition": 'attachment; filename="points.csv"'})

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        send_lock = asyncio.Lock()

        async def send(obj: dict[str, Any]) -> None:
            async with send_lock:
                await websocket.send_text(dumps(obj))

        try:
            sid, s = await asyncio.to_thread(lab.open)
        except GanforgeError as e:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):  # the page may be gone
                await send(_error(str(e)))
                await websocket.close()
            return
        loop: asyncio.Task | None = None
        max_chars = _max_chars(lab.limits)
        # Everything after open() sits in the try: a page that leaves at any point frees its slot.
        try:
            await send({"type": "hello", "session": sid, "options": options()})
            await send(await asyncio.to_thread(_frame, s))
            loop = asyncio.create_task(_train_loop(lab, sid, s, send))
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if sid not in lab.sessions:
                    await send(_error("this session was closed after being idle; reload the page to "
                                      "start a new one"))
                    await websocket.close()
                    break
                s.last_seen = time.monotonic()
                if text is None:
                    await send(_error("messages must be text (JSON), not binary"))
                    continue
                try:
                    frame = await _handle(lab, sid, s, parse(text, max_chars))
                except (GanforgeError, ValueError, TypeError) as e:
                    await send(_error(str(e)))
                    continue
                if frame is not None:
                    await send(frame)
        except WebSocketDisconnect:
            pass
        finally:
            lab.close(sid)
            if loop is not None:
                loop.cancel()

    return app


def _ws_max_size(limits: Limits | None) -> int:
    """Bytes of one WebSocket message the server reads at all (UTF-8: up to 4 per character);
    anything longer closes the connection (1009) before it is buffered whole."""
    return 4 * _max_chars(limits or Limits()) + 4096


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = True,
          limits: Limits | None = None, run: str | Path | Checkpoint | None = None) -> None:
    """Run the lab until Ctrl-C; torch uses one thread per session step to share the cores."""
    import uvicorn

    torch.set_num_threads(1)
    url = f"http://{'localhost' if host.strip() in ANY_ADDRESS else host_name(host)}:{port}/"
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, lambda: webbrowser.open(url)).start()
    print(f"ganforge lab on {url} (Ctrl-C to stop)", flush=True)
    if not is_loopback(host):
        print(f"warning: the lab has no authentication: anyone who can reach {host}:{port} can open "
              "sessions and use this machine's cores", file=sys.stderr, flush=True)
    uvicorn.run(create_app(limits, lab_hosts(host, port), run), host=host, port=port, log_level="warning",
                ws_max_size=_ws_max_size(limits), timeout_graceful_shutdown=GRACE_S)


class BackgroundServer(ServerThread):
    """The lab served from a thread (tests, screenshots): `with BackgroundServer() as url: ...`."""

    what = "the lab server"

    def __init__(self, limits: Limits | None = None, host: str = "127.0.0.1", port: int = 0,
                 run: str | Path | Checkpoint | None = None):
        import uvicorn

        port = port or free_port(host)
        self.app = create_app(limits, lab_hosts(host, port), run)
        super().__init__(uvicorn.Server(uvicorn.Config(self.app, host=host, port=port, log_level="warning",
                                                       ws_max_size=_ws_max_size(limits),
                                                       timeout_graceful_shutdown=GRACE_S)),
                         f"http://{host}:{port}/")
