"""The media benchmark: one publisher, N subscribers, through this project's relay or the anchor.

    sudo PYTHONPATH=. .venv/bin/python bench/media/run.py --n 1 5 20 50 100 --anchor-n 1 5

Servers (in this process, so its CPU time is the server's):
* ``ours``: ``media.relay.MediaRelay`` (forwards the encoded packets);
* ``stock``: aiortc's own ``aiortc.contrib.media.MediaRelay`` behind a minimal answerer: it
  decodes the publisher once and encodes again for every subscriber.

The publisher (``peers.py publish``: 640x480 at 30 fps VP8 with the frame index drawn in, and
Opus) runs in one network namespace, the subscribers in another (``tests/media/_netns.py``;
needs root). Of the N subscribers, ``--probes`` (default 1, in a process of their own) are
*probes*: full aiortc receivers that decode the video and read the index in every picture. The
others are *sinks* (``sink.py``, up to ``--per-process`` in one process and event loop): real
connections (ICE, DTLS, SRTP keys, consent answered, RTCP receiver reports sent), so the server
encrypts and sends to each as to a browser, but a sink unprotects each packet and counts it from
its RTP header instead of running aiortc's receiver, which would cost the load generator more
than the server. A sink's frame is *complete* when all its packets arrived; a sink knows frame
indices through one decoded keyframe and checks them on later ones (``rtpcount.FrameClock``).

After every connection is up and a warm-up, one window measures: server CPU
(``time.process_time``, all threads), the publisher's and the subscriber processes' CPU (in all
and per process, the probes' first); the frames the publisher sent in the window, and for each
subscriber how many of those indices it got (probe: decoded; sink: complete) by ``--settle``
seconds after the window (``delivered``); latency from the publisher's send time of an index
(one monotonic clock) to the probe's decoded picture showing it (``latency_*``: includes
aiortc's jitter buffer, which holds a frame until the next one starts, and the decode) and to
the first packet of that frame at the sinks (``sink_latency_*``). ``counts_*`` are the frames
counted between the window's two reports, no indices needed (they lag by each subscriber's
latency). Sanity checks, in ``sanity`` and on stderr: every sink got exactly the probe's indices
(``sinks_equal_probe``, ``sink_only_frames``, ``probe_only_frames``), no sink has an index the
publisher did not send (``phantom_frames``) or more complete frames than it sent
(``sinks_over_sent``), no packet failed SRTP authentication, every sink's index mapping held on
every keyframe it checked, and every connection was still up at the end on both sides
(``connected_at_end``, ``relay_subscriptions_at_end``: audio and video per subscriber; the
server's consent checks were answered).
Prints one JSON line per run and writes them to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay as StockRelay

from media.config import RelayLimits
from media.relay import MediaRelay
from tests.media._netns import Namespace, Peer

PEERS = Path(__file__).with_name("peers.py")
ROOT = Path(__file__).resolve().parents[2]
ROOM, PUBLISHER = "bench", "publisher"


async def spawn(namespace: Namespace, *args: str) -> Peer:
    """``peers.py`` with ``args`` in ``namespace`` (the repository importable, as here)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    process = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", namespace.name, sys.executable, str(PEERS), *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL, limit=2**24, env={**os.environ, "PYTHONPATH": path},
    )
    return Peer(process)


