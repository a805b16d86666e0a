"""Document scenarios: the large B4 document, offline reconnect and memory."""

from __future__ import annotations

import time
from typing import Any

from harness.common import Context, MiB, Row, cost_rows, flatten, median
from harness.pool import BenchError

TIMEOUT_MS = 300_000


def large_document(ctx: Context) -> list[Row]:
    """The B4 trace: a fresh client's load time, then the ingest rate of it streamed."""
    p = ctx.params
    (group,) = ctx.server.rooms(1, 2 + p["fresh_clients"])
    with ctx.phase("load") as load_stats:
        load = ctx.pool.one(
            {
                "cmd": "b4load",
                "target": ctx.target,
                "writer": group[0],
                "verifier": group[1],
                "fresh": group[2:],
                "trace": ctx.trace,
                "txns": p["txns"],
                "timeoutMs": TIMEOUT_MS,
            },
            timeout=TIMEOUT_MS / 1000 + 60,
        )
    ctx.pool.all({"cmd": "close"}, timeout=30)
    (pair,) = ctx.server.rooms(1, 2)
    with ctx.phase("ingest") as ingest_stats:
        ingest = ctx.pool.one(
            {
                "cmd": "b4ingest",
                "target": ctx.target,
                "sender": pair[0],
                "observer": pair[1],
                "trace": ctx.trace,
                "txns": p["txns"],
                "window": p["window"],
                "batch": p["batch"],
                "timeoutMs": TIMEOUT_MS,
            },
            timeout=TIMEOUT_MS / 1000 + 60,
        )
    ctx.pool.all({"cmd": "close"}, timeout=30)
    return [
        Row("fresh client: receive + apply, median", "ms", median(load["times"])),
        Row("fresh client: receive + apply, max", "ms", max(load["times"])),
        Row("upload of the whole document by sync", "ms", load["uploadMs"]),
        Row("encoded document", "KiB", load["docBytes"] / 1024, "info"),
        Row("server RSS peak (load)", "MiB", load_stats.server_rss_peak / MiB),
        # Updates of `batch` keystrokes: our server limits a connection to 100 messages/s
        # (burst 500) and closes a faster one with 1013 by design, so a per-keystroke stream
        # would measure that policy, not the server.
        Row(
            f"streamed ingest rate, updates of {p['batch']} txns", "txn/s", ingest["rate"], "higher"
        ),
        Row("streamed ingest, whole trace", "s", ingest["ms"] / 1000),
        Row("server CPU (ingest)", "cores", ingest_stats.server_cpu),
        Row("server RSS peak (ingest)", "MiB", ingest_stats.server_rss_peak / MiB),
        Row("load generator CPU (ingest)", "cores", ingest_stats.loadgen_cpu, "info"),
    ]


def offline(ctx: Context) -> list[Row]:
    """Per room one client edits offline while another edits online; time to converge."""
    p = ctx.params
    groups = ctx.server.rooms(p["rooms"], 3)
    rooms = [{"a": g[0], "b": g[1], "c": g[2]} for g in groups]
    parts = ctx.pool.split(rooms)
    cmd = {"cmd": "offline", "target": ctx.target, "edits": p["edits"], "timeoutMs": 60_000}
    with ctx.phase("offline") as stats:
        replies = ctx.pool.each([{**cmd, "rooms": part} if part else None for part in parts], 120)
    ctx.pool.all({"cmd": "close"}, timeout=30)
    times = [t for r in replies for t in r["times"]]
    diverged = sum(r["diverged"] for r in replies)
    return [
        Row("time to converge, median", "ms", median(times)),
        Row("time to converge, max", "ms", max(times)),
        Row("converged", "", 1.0 if diverged == 0 and len(times) == p["rooms"] else 0.0, "check"),
        *cost_rows(stats),
    ]


def _open_all(ctx: Context, specs: list[dict[str, Any]]) -> None:
    parts = ctx.pool.split(specs)
    cmd = {"cmd": "open", "target": ctx.target, "timeoutMs": 120_000}
    replies = ctx.pool.each([{**cmd, "specs": part} for part in parts], timeout=180)
    failed = sum(r["failed"] for r in replies)
    if failed:
        raise BenchError(f"{failed} idle clients did not sync")


