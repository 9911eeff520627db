"""Only the lab's own pages, reached by the lab's own address, may use it: any web page may open
a WebSocket to localhost, and DNS rebinding lends a page a name for it. `OwnOriginOnly` checks the
Host and Origin of every request; `lab_hosts` says which Host values a server on host:port has.
"""

from __future__ import annotations

import contextlib
import socket

from fastapi.responses import PlainTextResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK = ("127.0.0.1", "localhost", "[::1]")  # names of this machine as a Host header gives them
ANY_ADDRESS = ("0.0.0.0", "::", "")


def host_name(host: str) -> str:
    """A bind address as a Host header names it (IPv6 literals in brackets), lower case."""
    host = host.strip().lower()
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def is_loopback(host: str) -> bool:
    """Whether binding to host keeps the lab to this machine."""
    h = host.strip().lower().strip("[]")
    return h in ("localhost", "::1") or h.startswith("127.")


def _machine_names() -> set[str]:
    """This machine's names and addresses: a lab bound to all interfaces is reached by them."""
    names: set[str] = set()
    with contextlib.suppress(OSError):
        hostname = socket.gethostname()
        names |= {hostname.lower(), socket.getfqdn().lower()}
        names |= {host_name(str(info[4][0])) for info in socket.getaddrinfo(hostname, None)}
    return names


def lab_hosts(host: str, port: int) -> frozenset[str]:
    """The Host header values that name a lab served on host:port: the loopback names, the bind
    address and, bound to all interfaces, this machine's names; each with the port."""
    names = {*LOOPBACK, host_name(host)}
    if host.strip() in ANY_ADDRESS:
        names |= _machine_names()
    hosts = {f"{n}:{port}" for n in names}
    if port == 80:  # a browser leaves the default port out
        hosts |= names
    return frozenset(hosts)


def _name_of(host: str) -> str:
    """The name part of a Host header value: '[::1]:8000' -> '[::1]', 'localhost:80' -> 'localhost'."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0]


def trusted(host: str | None, origin: str | None, allowed: frozenset[str] | None) -> bool:
    """Whether a request names the lab by one of its own addresses (allowed; None = loopback names
    on any port) and, when it comes from a page (Origin), from a page of that same origin."""
    if not host:
        return False
    host = host.strip().lower()
    if not (_name_of(host) in LOOPBACK if allowed is None else host in allowed):
        return False
    return origin is None or origin.strip().lower() in (f"http://{host}", f"https://{host}")


class OwnOriginOnly:
    """ASGI middleware that refuses requests failing `trusted`: HTTP with 403, a WebSocket with
    close code 1008 (policy violation) before it is accepted, so no session is created."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str] | None = None) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = Headers(scope=scope)
            if not trusted(headers.get("host"), headers.get("origin"), self.allowed):
                why = "the lab serves only its own pages at its own address (Host / Origin check)"
                if scope["type"] == "websocket":
                    await receive()  # websocket.connect
                    await send({"type": "websocket.close", "code": 1008, "reason": why})
                else:
                    await PlainTextResponse(why, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