class Stock:
    """aiortc's MediaRelay: one decoding receiver, a re-encoding sender per subscriber."""

    def __init__(self) -> None:
        self.relay = StockRelay()
        self.tracks: dict[str, Any] = {}
        self.pcs: list[RTCPeerConnection] = []

    async def publish(self, offer: str) -> str:
        pc = RTCPeerConnection()
        self.pcs.append(pc)
        pc.on("track", lambda track: self.tracks.__setitem__(track.kind, track))
        return await self._answer(pc, offer)

    async def subscribe(self, offer: str) -> str:
        pc = RTCPeerConnection()
        self.pcs.append(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        for kind in ("audio", "video"):
            pc.addTrack(self.relay.subscribe(self.tracks[kind]))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def _answer(self, pc: RTCPeerConnection, offer: str) -> str:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def close(self) -> None:
        for pc in self.pcs:
            await pc.close()


def cpu_seconds(peer: Peer) -> float:
    """User + system CPU of a peer process so far (``ip netns exec`` execs into Python)."""
    fields = Path(f"/proc/{peer.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def outlet_drops(relay: MediaRelay) -> int:
    """Packets our relay dropped for slow subscribers so far (its private state: a bench)."""
    return sum(sub.outlet.dropped for member in relay._rooms.get(ROOM, {}).values()
               for sub in member.subscriptions.values())


async def report(peer: Peer, since: int = 0) -> dict[str, Any]:
    after = len(peer.events)
    await peer.send(cmd="report", since=since)
    return await peer.expect(lambda e: bool(e.get("report")), after=after, timeout=30)


def groups(n: int, probes: int, per_process: int) -> list[tuple[str, int]]:
    """The subscriber processes: ``(kind, count)``, probes first."""
    probes = min(probes, n)
    out = [("probe", probes)] if probes else []
    return out + [("sink", min(per_process, n - probes - start))
                  for start in range(0, n - probes, per_process)]


def percentile(values: list[float], fraction: float) -> float | None:
    return round(values[min(int(len(values) * fraction), len(values) - 1)], 1) if values else None


def summarise(sent0: int, sent1: int, publisher: dict[str, Any],
              start: list[dict[str, Any]], end: list[dict[str, Any]],
              settled: list[dict[str, Any]]) -> dict[str, Any]:
    """Delivery, latency and the sanity checks from the subscribers' three reports."""
    window = {(sent0 + k) % 65536 for k in range(1, sent1 - sent0 + 1)}
    sent_at = {int(k): v for k, v in publisher["times"].items()}
    counted = [b["complete" if b["kind"] == "sink" else "frames"]
               - a["complete" if a["kind"] == "sink" else "frames"]
               for a, b in zip(start, end, strict=True)]
    probe_sets = [{int(k) for k in s["times"]} & window for s in settled if s["kind"] == "probe"]
    delivered: list[int | None] = []
    probe_lat: list[float] = []
    sink_lat: list[float] = []
    equal = sink_only = probe_only = phantom = inexact = 0
    for sub in settled:
        got = {int(k): v for k, v in sub["times"].items()}
        if sub["kind"] == "sink" and not sub["exact"]:
            inexact += 1
            delivered.append(None)
            continue
        phantom += sum(1 for i in got if i not in sent_at)
        mine = set(got) & window
        delivered.append(len(mine))
        latencies = probe_lat if sub["kind"] == "probe" else sink_lat
        latencies.extend((got[i] - sent_at[i]) * 1000 for i in mine if i in sent_at)
        if sub["kind"] == "sink" and probe_sets:
            equal += mine == probe_sets[0]
            sink_only += len(mine - probe_sets[0])
            probe_only += len(probe_sets[0] - mine)
    probe_lat.sort()
    sink_lat.sort()
    indexed = [d for d in delivered if d is not None]
    sinks = [s for s in settled if s["kind"] == "sink"]
    return {
        "frames_sent": sent1 - sent0,
        "delivered_min": min(indexed) if indexed else None,
        "delivered_median": statistics.median(indexed) if indexed else None,
        "delivered": delivered,
        "counts_min": min(counted), "counts_max": max(counted),
        "latency_samples": len(probe_lat), "latency_p50_ms": percentile(probe_lat, 0.5),
        "latency_p95_ms": percentile(probe_lat, 0.95),
        "sink_latency_samples": len(sink_lat),
        "sink_latency_p50_ms": percentile(sink_lat, 0.5),
        "sink_latency_p95_ms": percentile(sink_lat, 0.95),
        "sink_latency_max_ms": round(sink_lat[-1], 1) if sink_lat else None,
        "probe_delivered": len(probe_sets[0]) if probe_sets else None,
        "sinks": len(sinks), "sinks_equal_probe": equal if probe_sets and sinks else None,
        "sinks_over_sent": sum(s["complete"] > publisher["sent"] for s in sinks),
        "sink_only_frames": sink_only, "probe_only_frames": probe_only,
        "phantom_frames": phantom, "sinks_without_exact_index": inexact,
        "sink_video_lost_packets": sum(s["video_lost"] for s in sinks),
        "sink_srtp_failures": sum(s["srtp_failures"] for s in sinks),
        "sink_keyframe_checks": sum(s["keyframe_checks"] for s in sinks),
        "sink_index_mismatches": sum(s["mismatches"] for s in sinks),
    }


def insane(result: dict[str, Any]) -> list[str]:
    """What in a result says the sinks' counting cannot be trusted (empty: nothing)."""
    problems = []
    for key in ("phantom_frames", "sink_srtp_failures", "sink_index_mismatches",
                "sinks_without_exact_index"):
        if result[key]:
            problems.append(f"{key}={result[key]}")
    if result["sinks_equal_probe"] is not None and result["sinks_equal_probe"] < result["sinks"]:
        # A probe that fell behind (seconds of latency) has not decoded the window's last frames
        # by the end of --settle; the comparison means something when it has.
        verdict = "" if result["probe_delivered"] == result["frames_sent"] else \
            f" (inconclusive: the probe decoded {result['probe_delivered']})"
        problems.append(f"only {result['sinks_equal_probe']} of {result['sinks']} sinks got "
                        f"the probe's frames (sink-only {result['sink_only_frames']}, "
                        f"probe-only {result['probe_only_frames']}){verdict}")
    if result["connected_at_end"] < result["n"]:
        problems.append(f"{result['n'] - result['connected_at_end']} connections were down at "
                        "the end")
    if result["relay_subscriptions_at_end"] not in (None, 2 * result["n"]):
        problems.append(f"the relay held {result['relay_subscriptions_at_end']} subscriptions "
                        f"at the end, not {2 * result['n']}")
    if result["sinks_over_sent"]:
        problems.append(f"{result['sinks_over_sent']} sinks counted more complete frames than "
                        "the publisher sent")
    return problems


async def one_run(server: str, n: int, probes: int, per_process: int, warmup: float,
                  window: float, settle: float, record: Path | None = None) -> dict[str, Any]:
    """One measured window; ``record``: ours records the publisher to that file meanwhile
    (started before the warm-up, so the wait for a keyframe is over), and the stop, with the
    mixdown it runs, is timed after the window."""
    pub_ns, sub_ns = Namespace(), Namespace()
    pub_ns.create()
    sub_ns.create()
    peers: list[Peer] = []
    ours = MediaRelay(RelayLimits(subscribers_per_room=400, connections_per_process=800,
                                  subscriptions_per_process=800, connect_timeout=60))
    stock = Stock()
    try:
        async with ours:
            publisher = await spawn(pub_ns, "publish")
            peers.append(publisher)
            offer = (await publisher.expect(lambda e: "offers" in e, timeout=30))["offers"][0]
            if server == "ours":
                tracks = {t["mid"]: t["source"] for t in offer["tracks"]}
                answer = await ours.publish(ROOM, PUBLISHER, offer["sdp"], tracks)
                if record is not None:
                    ours.start_recording(ROOM, PUBLISHER, record)
            else:
                answer = await stock.publish(offer["sdp"])
            await publisher.send(answers=[answer])
            subscribers: list[Peer] = []
            user = 0
            for kind, count in groups(n, probes, per_process):
                peer = await spawn(sub_ns, "subscribe", kind, str(count), PUBLISHER)
                peers.append(peer)
                subscribers.append(peer)
                offers = (await peer.expect(lambda e: "offers" in e, timeout=60))["offers"]
                answers = []
                for o in offers:
                    if server == "ours":
                        wanted = {t["mid"]: (t["userId"], t["source"]) for t in o["tracks"]}
                        answers.append(await ours.subscribe(ROOM, f"s{user}", o["sdp"], wanted))
                    else:
                        while "video" not in stock.tracks:
                            await asyncio.sleep(0.05)
                        answers.append(await stock.subscribe(o["sdp"]))
                    user += 1
                await peer.send(answers=answers)
            deadline = time.monotonic() + 60
            while True:  # every connection up
                states = [s for p in subscribers for s in (await report(p))["states"]]
                if all(s == "connected" for s in states) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(warmup)
            # Everyone is asked at once, so the in-window counts cover the same moments.
            first, *rest = await asyncio.gather(*(report(p) for p in [publisher, *subscribers]))
            sent0 = first["sent"]
            start = [s for r in rest for s in r["subscribers"]]
            cpu0, wall0 = time.process_time(), time.monotonic()
            load0, drops0 = [cpu_seconds(p) for p in peers], outlet_drops(ours)
            await asyncio.sleep(window)
            cpu1, wall1 = time.process_time(), time.monotonic()
            wall = wall1 - wall0
            load1, drops1 = [cpu_seconds(p) for p in peers], outlet_drops(ours)
            first, *rest = await asyncio.gather(*(report(p) for p in [publisher, *subscribers]))
            sent1 = first["sent"]
            end = [s for r in rest for s in r["subscribers"]]
            await asyncio.sleep(settle)  # frames of the window still in flight
            pub_end, *rest = await asyncio.gather(
                *(report(p, sent0) for p in [publisher, *subscribers]))
            settled = [s for r in rest for s in r["subscribers"]]
            recorded: dict[str, Any] = {}
            if record is not None:
                stop0 = time.monotonic()
                file = await ours.stop_recording(ROOM)
                recorded = {"record_stop_s": round(time.monotonic() - stop0, 2),
                            "recorded_s": None if file is None else round(file.duration, 2),
                            "recorded_bytes": None if file is None else file.size}
            result = {
                "server": server + ("+recording" if record is not None else ""), "n": n,
                "probes": min(probes, n), **recorded,
                "connected": sum(s == "connected" for s in states),
                "connected_at_end": sum(s == "connected" for r in rest for s in r["states"]),
                # The server's side: a connection it gave up on ends its subscriptions.
                "relay_subscriptions_at_end": ours.stats()["subscriptions"]
                if server == "ours" else None,
                "window_s": round(wall1 - wall0, 2),
                "server_cores": round((cpu1 - cpu0) / (wall1 - wall0), 3),
                "publisher_cores": round((load1[0] - load0[0]) / wall, 3),
                "subscriber_processes_cores": round((sum(load1[1:]) - sum(load0[1:])) / wall, 3),
                # Per process, probes first (``groups``).
                "subscriber_process_cores": [round((b - a) / wall, 3)
                                             for a, b in zip(load0[1:], load1[1:], strict=True)],
                "relay_dropped_packets": drops1 - drops0,
                "load_average": os.getloadavg()[0],
            }
            result.update(summarise(sent0, sent1, pub_end, start, end, settled))
            return result
    finally:
        for peer in peers:
            await peer.close()
        await stock.close()
        pub_ns.delete()
        sub_ns.delete()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[1, 5, 20, 50],
                        help="subscribers per run of ours, probes included")
    parser.add_argument("--anchor-n", type=int, nargs="*", default=[1, 5],
                        help="subscribers per run of the stock relay")
    parser.add_argument("--probes", type=int, default=1,
                        help="decoding aiortc subscribers per run (the rest are sinks)")
    parser.add_argument("--per-process", type=int, default=50, help="sinks per process")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds after the window for its last frames to arrive")
    parser.add_argument("--record-n", type=int, nargs="*", default=[],
                        help="subscribers per run of ours while recording the publisher")
    parser.add_argument("--out", type=Path, default=Path("bench/media/results.jsonl"))
    args = parser.parse_args()
    runs = [("ours", n, False) for n in args.n] + [("ours", n, True) for n in args.record_n] \
        + [("stock", n, False) for n in args.anchor_n]
    with args.out.open("a") as out, tempfile.TemporaryDirectory() as scratch:
        for server, n, record in runs:
            path = Path(scratch) / f"recording-{n}.webm" if record else None
            result = await one_run(server, n, args.probes, args.per_process, args.warmup,
                                   args.window, args.settle, path)
            result["at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            problems = insane(result)
            result["sanity"] = problems or "ok"
            line = json.dumps(result)
            print(line, flush=True)
            for problem in problems:
                print(f"SANITY ({server}, n={n}): {problem}", file=sys.stderr, flush=True)
            out.write(line + "\n")


if __name__ == "__main__":
    asyncio.run(main())
