"""What every scenario shares: the result row, the run context and latency statistics."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.pool import WorkerPool
from harness.procstat import PhaseStats, Sampler
from harness.servers import Running

Better = Literal["lower", "higher", "info", "check"]
MiB = 1024 * 1024


@dataclass
class Row:
    """One figure of one scenario for one server."""

    metric: str
    unit: str
    value: float | None
    better: Better = "lower"


@dataclass
class Context:
    """A started server, a fresh load-generator pool, a sampler and the scenario parameters."""

    server: Running
    pool: WorkerPool
    sampler: Sampler
    params: dict[str, Any]
    smoke: bool
    trace: str
    phases: list[tuple[str, PhaseStats]] = field(default_factory=list)

    @property
    def target(self) -> dict[str, str]:
        return self.server.target

    def settle(self, *, window: float = 3.0, limit: float = 60.0) -> int:
        """The server's RSS once it stops moving (a quick reading in smoke runs)."""
        if self.smoke:
            return self.sampler.server_rss()
        return settle_rss(self.sampler, window=window, limit=limit)

    def start_at(self) -> float:
        """A shared wall-clock start, far enough ahead for every worker to get the command."""
        return now_ms() + (300 if self.smoke else 1000)

    def phase(self, label: str) -> Any:
        ph = self.sampler.phase()
        self.phases.append((label, ph.stats))
        return ph


def now_ms() -> float:
    """Wall-clock milliseconds: the clock the Node workers stamp edits with."""
    return time.time() * 1000.0


def merge_histograms(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    buckets: dict[int, int] = {}
    count, peak, total = 0, 0.0, 0.0
    for h in parts:
        for k, v in h["buckets"].items():
            buckets[int(k)] = buckets.get(int(k), 0) + int(v)
        count += int(h["count"])
        peak = max(peak, float(h["max"]))
        total += float(h["sum"])
    return {"buckets": buckets, "count": count, "max": peak, "sum": total}


def percentile(hist: dict[str, Any], q: float) -> float | None:
    """The q-quantile (0..1) in ms of a merged log-bucket histogram (1 % resolution)."""
    if not hist["count"]:
        return None
    rank = max(1, math.ceil(q * hist["count"]))
    seen = 0
    for b in sorted(hist["buckets"]):
        seen += hist["buckets"][b]
        if seen >= rank:
            return min(1.01 ** (b + 0.5) / 1000.0, hist["max"])
    return float(hist["max"])


def latency_rows(hist: dict[str, Any], what: str) -> list[Row]:
    return [
        Row(f"{what} p50", "ms", percentile(hist, 0.50)),
        Row(f"{what} p95", "ms", percentile(hist, 0.95)),
        Row(f"{what} p99", "ms", percentile(hist, 0.99)),
        Row(f"{what} max", "ms", hist["max"] if hist["count"] else None),
    ]


def cost_rows(stats: PhaseStats) -> list[Row]:
    return [
        Row("server CPU", "cores", stats.server_cpu),
        Row("server RSS peak", "MiB", stats.server_rss_peak / MiB),
        Row("load generator CPU", "cores", stats.loadgen_cpu, "info"),
    ]


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def flatten(groups: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [spec for group in groups for spec in group]


def settle_rss(sampler: Sampler, *, window: float = 3.0, limit: float = 60.0) -> int:
    """The server's RSS once it stops moving (within 1 % over `window` s), or after `limit` s."""
    deadline = time.monotonic() + limit
    history: list[tuple[float, int]] = []
    while True:
        t = time.monotonic()
        history.append((t, sampler.server_rss()))
        recent = [r for ts, r in history if ts >= t - window]
        if t - history[0][0] >= window and max(recent) - min(recent) <= 0.01 * max(recent):
            return history[-1][1]
        if t >= deadline:
            return history[-1][1]
        time.sleep(0.5)
