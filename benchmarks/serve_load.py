"""`ganforge serve` under load: C concurrent clients (keep-alive connections on 127.0.0.1) each
asking for 16 DCGAN-28 images (npy) in a closed loop, against a server in its own process.
Reports throughput, p50 / p99 latency, errors and the server's RSS before and after.

    python benchmarks/serve_load.py [--clients 32] [--requests 10000] [--seconds 120] [--backend torch]
Stops at --requests or --seconds, whichever comes first. The checkpoint is a DCGAN-28 trained for
one step on ../shared/data/mnist in a temporary folder (the weights do not change the speed).
Writes benchmarks/results/serve_load.md. Targets: 0 errors, p99 < 50 ms, RSS growth < 50 MB over
10,000 requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _runs import write_results  # noqa: E402

MNIST = ROOT.parent / "shared" / "data" / "mnist"  # the 10,000-image test set beside the checkout


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes) -> int:
    """One keep-alive POST /v1/samples; returns the status (the body is read and dropped)."""
    writer.write(b"POST /v1/samples HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(v.split(":", 1)[1]) for v in lines if v.lower().startswith("content-length:"))
    await reader.readexactly(length)
    return status


async def load(port: int, clients: int, n: int, requests: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = [0]
    sent = [0]
    deadline = time.monotonic() + seconds

    async def client(i: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        seed = i
        try:
            while sent[0] < requests and time.monotonic() < deadline:
                sent[0] += 1
                body = json.dumps({"n": n, "seed": seed, "format": "npy"}).encode()
                seed += clients
                t0 = time.perf_counter()
                try:
                    status = await post(reader, writer, body)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors[0] += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                latencies.append(time.perf_counter() - t0)
                if status != 200:
                    errors[0] += 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    wall = time.perf_counter() - t0
    latencies.sort()
    q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000  # noqa: E731
    return {"requests": len(latencies), "errors": errors[0], "wall": wall,
            "rps": len(latencies) / wall, "p50": q(0.50), "p99": q(0.99), "max": latencies[-1] * 1000}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--seconds", type=float, default=120)
    p.add_argument("-n", type=int, default=16, help="images per request")
    p.add_argument("--backend", default="torch", help="torch or onnx")
    p.add_argument("--max-wait-ms", type=float, default=5.0)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "serve_load.md"))
    args = p.parse_args()
    t_start = time.time()
    import ganforge

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "mnist"
        ganforge.train(ROOT / "configs" / "mnist-dcgan.yaml", out=run, plots=False,
                       overrides={"train.steps": 1, "train.batch_size": 16, "train.ckpt_every": 1,
                                  "train.ema": 0.0, "data.path": str(MNIST)})
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        server = subprocess.Popen([sys.executable, "-m", "ganforge", "serve", str(run), "--device", "cpu",
                                   "--port", str(port), "--backend", args.backend,
                                   "--max-wait-ms", str(args.max_wait_ms)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            print(server.stdout.readline().strip(), flush=True)  # the "serving ..." line
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            asyncio.run(load(port, args.clients, args.n, 200, 30))  # warm-up
            before = rss_mb(server.pid)
            r = asyncio.run(load(port, args.clients, args.n, args.requests, args.seconds))
            after = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(10)
    ok_err, ok_p99 = r["errors"] == 0, r["p99"] < 50
    lines = ["# `ganforge serve` under load", "",
             f"{args.clients} concurrent keep-alive clients on 127.0.0.1, each POSTing /v1/samples for "
             f"{args.n} DCGAN-28 images (npy) in a closed loop; server: `ganforge serve --backend "
             f"{args.backend} --max-wait-ms {args.max_wait_ms:g}` in its own process; clients in this one, "
             f"on the same {os.cpu_count()} cores. Stopped at {args.requests:,} requests or "
             f"{args.seconds:g} s.", "",
             "| requests | errors | throughput | images/s | p50 | p99 | max | server RSS before -> after |",
             "|---|---|---|---|---|---|---|---|",
             f"| {r['requests']:,} | {r['errors']} | {r['rps']:,.0f} req/s | {r['rps'] * args.n:,.0f} | "
             f"{r['p50']:.1f} ms | {r['p99']:.1f} ms | {r['max']:.0f} ms | {before:.0f} -> {after:.0f} MB "
             f"({after - before:+.1f}) |", "",
             f"Targets: 0 errors {'met' if ok_err else 'missed'}; p99 < 50 ms "
             f"{'met' if ok_p99 else 'missed'} ({r['p99']:.1f} ms); RSS growth < 50 MB "
             f"{'met' if after - before < 50 else 'missed'} ({after - before:+.1f} MB over "
             f"{r['requests']:,} requests).", ""]
    write_results(lines, args.out, t_start)


if __name__ == "__main__":
    main()
