"""The live-room scenario (issue 14, "Scale, measured"; docs/rooms.md): one room, N attendees.

Two measured phases on the same room and clients, back to back:

1. *presence only* — every attendee sets its presence once a second (the in-run anchor: what
   the room costs before any action);
2. *room* — the same presence, plus chat at `chat_rate` messages a second (room-wide, senders
   in turn), plus one poll that collects a vote from every attendee within `vote_window_ms`.

On our server the session is created, started and joined through the REST API by real users
(a host made with `collab user create --role host`); attendees open `sessions/<id>` read-only
and chat and vote with typed actions (stateless messages); the host publishes the poll before
the votes, so every vote changes the tally every attendee sees. On the anchors (no actions)
the same traffic is plain CRDT writes and every attendee counts the votes itself
(`loadgen/liveroom.mjs`). With several nodes, attendees are dealt round-robin over them.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness.common import Context, Row, cost_rows, latency_rows, merge_histograms
from harness.pool import BenchError
from harness.procstat import PhaseStats

OPTIONS = 4
PROBES = 20  # attendees that decode presence and measure its latency (see liveroom.mjs)
SYNC_TIMEOUT_MS = 90_000
OPEN_BATCH = 50  # attendees a worker connects at once (then waits for them to sync)
REST_THREADS = 8


def _setup_ours(ctx: Context, n: int) -> tuple[list[dict[str, Any]], str]:
    """Host, session (started), `n` joined attendees: the client specs and the room name."""
    api, running = ctx.server.api, ctx.server
    assert api is not None and running.create_host is not None
    host = api.login(*running.create_host())
    body = {
        "title": f"Bench room ({n})",
        "scheduledStart": "2030-01-01T10:00:00Z",
        "scheduledEnd": "2030-01-01T12:00:00Z",
        "settings": {"maxParticipants": max(n, 2)},
    }
    session = api.request("POST", "/api/workbook/sessions", body, token=host.token)["session"]
    sid = session["id"]
    api.request("POST", f"/api/workbook/sessions/{sid}/start", {}, token=host.token)
    users = api.attendees(n)
    with ThreadPoolExecutor(REST_THREADS) as ex:
        list(
            ex.map(
                lambda u: api.request(
                    "POST", f"/api/workbook/sessions/{sid}/join", {}, token=u.token
                ),
                users,
            )
        )
    room = f"sessions/{sid}"
    specs = [{"room": room, "token": host.token, "host": True}]
    specs += [{"room": room, "token": u.token} for u in users]
    return specs, room


def demand_rows(stats: PhaseStats, load_seconds: float, prefix: str) -> list[Row]:
    """CPU seconds the phase took (load, then the drain until every attendee saw everything)
    per second of load: the cores the load needs, also when the machine was too busy to give
    them in real time (then the drain runs longer, and a starved server batches more: a
    lower bound). And what everything else on the machine used meanwhile."""
    per = stats.seconds / load_seconds
    return [
        Row(f"{prefix}server CPU-s per s of load", "cores", stats.server_cpu * per),
        Row(f"{prefix}load generator CPU-s per s of load", "cores", stats.loadgen_cpu * per,
            "info"),
        Row(f"{prefix}everything else on the machine", "cores", stats.other_cpu, "info"),
    ]


def _specs(ctx: Context, n: int) -> list[dict[str, Any]]:
    if ctx.server.api is not None:
        specs, _room = _setup_ours(ctx, n)
        mode = "actions"
    else:
        name = f"bench-room-{secrets.token_hex(4)}"
        specs = [{"room": name} for _ in range(n)]
        mode = "plain"
    targets = ctx.server.targets or [ctx.server.target]
    attendee = 0
    for spec, sid in zip(specs, ctx.server.sids(len(specs)), strict=True):
        spec.update(sid=sid, mode=mode, probe=attendee < PROBES or spec.get("host", False))
        if not spec.get("host"):
            spec["url"] = targets[attendee % len(targets)]["url"]
            attendee += 1
        else:
            spec["url"] = targets[0]["url"]
    return specs


def _host_act(ctx: Context, host_worker: int, host_sid: int, action: str, **fields: Any) -> Any:
    cmds: list[dict[str, Any] | None] = [None] * ctx.pool.size
    cmds[host_worker] = {"cmd": "ract", "sid": host_sid, "action": action, "fields": fields}
    reply = ctx.pool.each(cmds, timeout=60)[0]["reply"]
    if not reply.get("ok"):
        raise BenchError(f"host action {action}: {reply}")
    return reply


def _run_phase(
    ctx: Context, label: str, duration_ms: int, chat_rate: float, poll: dict[str, Any] | None
) -> tuple[PhaseStats, list[dict[str, Any]], list[dict[str, Any]], float]:
    p = ctx.params
    start_at = ctx.start_at()
    if poll is not None:
        poll = {**poll, "at": start_at + duration_ms / 2}
    with ctx.phase(label) as stats:
        runs = ctx.pool.all(
            {
                "cmd": "rrun",
                "startAt": start_at,
                "durationMs": duration_ms,
                "awRate": p["presence_rate"],
                "chatRate": chat_rate / ctx.pool.size,
                "poll": poll,
            },
            timeout=duration_ms / 1000 + 180,
        )
        chat_total = sum(r["chatSent"] for r in runs)
        drains = ctx.pool.all(
            {"cmd": "rdrain", "chatTotal": chat_total, "poll": poll, "timeoutMs": 120_000},
            timeout=180,
        )
    return stats, runs, drains, poll["at"] if poll else start_at


def room(ctx: Context) -> list[Row]:
    p = ctx.params
    n = p["attendees"]
    specs = _specs(ctx, n)
    parts = ctx.pool.split(specs)
    replies = ctx.pool.each(
        [
            {"cmd": "ropen", "target": ctx.target, "specs": part, "timeoutMs": SYNC_TIMEOUT_MS,
             "batch": OPEN_BATCH}
            for part in parts
        ],
        timeout=SYNC_TIMEOUT_MS / 1000 + 30,
    )
    failed = sum(r["failed"] for r in replies)
    if failed:
        codes: dict[str, int] = {}
        for r in replies:
            for code, k in r["closeCodes"].items():
                codes[code] = codes.get(code, 0) + k
        raise BenchError(f"{failed} attendees did not sync (close codes seen: {codes})")

    mode = specs[0]["mode"]
    want_results = [0] * OPTIONS
    for spec in specs:
        if not spec.get("host"):
            want_results[spec["sid"] % OPTIONS] += 1
    host_worker, host_sid = 0, specs[0]["sid"]
    if mode == "actions":
        poll_id = _host_act(
            ctx, host_worker, host_sid, "poll.create",
            question="Bench poll", options=[f"option {i}" for i in range(OPTIONS)],
        )["pollId"]
        _host_act(ctx, host_worker, host_sid, "poll.open", pollId=poll_id)
        _host_act(ctx, host_worker, host_sid, "poll.publish", pollId=poll_id)
    else:
        poll_id = "bench-poll"
    want = {"voters": n, "results": want_results}
    poll = {"id": poll_id, "options": OPTIONS, "windowMs": p["vote_window_ms"], "want": want}

    base_stats, _runs0, base_drains, _t = _run_phase(
        ctx, "presence only", p["baseline"] * 1000, 0, None
    )
    stats, runs, drains, poll_at = _run_phase(
        ctx, "room", p["duration"] * 1000, p["chat_rate"], poll
    )

    ledger_exact = None
    if mode == "actions":
        final = _host_act(ctx, host_worker, host_sid, "poll.results", pollId=poll_id)
        ledger_exact = final["voters"] == n and [int(x) for x in final["results"]] == want_results
        _host_act(ctx, host_worker, host_sid, "poll.close", pollId=poll_id)
    ctx.pool.all({"cmd": "rclose"}, timeout=30)
    ctx.pool.all({"cmd": "close"}, timeout=60)

    chat = merge_histograms(r["chat"] for r in drains)
    presence = merge_histograms(r["presence"] for r in drains)
    base_presence = merge_histograms(r["presence"] for r in base_drains)
    votes_ok = sum(r["votesOk"] for r in runs)
    chat_sent = sum(r["chatSent"] for r in runs)
    rejected: dict[str, int] = {}
    for r in runs:
        for reason, k in r["rejected"].items():
            rejected[reason] = rejected.get(reason, 0) + k
    if rejected:
        print(f"bench:   room actions rejected: {rejected}", flush=True)
    tally_missing = sum(r["tallyMissing"] for r in drains)
    if tally_missing:
        print(f"bench:   final tally not seen: {[w for r in drains for w in r['wrong']]}")
    last_tally = max(r["lastTallyAt"] for r in drains)
    last_vote = max(r["lastVoteAt"] for r in runs)
    rows = [
        Row("votes accepted", "", float(votes_ok), "info"),
        Row("every vote accepted", "", 1.0 if votes_ok == n else 0.0, "check"),
        Row("exact final tally seen by every attendee", "", 1.0 if not tally_missing else 0.0,
            "check"),
    ]
    if ledger_exact is not None:
        rows.append(Row("server's tally exact", "", 1.0 if ledger_exact else 0.0, "check"))
    rows += [
        Row("final tally seen by all, after the first vote could be sent", "ms",
            last_tally - poll_at if last_tally else None),
        Row("final tally seen by all, after the last vote was sent", "ms",
            last_tally - last_vote if last_tally else None),
        Row("slowest vote reply (ours: accepted = stored)", "ms",
            max(r["voteReplyMax"] for r in runs), "info"),
        Row("chat messages sent", "", float(chat_sent), "info"),
        *latency_rows(chat, "chat latency (every attendee)"),
        Row("chat deliveries missing", "", float(sum(r["chatMissing"] for r in drains)), "info"),
        Row("presence latency p50 (probes)", "ms", latency_rows(presence, "")[0].value),
        Row("presence latency p99 (probes)", "ms", latency_rows(presence, "")[2].value),
        *cost_rows(stats),
        *demand_rows(stats, p["duration"], ""),
        Row("presence only: presence latency p99 (probes)", "ms",
            latency_rows(base_presence, "")[2].value),
        Row("presence only: server CPU", "cores", base_stats.server_cpu),
        *demand_rows(base_stats, p["baseline"], "presence only: "),
        Row("presence only: server RSS peak", "MiB", base_stats.server_rss_peak / 2**20),
        Row("presence only: load generator CPU", "cores", base_stats.loadgen_cpu, "info"),
    ]
    return rows
