"""CPU and memory figures read from /proc (Linux), sampled on a background thread.

A phase records, for the server's process tree and for the load-generator workers: CPU seconds
used (shown as average cores busy), peak and final RSS; and for the whole machine: the busy cores
from /proc/stat (so what everybody else on the machine used is the remainder) and the load
average.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
PROC = Path("/proc")


def children_of(pid: int) -> list[int]:
    """`pid` and all its descendants (by walking /proc/*/stat parent ids)."""
    parents: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds of the given processes (vanished ones count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def rss_bytes(pids: Iterable[int]) -> int:
    """Resident set size summed over the given processes."""
    total = 0
    for pid in pids:
        try:
            fields = (PROC / str(pid) / "statm").read_text().split()
        except OSError:
            continue
        total += int(fields[1]) * PAGE
    return total


def machine_busy() -> tuple[float, float]:
    """(busy seconds, total seconds) summed over all CPUs since boot."""
    parts = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    values = [int(x) for x in parts]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK, sum(values[:8]) / CLK_TCK


def loadavg() -> float:
    return float((PROC / "loadavg").read_text().split()[0])


@dataclass
class PhaseStats:
    """What one measured phase cost."""

    seconds: float = 0.0
    server_cpu: float = 0.0  # average cores
    loadgen_cpu: float = 0.0  # average cores
    machine_cpu: float = 0.0  # average busy cores, everything on the machine
    other_cpu: float = 0.0  # machine - server - load generator: other agents' work
    server_rss_peak: int = 0
    server_rss_end: int = 0
    loadavg_start: float = 0.0
    loadavg_end: float = 0.0
    samples: list[int] = field(default_factory=list)


class Sampler:
    """Samples RSS every `interval` seconds while a phase runs (CPU comes from counters)."""

    def __init__(
        self,
        server_pids: Callable[[], list[int]],
        loadgen_pids: Callable[[], list[int]],
        interval: float = 0.25,
    ) -> None:
        self._server_pids = server_pids
        self._loadgen_pids = loadgen_pids
        self._interval = interval

    def server_rss(self) -> int:
        return rss_bytes(self._server_pids())

    def phase(self) -> _Phase:
        return _Phase(self)


class _Phase:
    def __init__(self, sampler: Sampler) -> None:
        self.s = sampler
        self.stats = PhaseStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.s._interval):
            rss = self.s.server_rss()
            self.stats.samples.append(rss)
            self.stats.server_rss_peak = max(self.stats.server_rss_peak, rss)

    def __enter__(self) -> PhaseStats:
        self._t0 = time.monotonic()
        self._srv0 = cpu_seconds(self.s._server_pids())
        self._gen0 = cpu_seconds(self.s._loadgen_pids())
        self._busy0, _total0 = machine_busy()
        self.stats.loadavg_start = loadavg()
        self.stats.server_rss_peak = self.s.server_rss()
        self._thread.start()
        return self.stats

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        st = self.stats
        st.seconds = max(time.monotonic() - self._t0, 1e-9)
        busy1, _total1 = machine_busy()
        st.server_cpu = (cpu_seconds(self.s._server_pids()) - self._srv0) / st.seconds
        st.loadgen_cpu = (cpu_seconds(self.s._loadgen_pids()) - self._gen0) / st.seconds
        st.machine_cpu = (busy1 - self._busy0) / st.seconds
        st.other_cpu = max(0.0, st.machine_cpu - st.server_cpu - st.loadgen_cpu)
        st.server_rss_end = self.s.server_rss()
        st.server_rss_peak = max(st.server_rss_peak, st.server_rss_end)
        st.loadavg_end = loadavg()