def memory(ctx: Context) -> list[Row]:
    """RSS per idle connection, per loaded idle document, and after many short-lived docs."""
    p = ctx.params
    # Idle connections: rooms of 10 idle clients, each document loaded by one more client
    # before the baseline is taken.
    groups = ctx.server.rooms(max(1, p["idle_connections"] // 10), 11)
    _open_all(ctx, [g[0] for g in groups])
    before = ctx.settle()
    _open_all(ctx, [spec for g in groups for spec in g[1:]])
    after = ctx.settle()
    per_connection = (after - before) / sum(len(g) - 1 for g in groups)
    ctx.pool.all({"cmd": "close"}, timeout=60)
    # Loaded idle documents: each holds the first `doc_txns` transactions of the trace.
    groups = ctx.server.rooms(p["documents"], 1)
    before_docs = ctx.settle()
    parts = ctx.pool.split(flatten(groups))
    cmd = {
        "cmd": "loaddocs",
        "target": ctx.target,
        "trace": ctx.trace,
        "txns": p["doc_txns"],
        "concurrency": 8,
        "timeoutMs": 120_000,
    }
    replies = ctx.pool.each([{**cmd, "specs": part} for part in parts], timeout=600)
    if sum(r["failed"] for r in replies):
        raise BenchError("some documents did not load")
    after_docs = ctx.settle()
    per_document = (after_docs - before_docs) / p["documents"]
    ctx.pool.all({"cmd": "close"}, timeout=60)
    # Short-lived documents: open, edit once, close; then wait for the server to let go.
    # One owner for all of them: at most 2 x 25 are open at any moment (the cap is 100).
    groups = ctx.server.rooms(p["short_lived"], 1, per_user=p["short_lived"])
    start = ctx.settle()
    parts = ctx.pool.split(flatten(groups))
    cmd = {"cmd": "churn", "target": ctx.target, "concurrency": 25, "timeoutMs": 60_000}
    with ctx.phase("churn") as stats:
        replies = ctx.pool.each([{**cmd, "specs": part} for part in parts], timeout=1800)
    failed = sum(r["failed"] for r in replies)
    # "After they have come and gone": ours unloads a document `unload_delay` after its last
    # client left, after storing it and running the unload hooks; wait until its gauge says
    # none is loaded (the anchors drop a document with its last connection).
    unloaded_after, left = _wait_unloaded(ctx, limit=300.0)
    end = ctx.settle(window=5.0, limit=90.0)
    return [
        Row("RSS per idle connection", "KiB", per_connection / 1024),
        Row("RSS per loaded idle document (with its connection)", "KiB", per_document / 1024),
        Row("RSS before short-lived documents", "MiB", start / MiB, "info"),
        Row("RSS peak during short-lived documents", "MiB", stats.server_rss_peak / MiB, "info"),
        Row("RSS after short-lived documents", "MiB", end / MiB, "info"),
        Row("RSS growth after short-lived documents", "MiB", (end - start) / MiB),
        Row("time for all short-lived documents", "s", stats.seconds),
        Row("short-lived documents failed", "", float(failed)),
        Row("time until all unloaded after the last closed", "s", unloaded_after, "info"),
        Row("documents still loaded at the RSS reading", "", left, "info"),
        Row("server CPU (short-lived documents)", "cores", stats.server_cpu),
    ]


def _wait_unloaded(ctx: Context, *, limit: float) -> tuple[float | None, float | None]:
    """Seconds until our server has no document loaded (None for the anchors), and how many
    were still loaded when `limit` ran out (0 when all were unloaded)."""
    api = ctx.server.api
    if api is None:
        return None, None
    started = time.monotonic()
    while True:
        loaded = api.documents_loaded()
        waited = time.monotonic() - started
        if loaded == 0 or waited >= limit or ctx.smoke:
            return waited, float(loaded)
        time.sleep(0.5)
