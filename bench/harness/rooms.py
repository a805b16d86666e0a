"""Room scenarios: fan-out (many rooms, one big room), connect storms and the presence storm."""

from __future__ import annotations

from typing import Any

from harness.common import (
    Context,
    Row,
    cost_rows,
    flatten,
    latency_rows,
    median,
    merge_histograms,
)
from harness.pool import BenchError

SYNC_TIMEOUT_MS = 60_000


def _open(
    ctx: Context, specs: list[dict[str, Any]], start_at: float | None = None
) -> list[dict[str, Any]]:
    parts = ctx.pool.split(specs)
    cmd = {"cmd": "open", "target": ctx.target, "timeoutMs": SYNC_TIMEOUT_MS}
    if start_at is not None:
        cmd["startAt"] = start_at
    return ctx.pool.each([{**cmd, "specs": p} for p in parts], timeout=SYNC_TIMEOUT_MS / 1000 + 30)


def _require_all_synced(replies: list[dict[str, Any]]) -> None:
    failed = sum(r["failed"] for r in replies)
    if failed:
        codes: dict[str, int] = {}
        for r in replies:
            for code, n in r["closeCodes"].items():
                codes[code] = codes.get(code, 0) + n
        raise BenchError(f"{failed} clients did not sync (close codes seen: {codes})")


def fanout(ctx: Context) -> list[Row]:
    """Every client edits `rate` times a second for `duration` s; every peer measures each edit."""
    p = ctx.params
    groups = ctx.server.rooms(p["rooms"], p["clients"])
    _require_all_synced(_open(ctx, flatten(groups)))
    start_at = ctx.start_at()
    with ctx.phase("edit") as stats:
        edits = ctx.pool.all(
            {
                "cmd": "edit",
                "startAt": start_at,
                "durationMs": p["duration"] * 1000,
                "rate": p["rate"],
            },
            timeout=p["duration"] + 60,
        )
        sent: dict[str, int] = {}
        for r in edits:
            for room, n in r["sent"].items():
                sent[room] = sent.get(room, 0) + n
        drains = ctx.pool.all({"cmd": "drain", "expected": sent, "timeoutMs": 30_000}, timeout=60)
    ctx.pool.all({"cmd": "close"}, timeout=30)
    hist = merge_histograms(r["histogram"] for r in drains)
    received = sum(r["received"] for r in drains)
    missing = sum(r["missing"] for r in drains)
    last = max(r["lastReceiveAt"] for r in drains)
    hashes: dict[str, set[str]] = {}
    for r in drains:
        for room, hs in r["hashes"].items():
            hashes.setdefault(room, set()).update(hs)
    converged = missing == 0 and all(len(h) == 1 for h in hashes.values())
    span = max(last - start_at, 1.0) / 1000
    return [
        *latency_rows(hist, "edit-to-peer latency"),
        Row("deliveries/s", "1/s", received / span if received else 0.0, "higher"),
        Row("edits sent", "", float(sum(sent.values())), "info"),
        Row("deliveries missing", "", float(missing), "info"),
        Row("converged", "", 1.0 if converged else 0.0, "check"),
        *cost_rows(stats),
    ]


def storm(ctx: Context) -> list[Row]:
    """`clients` clients start connecting at the same instant into `rooms` rooms."""
    p = ctx.params
    groups = ctx.server.rooms(p["rooms"], p["clients"] // p["rooms"])
    start_at = ctx.start_at() + 500
    with ctx.phase("storm") as stats:
        replies = _open(ctx, flatten(groups), start_at)
    ctx.pool.all({"cmd": "close"}, timeout=30)
    times = [t for r in replies for t in r["times"]]
    failed = sum(r["failed"] for r in replies)
    return [
        Row("time until all synced", "ms", max(times) if times else None),
        Row("median time to sync", "ms", median(times)),
        Row("failures", "", float(failed)),
        *cost_rows(stats),
    ]


def presence(ctx: Context) -> list[Row]:
    """Every participant updates its awareness `rate` times a second for `duration` s."""
    p = ctx.params
    groups = ctx.server.rooms(1, p["clients"])
    _require_all_synced(_open(ctx, flatten(groups)))
    start_at = ctx.start_at()
    with ctx.phase("presence") as stats:
        sent = ctx.pool.all(
            {
                "cmd": "aware",
                "startAt": start_at,
                "durationMs": p["duration"] * 1000,
                "rate": p["rate"],
            },
            timeout=p["duration"] + 60,
        )
        finals: dict[str, dict[str, int]] = {}
        for r in sent:
            for room, per in r["finals"].items():
                finals.setdefault(room, {}).update(per)
        drains = ctx.pool.all({"cmd": "awdrain", "finals": finals, "timeoutMs": 30_000}, timeout=60)
    ctx.pool.all({"cmd": "close"}, timeout=30)
    hist = merge_histograms(r["histogram"] for r in drains)
    missing = sum(r["missing"] for r in drains)
    if missing:
        detail = [d for r in drains for d in r["detail"]]
        print(f"bench:   presence states never seen (client, sender, seen, final): {detail}")
    observed = sum(r["observed"] for r in drains)
    return [
        *latency_rows(hist, "presence latency"),
        Row("presence states observed/s", "1/s", observed / p["duration"], "info"),
        Row("final states seen by all", "", 1.0 if missing == 0 else 0.0, "check"),
        *cost_rows(stats),
    ]
