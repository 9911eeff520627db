"""The lab server through its HTTP and WebSocket interface (Starlette's in-process client)."""

import base64
import contextlib
import json
import math
import os
import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient

from ganforge.lab.server import BackgroundServer, Lab, create_app
from ganforge.lab.session import Limits
from ganforge.training.state import load_checkpoint

TESTSERVER = ["testserver"]  # the Host header of Starlette's test client
TEST_IDS = ["play", "pause", "step", "reset", "dataset", "speed", "lr-d", "lr-g", "loss", "explain",
            "model-graph", "slow-motion", "phase-text", "slow-next",
            "show-field", "status", "field", "export-model"]


@pytest.fixture
def client():
    with TestClient(create_app(Limits(max_sessions=3), TESTSERVER)) as c:
        yield c


def _recv(ws, kind="frame"):
    while True:
        msg = json.loads(ws.receive_text())
        if msg["type"] == kind:
            return msg
        if msg["type"] == "error" and kind != "error":
            raise AssertionError(msg)


def test_page_and_assets(client):
    html = client.get("/").text
    for tid in TEST_IDS:
        assert f'data-testid="{tid}"' in html, tid
    assert 'src="http' not in html and 'href="http' not in html  # no CDN: works offline
    js = client.get("/static/lab.js")
    assert js.status_code == 200 and "WebSocket" in js.text
    assert client.get("/static/lab.css").status_code == 200
    assert client.get("/static/../server.py").status_code == 404
    assert client.get("/api/options").json()["defaults"]["dataset"] == "two"


def test_session_lifecycle_play_pause_step_reset(client):
    with client.websocket_connect("/ws") as ws:
        hello = _recv(ws, "hello")
        sid = hello["session"]
        assert sid in client.app.state.lab.sessions
        f = _recv(ws)
        assert f["step"] == 0 and f["state"] == "Paused"
        ws.send_text(json.dumps({"type": "settings", "values": {"speed": 0}}))
        ws.send_text(json.dumps({"type": "play"}))
        t0 = time.time()
        step = 0
        while step < 30 and time.time() - t0 < 20:
            step = _recv(ws)["step"]
        assert step >= 30
        ws.send_text(json.dumps({"type": "pause"}))
        f = _recv(ws)
        for _ in range(50):  # frames sent before the pause arrived may still be in flight
            if not f["playing"]:
                break
            f = _recv(ws)
        assert f["playing"] is False
        ws.send_text(json.dumps({"type": "step", "which": "both"}))
        after = _recv(ws)["step"]
        ws.send_text(json.dumps({"type": "frame"}))
        assert _recv(ws)["step"] == after  # paused: nothing moves
        ws.send_text(json.dumps({"type": "reset"}))
        assert _recv(ws)["step"] == 0
    time.sleep(0.1)
    assert sid not in client.app.state.lab.sessions  # a closed tab ends its session


def test_parameter_change_reaches_the_trainer(client):
    with client.websocket_connect("/ws") as ws:
        sid = _recv(ws, "hello")["session"]
        ws.send_text(json.dumps({"type": "settings", "values": {"lr_d": 0.01, "loss": "lsgan"}}))
        f = _recv(ws)
        while f["settings"]["lr_d"] != 0.01:
            f = _recv(ws)
        s = client.app.state.lab.sessions[sid]
        assert s.trainer.opt_d.param_groups[0]["lr"] == 0.01 and s.trainer.loss.name == "lsgan"


