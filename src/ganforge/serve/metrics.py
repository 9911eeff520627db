"""Prometheus text exposition for /metrics, by hand: three counters and three histograms do not
need prometheus_client (one more dependency and a process-global registry that tests would share).

Label values are bounded: endpoints are the app's own routes (anything else is "other") and
statuses are integers, so a client cannot grow the series without bound.
"""

from __future__ import annotations

import threading
from collections import defaultdict

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Histogram:
    """Cumulative-bucket histogram (Prometheus' `le` convention), sum and count."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.sum = 0.0
        self.count = 0

    def observe(self, v: float) -> None:
        for i, b in enumerate(self.buckets):
            if v <= b:
                self.counts[i] += 1
                break
        self.sum += v
        self.count += 1

    def lines(self, name: str, labels: str = "") -> list[str]:
        sep = "," if labels else ""
        out, running = [], 0
        for b, c in zip(self.buckets, self.counts, strict=True):
            running += c
            out.append(f'{name}_bucket{{{labels}{sep}le="{b:g}"}} {running}')
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}')
        lab = f"{{{labels}}}" if labels else ""
        out += [f"{name}_sum{lab} {self.sum:.6g}", f"{name}_count{lab} {self.count}"]
        return out


class Metrics:
    """Requests by endpoint and status, latency by endpoint, forward-pass batch sizes."""

    def __init__(self, max_batch: int) -> None:
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.latency: dict[str, Histogram] = {}
        sizes, b = [], 1
        while b < max_batch:
            sizes.append(float(b))
            b *= 2
        self.batch_samples = Histogram((*sizes, float(max_batch)))
        self.batch_requests = Histogram((1, 2, 4, 8, 16, 32, 64, 128, 256))
        self.in_flight = 0

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[(endpoint, status)] += 1
            self.latency.setdefault(endpoint, Histogram(LATENCY_BUCKETS)).observe(seconds)

    def batch(self, samples: int, requests: int) -> None:
        with self.lock:
            self.batch_samples.observe(samples)
            self.batch_requests.observe(requests)

    def text(self) -> str:
        with self.lock:
            out = ["# HELP ganforge_requests_total HTTP requests by endpoint and status.",
                   "# TYPE ganforge_requests_total counter"]
            out += [f'ganforge_requests_total{{endpoint="{e}",status="{s}"}} {n}'
                    for (e, s), n in sorted(self.requests.items())]
            out += ["# HELP ganforge_request_seconds Time from request to the end of the response.",
                    "# TYPE ganforge_request_seconds histogram"]
            for e, h in sorted(self.latency.items()):
                out += h.lines("ganforge_request_seconds", f'endpoint="{e}"')
            out += ["# HELP ganforge_batch_samples Samples per forward pass.",
                    "# TYPE ganforge_batch_samples histogram",
                    *self.batch_samples.lines("ganforge_batch_samples"),
                    "# HELP ganforge_batch_requests Requests per forward pass.",
                    "# TYPE ganforge_batch_requests histogram",
                    *self.batch_requests.lines("ganforge_batch_requests"),
                    "# HELP ganforge_in_flight Requests being served now.",
                    "# TYPE ganforge_in_flight gauge", f"ganforge_in_flight {self.in_flight}"]
        return "\n".join(out) + "\n"
