"""A lab session in its own process: its training holds that process's interpreter lock, not the
server's. With sessions run on the server's threads, eight playing pages got 3.3 frames/s each and
the server sat at 110% of 200% CPU, bound by Python's GIL; a process per session scales with the
cores (benchmarks/lab_load.py measures both).

`RemoteSession` offers the server the same methods as `LabSession` (the ones the server calls);
each is one message over a pipe to the worker, which calls it on its LabSession. Workers start
from a fork server that has already imported torch and ganforge, so a new tab waits tens of
milliseconds, not the seconds an import takes.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from ..errors import GanforgeError
from .session import LabSession, Limits, page_state

# What a page may make its session do: name -> LabSession method (explicit; no attribute lookup
# by a name that came over the pipe).
METHODS: dict[str, Any] = {
    "step": LabSession.step,
    "check": LabSession.check,
    "reset": LabSession.reset,
    "apply": LabSession.apply,
    "set_points": LabSession.set_points,
    "run_for": LabSession.run_for,
    "tick": LabSession.tick,
    "frame": LabSession.frame,
    "config_yaml": LabSession.config_yaml,
    "points_csv": LabSession.points_csv,
    "export_checkpoint": LabSession.export_checkpoint,
    "slow_step": LabSession.slow_step,
    "slow_finish": LabSession.slow_finish,
    "set_walk_class": LabSession.set_walk_class,
}
ERRORS = (GanforgeError, ValueError, TypeError, RuntimeError, KeyError)


def _serve(conn: Connection, limits: Limits, run: str | None) -> None:
    """The worker: one LabSession (restored from `run` when given), one call at a time, until the
    pipe closes."""
    import torch

    torch.set_num_threads(1)  # one core per playing session; the server needs one too
    try:
        session = LabSession(limits) if run is None else LabSession.from_checkpoint(run, limits)
        conn.send(("ok", None))
    except ERRORS as e:
        conn.send(("error", str(e)))
        return
    while True:
        try:
            name, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(("ok", METHODS[name](session, *args)))
        except ERRORS as e:
            conn.send(("error", str(e)))


_CONTEXT: Any = None


def _context() -> Any:
    """forkserver where there is one (Linux, macOS): children fork from a clean process with torch
    already imported; spawn elsewhere."""
    global _CONTEXT
    if _CONTEXT is None:
        methods = mp.get_all_start_methods()
        _CONTEXT = mp.get_context("forkserver" if "forkserver" in methods else "spawn")
        if "forkserver" in methods:
            _CONTEXT.set_forkserver_preload(["ganforge.lab.session", "torch"])
    return _CONTEXT


class RemoteSession:
    """The server's handle on a session in a worker process. Page-side state (playing, speed,
    last seen) lives here; everything about training lives in the worker."""

    def __init__(self, limits: Limits, run: str | None = None, start_timeout: float = 120.0) -> None:
        ctx = _context()
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, limits, run), daemon=True,
                                name="ganforge-lab-session")
        self.proc.start()
        child.close()
        self._lock = threading.Lock()  # one call at a time on the pipe
        self.speed: float = 4.0
        self.playing = False
        self.closed = False
        self.last_seen = time.monotonic()
        self.health_state = "Running"
        self.step_count = 0
        try:
            if not self._conn.poll(start_timeout):
                raise EOFError
            reply = self._conn.recv()
        except (EOFError, OSError):
            self.stop()
            raise GanforgeError("a lab session's worker process did not start") from None
        self._result(reply)

    def _result(self, reply: tuple[str, Any]) -> Any:
        kind, value = reply
        if kind == "error":
            raise GanforgeError(value)
        return value

    def _call(self, name: str, *args: Any) -> Any:
        with self._lock:
            if self.closed:
                raise GanforgeError("this session is closed")
            try:
                self._conn.send((name, args))
                reply = self._conn.recv()
            except (EOFError, OSError, BrokenPipeError):
                self.closed = True
                raise GanforgeError("the session's worker process stopped; reload the page") from None
        return self._result(reply)

    def _seen(self, frame: dict[str, Any]) -> dict[str, Any]:
        """A frame from the worker, with the page-side state filled in."""
        self.health_state = frame.get("health", self.health_state)
        self.step_count = frame.get("step", self.step_count)
        frame["playing"], frame["speed"] = self.playing, self.speed
        frame["state"] = page_state(self.playing, self.health_state)
        return frame

    # --- what the server calls (LabSession's methods of the same names) ----------------------
    def step(self, which: str = "both") -> dict[str, float]:
        return self._call("step", which)

    def check(self) -> None:
        self._call("check")

    def reset(self) -> None:
        self._call("reset")

    def apply(self, changes: dict[str, Any]) -> bool:
        return self._call("apply", changes)

    def set_points(self, points: Any) -> None:
        self._call("set_points", points)

    def run_for(self, n_steps: int, budget_s: float) -> int:
        return self._call("run_for", n_steps, budget_s)

    def tick(self, n_steps: int, budget_s: float, check: bool) -> dict[str, Any]:
        return self._seen(self._call("tick", n_steps, budget_s, check))

    def frame(self) -> dict[str, Any]:
        return self._seen(self._call("frame"))

    def config_yaml(self) -> str:
        return self._call("config_yaml")

    def points_csv(self) -> str:
        return self._call("points_csv")

    def export_checkpoint(self, path: str) -> int:
        return self._call("export_checkpoint", path)

    def slow_step(self, phase: int) -> dict[str, Any]:
        return self._call("slow_step", phase)

    def slow_finish(self) -> None:
        self._call("slow_finish")

    def set_walk_class(self, k: int) -> None:
        self._call("set_walk_class", k)

    def stop(self) -> None:
        """The page is gone: end the worker now (a step under way is abandoned with it)."""
        self.closed = True
        self.playing = False
        if self.proc.is_alive():
            self.proc.kill()
        threading.Thread(target=self.proc.join, args=(10,), daemon=True).start()  # reap it
        self._conn.close()