@pytest.mark.parametrize("raw, fragment", [
    ("not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"type": "explode"}', "unknown message type"),
    ('{"type": "settings", "values": {"g_width": 99999}}', "g_width must be a number <= 256"),
    ('{"type": "settings", "values": {"speed": -3}}', "speed must be a number >= 0"),
    ('{"type": "settings"}', "needs a 'values' object"),
    ('{"type": "points", "points": [[0, 1]]}', "at least 2 points"),
    ('{"type": "step", "which": "q"}', "step must be"),
])
def test_bad_messages_get_an_error_frame_and_the_session_survives(client, raw, fragment):
    with client.websocket_connect("/ws") as ws:
        _recv(ws, "hello")
        ws.send_text(raw)
        err = _recv(ws, "error")
        assert fragment in err["message"]
        ws.send_text(json.dumps({"type": "step"}))
        assert _recv(ws)["step"] == 1


def test_session_bounds_and_reaping():
    app = create_app(Limits(max_sessions=2, idle_seconds=3600), TESTSERVER)
    with TestClient(app) as c:
        with c.websocket_connect("/ws") as a, c.websocket_connect("/ws") as b:
            sid_a = _recv(a, "hello")["session"]
            _recv(b, "hello")
            with c.websocket_connect("/ws") as third:
                err = json.loads(third.receive_text())
                assert err["type"] == "error" and "lab is full" in err["message"]
            lab = app.state.lab
            assert len(lab.sessions) == 2
            # a's session by its id: the two sessions open on threads, in either order
            lab.sessions[sid_a].playing = True  # a playing session is not idle
            for s in lab.sessions.values():
                s.last_seen -= 7200  # no message for two hours
            lab.reap()
            assert list(lab.sessions) == [sid_a]
            b.send_text(json.dumps({"type": "step"}))
            err = _recv(b, "error")
            assert "closed after being idle" in err["message"]


def test_drawn_points_and_exports(client, tmp_path):
    from ganforge import config
    from ganforge.cli import main

    with client.websocket_connect("/ws") as ws:
        sid = _recv(ws, "hello")["session"]
        pts = [[0.1 * i, (-1) ** i * 0.5] for i in range(20)]
        ws.send_text(json.dumps({"type": "points", "points": pts}))
        f = _recv(ws)
        while f["settings"]["dataset"] != "draw":
            f = _recv(ws)
        for _ in range(3):
            ws.send_text(json.dumps({"type": "step"}))
            _recv(ws)
        r = client.get(f"/api/sessions/{sid}/checkpoint")
        assert r.status_code == 200
        ck = tmp_path / "lab.safetensors"
        ck.write_bytes(r.content)
        assert load_checkpoint(ck).step == 3
        assert main(["sample", str(ck), "-n", "10", "-o", str(tmp_path / "s.csv")]) == 0
        assert len((tmp_path / "s.csv").read_text().splitlines()) == 11
        y = client.get(f"/api/sessions/{sid}/config.yaml")
        (tmp_path / "lab.yaml").write_text(y.text)
        (tmp_path / "points.csv").write_text(client.get(f"/api/sessions/{sid}/points.csv").text)
        cfg = config.load(tmp_path / "lab.yaml", [f"data.path={tmp_path / 'points.csv'}"])
        assert cfg.data.name == "csv" and cfg.train.steps == 3
    assert client.get(f"/api/sessions/{sid}/checkpoint").status_code == 404


def test_many_sessions_train_at_once():
    app = create_app(Limits(max_sessions=4), TESTSERVER)
    with TestClient(app) as c:
        conns = [c.websocket_connect("/ws") for _ in range(4)]
        wss = [cm.__enter__() for cm in conns]
        try:
            for ws in wss:
                _recv(ws, "hello")
                ws.send_text(json.dumps({"type": "settings", "values": {"speed": 50}}))
                ws.send_text(json.dumps({"type": "play"}))
            steps = []
            for ws in wss:
                s = 0
                t0 = time.time()
                while s < 5 and time.time() - t0 < 20:
                    s = _recv(ws)["step"]
                steps.append(s)
            assert all(s >= 5 for s in steps)
        finally:
            for cm in conns:
                cm.__exit__(None, None, None)


# --- hostile clients over a real socket ---------------------------------------------------------

def _handshake(port: int, host: str | None = None, origin: str | None = None) -> tuple[socket.socket, bytes]:
    """Open a raw WebSocket handshake on /ws; returns the socket and the response head."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET /ws HTTP/1.1\r\nHost: {host or f'127.0.0.1:{port}'}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if origin:
        req += f"Origin: {origin}\r\n"
    sock.sendall((req + "\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return sock, head


def _wait_for(cond, timeout: float = 10.0) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return True
        time.sleep(0.05)
    return bool(cond())


def test_clients_that_leave_during_the_handshake_free_their_slot():
    from websockets.sync.client import connect

    n = 4
    bg = BackgroundServer(Limits(max_sessions=n))
    with bg as url:
        lab = bg.server.config.app.state.lab
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        for _ in range(2 * n):  # twice the slots: a leak of even half of them fills the lab
            sock, head = _handshake(port)
            assert head.startswith(b"HTTP/1.1 101"), head
            sock.close()
        assert _wait_for(lambda: not lab.sessions), f"{len(lab.sessions)} sessions leaked"
        with connect(url.replace("http", "ws") + "ws", open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"


def _next(ws) -> dict:
    """The next message, parsed strictly (a browser's JSON.parse has no NaN or Infinity)."""
    return json.loads(ws.receive_text(), parse_constant=_no_constant)


def _no_constant(name: str):
    raise AssertionError(f"non-standard JSON token {name} sent to the page")


def _open(ws) -> str:
    sid = _next(ws)["session"]
    assert _next(ws)["type"] == "frame"
    return sid


def test_settings_beyond_their_bounds_get_an_error_frame(client):
    with client.websocket_connect("/ws") as ws:
        _open(ws)
        for values in ({"d_steps": 10**9}, {"penalty_every": 10**9}, {"lr_d": 1e30}):
            ws.send_text(json.dumps({"type": "settings", "values": values}))
            reply = _next(ws)
            assert reply["type"] == "error" and "must be a number <=" in reply["message"], reply
        ws.send_text(json.dumps({"type": "step"}))
        f = _next(ws)
        assert f["step"] == 1 and f["settings"]["d_steps"] == 1


def test_closing_a_session_stops_its_training_promptly():
    lab = Lab(Limits())
    sid, s = lab.open()
    th = threading.Thread(target=s.run_for, args=(10**6, 60.0), daemon=True)
    th.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    lab.close(sid)
    th.join(10)
    assert not th.is_alive() and time.monotonic() - t0 < 3


@pytest.mark.parametrize("raw", [
    '{"type": "settings", "values": {"lr_d": NaN}}',
    '{"type": "settings", "values": {"penalty_weight": NaN}}',
    '{"type": "settings", "values": {"penalty_weight": Infinity}}',
    '{"type": "settings", "values": {"lr_g": -Infinity}}',
    '{"type": "settings", "values": {"penalty_weight": 1e999}}',
    '{"type": "settings", "values": {"lr_d": 1e999}}',
    '{"type": "settings", "values": {"speed": NaN}}',
    '{"type": "settings", "values": {"speed": 1e999}}',
    '{"type": "frame", "x": NaN}',
])
def test_non_finite_numbers_are_refused(client, raw):
    with client.websocket_connect("/ws") as ws:
        _open(ws)
        ws.send_text(raw)
        reply = _next(ws)
        assert reply["type"] == "error", reply
        ws.send_text(json.dumps({"type": "settings", "values": {"speed": 50}}))
        f = _next(ws)
        assert f["speed"] == 50 and f["settings"]["penalty_weight"] == 1.0 and f["settings"]["lr_d"] == 0.03
        ws.send_text(json.dumps({"type": "play"}))
        for _ in range(3):  # the training loop is alive
            f = _next(ws)
        assert f["type"] == "frame" and f["playing"]


def test_frames_are_strict_json_even_when_training_diverged(client):
    import torch

    with client.websocket_connect("/ws") as ws:
        sid = _open(ws)
        s = client.app.state.lab.sessions[sid]
        with torch.no_grad():
            for p in s.trainer.g.parameters():
                p.fill_(float("nan"))
            for p in s.trainer.d.parameters():
                p.fill_(float("inf"))
        ws.send_text(json.dumps({"type": "step"}))
        f = _next(ws)  # parsed with NaN / Infinity refused
        assert f["type"] == "frame" and f["fake"][0] == [None, None]
        ws.send_text(json.dumps({"type": "frame"}))
        assert _next(ws)["type"] == "frame"


def test_outgoing_json_is_sanitised():
    from ganforge.lab.server import dumps

    text = dumps({"a": [1.0, math.nan, {"b": math.inf, "c": (-math.inf, 2)}], "d": "NaN", "e": True})
    assert json.loads(text, parse_constant=_no_constant) == {
        "a": [1.0, None, {"b": None, "c": [None, 2]}], "d": "NaN", "e": True}


@pytest.mark.parametrize("seed", [2**70, -1])
def test_a_bad_seed_gets_an_error_and_resets_keep_working(client, seed):
    with client.websocket_connect("/ws") as ws:
        _open(ws)
        ws.send_text(json.dumps({"type": "settings", "values": {"seed": seed}}))
        reply = _next(ws)
        assert reply["type"] == "error" and "seed must be" in reply["message"], reply
        ws.send_text(json.dumps({"type": "step"}))
        assert _next(ws)["step"] == 1
        ws.send_text(json.dumps({"type": "reset"}))
        f = _next(ws)
        assert f["type"] == "frame" and f["step"] == 0 and f["settings"]["seed"] == 0
        ws.send_text(json.dumps({"type": "step"}))
        assert _next(ws)["step"] == 1


DEEP = 1100


@pytest.mark.parametrize("raw, fragment", [
    ('{"type": "settings", "values": {"lr_d": ' + "[" * DEEP + "]" * DEEP + "}}", "nested too deeply"),
    ('{"type": "frame", "x": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "}", "nested too deeply"),
    ("[" * DEEP + "]" * DEEP, "nested too deeply"),
    ('{"type": "points", "points": ' + "[" * 40 + "]" * 40 + "}", "nested too deeply"),
    ('{"type": "frame", "pad": "' + "x" * 2_000_000 + '"}', "too large"),
])
def test_deep_or_huge_messages_get_an_error_frame_and_the_connection_stays(client, raw, fragment):
    with client.websocket_connect("/ws") as ws:
        _open(ws)
        ws.send_text(raw)
        reply = _next(ws)
        assert reply["type"] == "error" and fragment in reply["message"], reply
        ws.send_text(json.dumps({"type": "step"}))
        assert _next(ws)["step"] == 1


def test_binary_messages_get_an_error_frame(client):
    with client.websocket_connect("/ws") as ws:
        _open(ws)
        ws.send_bytes(b"\x00\x01")
        reply = _next(ws)
        assert reply["type"] == "error" and "text" in reply["message"], reply
        ws.send_text(json.dumps({"type": "step"}))
        assert _next(ws)["step"] == 1


def test_a_full_size_points_message_is_accepted(client):
    import random

    rng = random.Random(0)
    pts = [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(Limits().max_points)]
    with client.websocket_connect("/ws") as ws:
        _open(ws)
        ws.send_text(json.dumps({"type": "points", "points": pts}))
        f = _next(ws)
        assert f["type"] == "frame" and f["settings"]["dataset"] == "draw"


# --- only the lab's own pages may use it (Origin / Host checks) ---------------------------------

def _http_get(port: int, path: str, host: str, origin: str | None = None) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": host} | ({"Origin": origin} if origin else {})
    conn.request("GET", path, headers=headers)
    status = conn.getresponse().status
    conn.close()
    return status


def test_other_origins_and_rebound_host_names_are_refused():
    from websockets.sync.client import connect

    bg = BackgroundServer(Limits(max_sessions=2))
    with bg as url:
        lab = bg.server.config.app.state.lab
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        own = f"http://127.0.0.1:{port}"
        for host, origin in [(None, "http://evil.example"),  # a page on another site
                             (None, f"http://127.0.0.1:{port + 1}"),  # another local port
                             (None, "null"),  # a sandboxed frame or a file: page
                             (f"evil.example:{port}", None),  # DNS rebinding: evil.example -> 127.0.0.1
                             (f"evil.example:{port}", f"http://evil.example:{port}"),
                             (f"localhost:{port + 1}", None)]:
            sock, head = _handshake(port, host=host, origin=origin)
            sock.close()
            assert head.split(b"\r\n")[0].split()[1] == b"403", (host, origin, head[:40])
        assert not lab.sessions
        sid_url = f"/api/sessions/{'0' * 12}/config.yaml"
        assert _http_get(port, sid_url, f"evil.example:{port}") == 403
        assert _http_get(port, "/api/options", f"evil.example:{port}") == 403
        assert _http_get(port, "/api/options", f"127.0.0.1:{port}", origin="http://evil.example") == 403
        assert _http_get(port, "/api/options", f"localhost:{port}") == 200
        assert _http_get(port, sid_url, f"127.0.0.1:{port}", origin=own) == 404  # allowed; no such id
        for name in ("127.0.0.1", "localhost"):
            with connect(f"ws://{name}:{port}/ws", origin=f"http://{name}:{port}", open_timeout=5) as ws:
                hello = json.loads(ws.recv(timeout=10))
                assert hello["type"] == "hello"
                assert _http_get(port, f"/api/sessions/{hello['session']}/config.yaml",
                                 f"evil.example:{port}") == 403
                assert _http_get(port, f"/api/sessions/{hello['session']}/config.yaml",
                                 f"{name}:{port}", origin=f"http://{name}:{port}") == 200


def test_by_default_only_loopback_names_are_served():
    from starlette.websockets import WebSocketDisconnect

    app = create_app(Limits(max_sessions=2))
    with TestClient(app) as c:  # Host: testserver
        assert c.get("/api/options").status_code == 403
        with pytest.raises(WebSocketDisconnect) as e:
            with c.websocket_connect("/ws") as ws:
                ws.receive_text()
        assert e.value.code == 1008
    with TestClient(app, base_url="http://localhost:8123") as c:
        assert c.get("/api/options").status_code == 200
        assert c.get("/api/options", headers={"origin": "http://evil.example"}).status_code == 403
        with pytest.raises(WebSocketDisconnect) as e:
            evil = {"origin": "http://evil.example"}
            with c.websocket_connect("ws://localhost:8123/ws", headers=evil) as ws:
                ws.receive_text()
        assert e.value.code == 1008
        assert not app.state.lab.sessions
        with c.websocket_connect("ws://localhost:8123/ws", headers={"origin": "http://localhost:8123"}) as ws:
            assert _next(ws)["type"] == "hello"


def test_serve_checks_hosts_and_warns_beyond_loopback(monkeypatch, capsys):
    import uvicorn

    from ganforge.lab.server import serve

    apps = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: apps.append((app, kw)))
    serve("127.0.0.1", 8765, open_browser=False)
    assert "no authentication" not in capsys.readouterr().err
    app, kw = apps[-1]
    assert kw["host"] == "127.0.0.1" and kw["port"] == 8765
    assert 0 < kw["timeout_graceful_shutdown"] <= 5  # Ctrl-C / SIGTERM never wait on a page for long
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        assert c.get("/api/options").status_code == 200
        assert c.get("/api/options", headers={"host": "localhost:8765"}).status_code == 200
        assert c.get("/api/options", headers={"host": "[::1]:8765"}).status_code == 200
        assert c.get("/api/options", headers={"host": "localhost:8766"}).status_code == 403
        assert c.get("/api/options", headers={"host": "evil.example:8765"}).status_code == 403
    serve("0.0.0.0", 8765, open_browser=False)
    err = capsys.readouterr().err
    assert "no authentication" in err and len(err.strip().splitlines()) == 1


def test_lab_hosts():
    from ganforge.lab.server import lab_hosts

    hosts = lab_hosts("127.0.0.1", 8000)
    assert {"127.0.0.1:8000", "localhost:8000", "[::1]:8000"} <= hosts
    assert "localhost:8001" not in hosts and "localhost" not in hosts
    assert "[::1]:8000" in lab_hosts("::1", 8000)
    assert {"lab.example:80", "lab.example"} <= lab_hosts("Lab.Example", 80)


def test_the_server_stops_promptly_with_a_session_training():
    from websockets.sync.client import connect

    bg = BackgroundServer(Limits(max_sessions=2))
    assert 0 < bg.server.config.timeout_graceful_shutdown <= 5
    with contextlib.ExitStack() as page:  # the page stays open while the server stops
        with bg as url:
            lab = bg.server.config.app.state.lab
            ws = page.enter_context(connect(url.replace("http", "ws") + "ws", open_timeout=5))
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
            values = {"speed": 0, "d_steps": 10, "penalty": "gp", "batch_size": 512}
            ws.send(json.dumps({"type": "settings", "values": values}))
            ws.send(json.dumps({"type": "play"}))
            assert _wait_for(lambda: len(lab.sessions) == 1)
            s = next(iter(lab.sessions.values()))
            assert _wait_for(lambda: s.trainer.step >= 3, 20)
            t0 = time.monotonic()
        elapsed = time.monotonic() - t0  # BackgroundServer.__exit__: uvicorn's shutdown, as on SIGTERM
    assert not bg.thread.is_alive() and elapsed < 8
    assert s.closed and not lab.sessions


def test_sigterm_stops_ganforge_lab_promptly_mid_training():
    import signal
    import subprocess
    import sys

    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from ganforge.cli import main; "
                             f"sys.exit(main(['lab', '--port', '{port}', '--no-browser']))"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert _wait_for(lambda: _http_get_or_none(port) == 200, 30), "the lab did not start"
        with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
            values = {"speed": 0, "d_steps": 10, "penalty": "gp", "batch_size": 1024}
            ws.send(json.dumps({"type": "settings", "values": values}))
            ws.send(json.dumps({"type": "play"}))
            for _ in range(3):
                ws.recv(timeout=10)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012  # a graceful close
            rc = proc.wait(15)
        err = proc.stderr.read().decode()
        # uvicorn shuts down gracefully, then re-raises the signal it caught: rc -SIGTERM
        assert time.monotonic() - t0 < 8 and rc in (0, -signal.SIGTERM) and "Traceback" not in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _http_get_or_none(port: int) -> int | None:
    try:
        return _http_get(port, "/api/options", f"127.0.0.1:{port}")
    except OSError:
        return None


def test_a_failing_training_tick_pauses_with_an_error_frame(client):
    with client.websocket_connect("/ws") as ws:
        sid = _open(ws)
        s = client.app.state.lab.sessions[sid]

        def broken(n, budget):
            raise RuntimeError("x" * 100_000)

        s.run_for = broken
        ws.send_text(json.dumps({"type": "play"}))
        assert _next(ws)["playing"] is True
        assert _wait_for(lambda: not s.playing, 5)  # the loop caught it and paused
        err = _next(ws)
        for _ in range(20):  # frames of ticks that had no step due yet may come first
            if err["type"] == "error":
                break
            err = _next(ws)
        assert err["type"] == "error" and "training stopped" in err["message"]
        assert len(err["message"]) < 1000  # error frames are short, whatever they quote
        del s.run_for
        ws.send_text(json.dumps({"type": "step"}))
        assert _next(ws)["step"] == 1


def test_sessions_in_worker_processes_play_step_export_and_stop(tmp_path):
    """`ganforge lab` runs each session in its own process (off the server's GIL): the same
    messages, frames and exports as in-process sessions; closing the page ends the process."""
    limits = Limits(max_sessions=2, processes=True)
    with TestClient(create_app(limits, ["testserver"])) as c:
        with c.websocket_connect("/ws") as ws:
            sid = _recv(ws, "hello")["session"]
            worker = c.app.state.lab.sessions[sid].proc
            assert worker.is_alive() and worker.pid != __import__("os").getpid()
            assert _recv(ws)["step"] == 0
            ws.send_text(json.dumps({"type": "step"}))
            assert _recv(ws)["step"] == 1
            ws.send_text(json.dumps({"type": "settings", "values": {"seed": -1}}))
            assert "seed" in _recv(ws, "error")["message"]
            for k in range(6):  # slow motion through the worker
                ws.send_text(json.dumps({"type": "slow", "phase": k}))
                assert _recv(ws)["phase"] == k
            ws.send_text(json.dumps({"type": "settings", "values": {"speed": 0}}))
            ws.send_text(json.dumps({"type": "play"}))
            t0 = time.time()
            f = _recv(ws)
            while not (f["playing"] and f["step"] > 20) and time.time() - t0 < 30:
                f = _recv(ws)
            assert f["playing"] and f["state"] in ("Running", "Converged") and f["step"] > 20
            r = c.get(f"/api/sessions/{sid}/checkpoint")
            assert r.status_code == 200
            (tmp_path / "lab.safetensors").write_bytes(r.content)
            assert load_checkpoint(tmp_path / "lab.safetensors").step >= 20
            assert "exported from the ganforge lab" in c.get(f"/api/sessions/{sid}/config.yaml").text
        t0 = time.time()
        while worker.is_alive() and time.time() - t0 < 10:
            time.sleep(0.05)
        assert not worker.is_alive() and sid not in c.app.state.lab.sessions


def test_slow_motion_messages_walk_a_step_in_phases(client):
    with client.websocket_connect("/ws") as ws:
        _recv(ws)
        texts = []
        for k in range(6):
            ws.send_text(json.dumps({"type": "slow", "phase": k}))
            f = _recv(ws)
            assert f["phase"] == k and f["phases"] == 6 and f["playing"] is False
            assert f["step"] == (0 if k < 5 else 1)  # an ordinary frame, plus the phase
            assert f["slow"]["real"] and "field" in f
            texts.append(f["phase_text"])
        assert len(set(texts)) == 6
        assert "fake_after" in f["slow"] and f["stats"]["loss_g"] is not None
        for bad, fragment in [(7, "phase must be an integer"), ("x", "phase must be an integer"),
                              (3, "out of order: the next phase is 0")]:
            ws.send_text(json.dumps({"type": "slow", "phase": bad}))
            assert fragment in _recv(ws, "error")["message"]
        ws.send_text(json.dumps({"type": "step"}))  # the session survives, back to normal frames
        f = _recv(ws)
        assert f["step"] == 2 and "phase" not in f
