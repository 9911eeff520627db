"""The lab under load: N pages playing at once against one `ganforge lab` server, with every
session training on the server's threads (`--in-process`, the old way) and with a worker process
per session (the default), side by side in one run.

Each simulated page opens a WebSocket (with the lab's own Origin), sets speed 0 (as fast as the
machine goes, the heaviest setting) and plays for --seconds; we count the frames each page gets,
time an HTTP request to the server every 0.25 s (is the page still responsive?), and read the CPU
time of the server process and of its workers from /proc.

Pages train on two clusters (2-D points) and, with `--data two digits`, on the image view too
(small DCGAN nets on 8x8 digits shown at 16x16, a far heavier step and frame).

    python benchmarks/lab_load.py [--sessions 4 8] [--seconds 15] [--data two digits]
Writes benchmarks/results/lab.md. Linux only (/proc); traffic only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _runs import write_results  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
DATA_NAMES = {"two": "two clusters (2-D)", "digits": "digits (images, DCGAN)"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def _descendants(pid: int) -> list[int]:
    """Every process below pid (the workers, the fork server)."""
    kids: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(p.name))
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


async def _page(url: str, origin: str, seconds: float, counts: list[int], steps: list[int],
                data: str, start: asyncio.Event) -> None:
    import websockets

    async with websockets.connect(url, origin=origin, max_size=2**24) as ws:
        while json.loads(await ws.recv())["type"] != "frame":
            pass
        if data != "two":
            await ws.send(json.dumps({"type": "settings", "values": {"dataset": data}}))
            while True:  # the page's reset onto the image set
                msg = json.loads(await ws.recv())
                if msg["type"] == "error":
                    raise RuntimeError(msg["message"])
                if msg["type"] == "frame" and msg["settings"]["dataset"] == data:
                    break
        await start.wait()
        await ws.send(json.dumps({"type": "settings", "values": {"speed": 0}}))
        await ws.send(json.dumps({"type": "play"}))
        t_end = time.perf_counter() + seconds
        n, first, last = 0, None, 0
        while time.perf_counter() < t_end:
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), timeout=t_end - time.perf_counter()))
            except asyncio.TimeoutError:
                break
            if msg["type"] == "frame" and msg["playing"]:
                n += 1
                first = msg["step"] if first is None else first
                last = msg["step"]
        counts.append(n)
        steps.append(last - (first or 0))
        await ws.send(json.dumps({"type": "pause"}))


async def _probe(base: str, seconds: float, lat: list[float]) -> None:
    """An HTTP request every 0.25 s: how long the page waits for the server."""
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        await asyncio.to_thread(lambda: urllib.request.urlopen(base + "api/options", timeout=30).read())
        lat.append(time.perf_counter() - t0)
        await asyncio.sleep(0.25)


async def _load(port: int, n: int, seconds: float, data: str
                ) -> tuple[list[int], list[int], list[float]]:
    base = f"http://127.0.0.1:{port}/"
    counts: list[int] = []
    steps: list[int] = []
    lat: list[float] = []
    start = asyncio.Event()
    pages = [asyncio.create_task(_page(f"ws://127.0.0.1:{port}/ws", base.rstrip("/"), seconds, counts,
                                       steps, data, start)) for _ in range(n)]
    await asyncio.sleep(0.5)
    while not all(t.done() for t in pages) and len([t for t in pages if not t.done()]) < n:
        await asyncio.sleep(0.1)
    start.set()
    await asyncio.gather(_probe(base, seconds, lat), *pages)
    return counts, steps, lat


def run(mode: str, n: int, seconds: float, data: str = "two") -> dict:
    port = _free_port()
    cmd = [sys.executable, "-m", "ganforge.cli", "lab", "--no-browser", "--port", str(port),
           "--max-sessions", str(n)]
    if mode == "threads":
        cmd.append("--in-process")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        t0 = time.time()
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/options", timeout=2).read()
                break
            except OSError:
                if time.time() - t0 > 60 or proc.poll() is not None:
                    out = proc.stdout.read() if proc.stdout else ""
                    raise RuntimeError(f"the lab did not start: {out}") from None
                time.sleep(0.2)
        before = {p: _cpu_s(p) for p in [proc.pid, *_descendants(proc.pid)]}
        seen: dict[int, float] = {}  # CPU seconds of each process, sampled while the pages play
        stop = threading.Event()

        def sample() -> None:  # workers end with their pages: read them while they live
            while not stop.wait(0.5):
                for p in [proc.pid, *_descendants(proc.pid)]:
                    seen[p] = max(seen.get(p, 0.0), _cpu_s(p))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t_start = time.perf_counter()
        counts, steps, lat = asyncio.run(_load(port, n, seconds, data))
        wall = time.perf_counter() - t_start
        stop.set()
        sampler.join()
        used = {p: v - before.get(p, 0.0) for p, v in seen.items()}
        server = used.get(proc.pid, 0.0) / wall
        workers = sum(v for p, v in used.items() if p != proc.pid) / wall
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    fps = [c / seconds for c in counts]
    return {"mode": mode, "sessions": n, "data": data, "fps_min": min(fps),
            "fps_median": statistics.median(fps),
            "steps_median": statistics.median(steps) / seconds,
            "lat_median_ms": 1000 * statistics.median(lat), "lat_max_ms": 1000 * max(lat),
            "server_cpu": 100 * server, "workers_cpu": 100 * workers}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--data", nargs="+", default=["two", "digits"], help="data sets the pages train on")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "lab.md"))
    args = ap.parse_args()
    t0 = time.time()
    rows = []
    for data in args.data:
        for n in args.sessions:
            for mode in ("threads", "processes"):
                r = run(mode, n, args.seconds, data)
                rows.append(r)
                print(f"{data} {mode:9s} x{n}: frames/s per page min {r['fps_min']:.1f} median "
                      f"{r['fps_median']:.1f}; steps/s {r['steps_median']:.0f}; "
                      f"HTTP latency median {r['lat_median_ms']:.0f} ms max {r['lat_max_ms']:.0f} ms; "
                      f"server {r['server_cpu']:.0f}% CPU, workers {r['workers_cpu']:.0f}%", flush=True)
    table = ["| data | sessions | sessions run on | frames/s per page (min / median) | training steps/s per "
             "page (median) | HTTP latency (median / max) | server process CPU | worker processes CPU |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        where = "the server's threads (--in-process)" if r["mode"] == "threads" else "a process each"
        table.append(f"| {DATA_NAMES.get(r['data'], r['data'])} | {r['sessions']} | {where} | "
                     f"{r['fps_min']:.1f} / {r['fps_median']:.1f} | {r['steps_median']:.0f} | "
                     f"{r['lat_median_ms']:.0f} / {r['lat_max_ms']:.0f} ms | {r['server_cpu']:.0f}% | "
                     f"{r['workers_cpu']:.0f}% |")
    four = [r for r in rows if r["sessions"] == 4 and r["mode"] == "processes" and r["data"] == "two"]
    verdict = ""
    if four:
        ok = four[0]["fps_min"] >= 8
        verdict = (f"Target (4 pages playing, each >= 8 frames/s): {'met' if ok else 'MISSED'} "
                   f"({four[0]['fps_min']:.1f} frames/s for the slowest page).")
    lines = [
        "# The lab under load", "",
        f"Pages playing at speed 0 (as fast as the machine goes) for {args.seconds:g} s each, against one "
        f"`ganforge lab` on this {os.cpu_count()}-core machine; the frame rate is capped at 10 frames/s "
        "per page by the server. Both modes measured one after the other in one run; steps/s counts the "
        "training steps a page saw between its first and last frame.", "",
        *table, "", verdict, "",
        "CPU shares are of one core (200% = both cores of this machine). The simulated pages run in the "
        "benchmark's own process on the same 2 cores, so the figures include their cost too."]
    write_results(lines, args.out, t0)


if __name__ == "__main__":
    main()
