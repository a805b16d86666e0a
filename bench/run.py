"""Run the benchmark suite and write docs/benchmarks.md.

    .venv/bin/python bench/run.py            # the full suite (about half an hour)
    .venv/bin/python bench/run.py --smoke    # tiny parameters, seconds: works and converges?

Starts our server (embedded defaults, then PostgreSQL + Redis), Hocuspocus and the y-websocket
reference server one after another, runs every scenario against each with real yjs clients in
separate Node load-generator processes, and writes one table per scenario with our figure
divided by the best anchor's. Exit status 1 when a scenario failed or did not converge.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import documents, liveroom, report, rooms
from harness.common import Context, Row
from harness.pool import BENCH_DIR, WorkerPool
from harness.procstat import Sampler
from harness.servers import REPO, SERVERS

DEFAULT_TRACE = BENCH_DIR / "data" / "automerge-paper.json.gz"  # bench/data/README.md


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    run: Callable[[Context], list[Row]]
    full: dict[str, Any]
    smoke: dict[str, Any]
    multinode: bool = False  # also run on the servers of several nodes (ours-pg-redis-2)
    in_smoke: bool = True  # part of `--smoke` (the room sizes share one smoke variant)


SCENARIOS = [
    Scenario(
        "fanout",
        "1. Fan-out: 10 rooms x 10 clients",
        rooms.fanout,
        {"rooms": 10, "clients": 10, "rate": 2, "duration": 20},
        {"rooms": 2, "clients": 3, "rate": 2, "duration": 1},
    ),
    Scenario(
        "bigroom",
        "2. Fan-out in one big room: 1 x 100 clients",
        rooms.fanout,
        {"rooms": 1, "clients": 100, "rate": 2, "duration": 20},
        {"rooms": 1, "clients": 6, "rate": 2, "duration": 1},
    ),
    Scenario(
        "storm-one",
        "3a. Connect storm: 500 clients into one room",
        rooms.storm,
        {"rooms": 1, "clients": 500},
        {"rooms": 1, "clients": 12},
    ),
    Scenario(
        "storm-many",
        "3b. Connect storm: 500 clients into 500 rooms",
        rooms.storm,
        {"rooms": 500, "clients": 500},
        {"rooms": 12, "clients": 12},
    ),
    Scenario(
        "large-doc",
        "4. Large document: the B4 automerge-paper trace",
        documents.large_document,
        {"txns": None, "fresh_clients": 5, "window": 5000, "batch": 500},
        {"txns": 1500, "fresh_clients": 1, "window": 500, "batch": 50},
    ),
    Scenario(
        "offline",
        "5. Offline reconnect: 10 rooms, 200 offline edits on each side",
        documents.offline,
        {"rooms": 10, "edits": 200},
        {"rooms": 2, "edits": 20},
    ),
    Scenario(
        "presence",
        "6. Presence storm: 200 participants, 1 awareness update/s each",
        rooms.presence,
        {"clients": 200, "rate": 1, "duration": 20},
        {"clients": 6, "rate": 2, "duration": 1},
    ),
    Scenario(
        "memory",
        "7. Memory",
        documents.memory,
        {"idle_connections": 500, "documents": 200, "doc_txns": 5000, "short_lived": 10000},
        {"idle_connections": 10, "documents": 3, "doc_txns": 500, "short_lived": 12},
    ),
    *(
        Scenario(
            f"room-{n}",
            f"8{part}. Live room: {n} attendees, presence 1/s each, chat 5/s, a poll voted "
            "by all within 1 s",
            liveroom.room,
            {"attendees": n, "presence_rate": 1, "chat_rate": 5, "duration": 20,
             "baseline": 10, "vote_window_ms": 1000},
            {"attendees": 6, "presence_rate": 1, "chat_rate": 2, "duration": 2,
             "baseline": 1, "vote_window_ms": 500},
            multinode=True,
            in_smoke=n == 50,
        )
        for part, n in (("a", 50), ("b", 200), ("c", 500))
    ),
]


def ensure_node_modules() -> None:
    lock = BENCH_DIR / "package-lock.json"
    marker = BENCH_DIR / "node_modules" / ".package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        print("bench: installing the pinned anchors and clients (npm ci in bench/)", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BENCH_DIR, check=True)


def apply_params(overrides: list[str], *, smoke: bool) -> None:
    """Apply ``--param scenario.name=int`` overrides to the scenario table (in place)."""
    by_key = {s.key: s for s in SCENARIOS}
    for item in overrides:
        target, sep, value = item.partition("=")
        key, dot, name = target.partition(".")
        scenario = by_key.get(key)
        params = (scenario.smoke if smoke else scenario.full) if scenario else None
        if not sep or not dot or params is None or name not in params:
            raise ValueError(f"--param {item!r}: expected SCENARIO.NAME=INT with a known name")
        try:
            params[name] = int(value)
        except ValueError:
            raise ValueError(f"--param {item!r}: {value!r} is not an integer") from None


def machine_info(workers: int) -> dict[str, str]:
    def cmd(*args: str) -> str:
        try:
            return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"

    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    lock = json.loads((BENCH_DIR / "package-lock.json").read_text())["packages"]

    def npm(name: str) -> str:
        return str(lock.get(f"node_modules/{name}", {}).get("version", "?"))

    import pycrdt

    return {
        "CPU": f"{os.cpu_count()} x {cpu}",
        "memory": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "kernel": platform.release(),
        "Python": platform.python_version() + f", pycrdt {getattr(pycrdt, '__version__', '?')}",
        "Node": cmd("node", "--version"),
        "anchors": f"@hocuspocus/server {npm('@hocuspocus/server')}, "
        f"@y/websocket-server {npm('@y/websocket-server')} (last release on yjs 13)",
        "clients": f"yjs {npm('yjs')}, y-websocket {npm('y-websocket')}, "
        f"@hocuspocus/provider {npm('@hocuspocus/provider')}",
        "load generator": f"{workers} Node processes",
    }


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()

    if os.environ.get("BENCH_COMMIT"):  # a run from an exported snapshot of a commit
        return os.environ["BENCH_COMMIT"]
    sha = git("rev-parse", "--short", "HEAD") or "?"
    return sha + (
        " + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    )


def run_scenario(
    scenario: Scenario,
    server: Any,
    running: Any,
    args: argparse.Namespace,
    log_dir: Path,
    pool: WorkerPool | None = None,
) -> dict[str, Any]:
    """One scenario against an already started server, with a fresh load-generator pool
    unless one is given (smoke runs share one per server; a failure discards it)."""
    params = scenario.smoke if args.smoke else scenario.full
    own_pool = pool is None
    ctx = None
    t0 = time.monotonic()
    try:
        if pool is None:
            pool = WorkerPool(args.workers, log_dir / f"{scenario.key}-{server.name}")
        sampler = Sampler(running.pids, pool.pids)
        ctx = Context(running, pool, sampler, params, args.smoke, args.trace)
        with profiler(args, running, log_dir / f"{scenario.key}-{server.name}.pyspy.txt"):
            rows = scenario.run(ctx)
        out: dict[str, Any] = {"rows": [dataclasses.asdict(r) for r in rows]}
    except Exception as exc:
        out = _error(exc, log_dir / f"{scenario.key}-{server.name}.error")
        own_pool = True  # its workers may still be busy with the failed command
    finally:
        if own_pool and pool is not None:
            pool.close()
    if ctx is not None:
        out["phases"] = [{"label": label, **dataclasses.asdict(st)} for label, st in ctx.phases]
        for ph in out["phases"]:
            ph.pop("samples", None)
    print(f"bench:   {scenario.key} on {server.name}: {time.monotonic() - t0:.1f}s", flush=True)
    return out


@contextlib.contextmanager
def profiler(args: argparse.Namespace, running: Any, out: Path) -> Iterator[None]:
    """With --profile, py-spy samples our server (a Python process) for the whole scenario and
    writes collapsed stacks (flamegraph input) next to the logs."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not args.profile or running.api is None or not Path(pyspy).exists():
        yield
        return
    proc = subprocess.Popen(
        [
            pyspy,
            "record",
            "--pid",
            str(running.proc.pid),
            "--rate",
            str(args.profile_rate),
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _error(exc: Exception, path: Path) -> dict[str, Any]:
    path.write_text(traceback.format_exc())
    return {"error": "".join(traceback.format_exception_only(exc)).strip()}


def run_all(
    scenarios: list[Scenario], servers: list[Any], args: argparse.Namespace, log_dir: Path
) -> dict[str, dict[str, Any]]:
    """Full runs start every server fresh for every scenario (scenario by scenario, so one
    scenario's servers run close together in time); smoke runs start each server once."""
    out: dict[str, dict[str, Any]] = {s.key: {} for s in scenarios}
    if args.smoke:
        for server in servers:
            runs_here = [s for s in scenarios if server.nodes == 1 or s.multinode]
            if not runs_here:
                continue
            try:
                with server.start(log_dir, smoke=True) as running:
                    pool = WorkerPool(args.workers, log_dir / server.name)
                    try:
                        for scenario in runs_here:
                            result = run_scenario(scenario, server, running, args, log_dir, pool)
                            out[scenario.key][server.name] = result
                            if "error" in result:
                                pool.close()
                                pool = WorkerPool(args.workers, log_dir / server.name)
                    finally:
                        pool.close()
            except Exception as exc:
                for scenario in runs_here:
                    out[scenario.key].setdefault(
                        server.name, _error(exc, log_dir / f"{server.name}.error")
                    )
        return out
    for scenario in scenarios:
        for server in servers:
            if server.nodes > 1 and not scenario.multinode:
                continue
            print(f"bench: {scenario.key} on {server.name} ...", flush=True)
            try:
                with server.start(log_dir) as running:
                    result = run_scenario(scenario, server, running, args, log_dir)
            except Exception as exc:
                result = _error(exc, log_dir / f"{scenario.key}-{server.name}.error")
            out[scenario.key][server.name] = result
            if "error" in result:
                print(f"bench:   FAILED: {result['error']}", flush=True)
    return out


def merge(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`base` with every scenario/server result of `new` put in (a re-run of some cells)."""
    for key, entry in new["scenarios"].items():
        target = base["scenarios"].setdefault(key, {**entry, "servers": {}})
        target["servers"].update(entry["servers"])
    base["command"] += f"  # then, {new['started']}: {new['command']}"
    base["finished"] = new["finished"]
    return base


def failures(results: dict[str, Any]) -> list[str]:
    bad = []
    for key, result in results["scenarios"].items():
        for server, data in result["servers"].items():
            if "error" in data:
                bad.append(f"{key} / {server}: {data['error'].splitlines()[-1]}")
                continue
            for row in data["rows"]:
                if row["better"] == "check" and row["value"] != 1.0:
                    bad.append(f"{key} / {server}: {row['metric']} failed")
    return bad


def main(argv: list[str] | None = None) -> int:
    # SIGTERM unwinds like Ctrl-C, so every started server and worker is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny parameters; checks, no timings")
    parser.add_argument(
        "--servers", help="comma-separated subset of: " + ",".join(s.name for s in SERVERS)
    )
    parser.add_argument(
        "--scenarios", help="comma-separated subset of: " + ",".join(s.key for s in SCENARIOS)
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="load-generator processes (default 2)"
    )
    parser.add_argument(
        "--trace", help="the B4 trace (default bench/data/automerge-paper.json.gz)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="Markdown report (default docs/benchmarks.md; "
        "with --smoke a file under the log directory)",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--from-json", type=Path, help="only re-render a saved results file")
    parser.add_argument(
        "--merge-into",
        type=Path,
        help="a saved results file: this run's scenario/server results replace its ones "
        "(the report then lists both runs' commands)",
    )
    parser.add_argument("--log-dir", type=Path, help="server and load-generator logs")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy our server during each scenario (log dir)"
    )
    parser.add_argument(
        "--profile-rate", type=int, default=100, metavar="HZ",
        help="py-spy samples per second (default 100; short phases need more)",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="SCENARIO.NAME=INT",
        help="override one parameter, e.g. memory.short_lived=2000 (profiling; the report "
        "prints the parameters used)",
    )
    args = parser.parse_args(argv)
    try:
        apply_params(args.param, smoke=args.smoke)
    except ValueError as exc:
        parser.error(str(exc))

    notes = BENCH_DIR / "NOTES.md"
    if args.from_json:
        results = json.loads(args.from_json.read_text())
        (args.output or REPO / "docs" / "benchmarks.md").write_text(report.render(results, notes))
        return 0

    servers = [s for s in SERVERS if not args.servers or s.name in args.servers.split(",")]
    scenarios = [s for s in SCENARIOS if not args.scenarios or s.key in args.scenarios.split(",")]
    if args.smoke and not args.scenarios:
        scenarios = [s for s in scenarios if s.in_smoke]
    if args.trace is None:
        # Smoke runs replay a small synthetic trace of the same shape (they take no timings).
        use_file = DEFAULT_TRACE.exists() and not args.smoke
        args.trace = str(DEFAULT_TRACE) if use_file else "synthetic:20000"
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="collab-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    output = args.output or (
        log_dir / "benchmarks.md" if args.smoke else REPO / "docs" / "benchmarks.md"
    )
    ensure_node_modules()
    now = lambda: datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")  # noqa: E731
    results: dict[str, Any] = {
        "command": shlex.join(
            [".venv/bin/python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "started": now(),
        "commit": commit(),
        "machine": machine_info(args.workers),
        "workers": args.workers,
        "trace": args.trace,
        "servers": [{"name": s.name, "column": s.column} for s in servers],
        "scenarios": {},
    }
    print(f"bench: logs in {log_dir}", flush=True)
    by_scenario = run_all(scenarios, servers, args, log_dir)
    for scenario in scenarios:
        params = scenario.smoke if args.smoke else scenario.full
        entry = {"title": scenario.title, "params": params, "servers": by_scenario[scenario.key]}
        results["scenarios"][scenario.key] = entry
        print(f"\n{scenario.title}", flush=True)
        print("\n".join(report.scenario_table(results["servers"], entry)), flush=True)
    results["finished"] = now()
    if args.merge_into:
        results = merge(json.loads(args.merge_into.read_text()), results)
    (args.json or log_dir / "results.json").write_text(json.dumps(results, indent=1))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report.render(results, None if args.smoke else notes))
    print(f"bench: wrote {output}", flush=True)
    bad = failures(results)
    for line in bad:
        print(f"bench: FAILED {line}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
