"""An ASGI app served by uvicorn from a thread: what tests, benchmarks and screenshots use to run the
lab or the API in-process (`with ...BackgroundServer(...) as url:`). One home for the port choice,
the start-up wait and the shutdown, shared by lab/server.py and serve/app.py."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from .errors import GanforgeError


def free_port(host: str) -> int:
    """A port the OS has free on host now (port 0 asks it to choose)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """`server`: a uvicorn.Server; `url`: where it answers. Entering starts it and waits (at most
    30 s) until it accepts connections; leaving asks it to stop and joins the thread."""

    what = "the server"

    def __init__(self, server: Any, url: str) -> None:
        self.server = server
        self.url = url

    def __enter__(self) -> str:
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        t0 = time.monotonic()
        while not self.server.started:
            if time.monotonic() - t0 > 30 or not self.thread.is_alive():
                raise GanforgeError(f"{self.what} did not start on {self.url}")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
