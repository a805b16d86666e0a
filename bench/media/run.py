"""The media benchmark: one publisher, N subscribers, through this project's relay or the anchor.

    sudo PYTHONPATH=. .venv/bin/python bench/media/run.py --n 1 5 20 50 --anchor-n 1 5

Servers (in this process, so its CPU time is the server's):
* ``ours``: ``media.relay.MediaRelay`` (forwards the encoded packets);
* ``stock``: aiortc's own ``aiortc.contrib.media.MediaRelay`` behind a minimal answerer: it
  decodes the publisher once and encodes again for every subscriber.

The publisher (``peers.py publish``: 640x480 at 30 fps VP8 with the frame index drawn in, and
Opus) runs in one network namespace, the subscribers (``peers.py subscribe``, 25 per process)
in another (``tests/media/_netns.py``; needs root). After every connection is up and a warm-up,
one window measures: server CPU (``time.process_time``, all threads), video frames delivered to
each subscriber against frames sent, and end-to-end latency (publisher's send time of an
index to the probe subscriber's first decoded picture showing it, one monotonic clock).
Prints one JSON line per run and writes them to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay as StockRelay

from media.config import RelayLimits
from media.relay import MediaRelay
from tests.media._netns import Namespace, Peer

PEERS = Path(__file__).with_name("peers.py")
ROOM, PUBLISHER = "bench", "publisher"
CHUNK = 25


async def spawn(namespace: Namespace, *args: str) -> Peer:
    process = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", namespace.name, sys.executable, str(PEERS), *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL, limit=2**24,
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


async def report(peer: Peer) -> dict[str, Any]:
    after = len(peer.events)
    await peer.send(cmd="report")
    return await peer.expect(lambda e: bool(e.get("report")), after=after, timeout=30)


async def one_run(server: str, n: int, warmup: float, window: float) -> dict[str, Any]:
    pub_ns, sub_ns = Namespace(), Namespace()
    pub_ns.create()
    sub_ns.create()
    peers: list[Peer] = []
    ours = MediaRelay(RelayLimits(subscribers_per_room=200, connections_per_process=400,
                                  subscriptions_per_process=400, connect_timeout=60))
    stock = Stock()
    try:
        async with ours:
            publisher = await spawn(pub_ns, "publish")
            peers.append(publisher)
            offer = (await publisher.expect(lambda e: "offers" in e, timeout=30))["offers"][0]
            if server == "ours":
                tracks = {t["mid"]: t["source"] for t in offer["tracks"]}
                answer = await ours.publish(ROOM, PUBLISHER, offer["sdp"], tracks)
            else:
                answer = await stock.publish(offer["sdp"])
            await publisher.send(answers=[answer])
            subscribers: list[Peer] = []
            for start in range(0, n, CHUNK):
                count = min(CHUNK, n - start)
                peer = await spawn(sub_ns, "subscribe", str(count), PUBLISHER,
                                   "probe" if start == 0 else "count")
                peers.append(peer)
                subscribers.append(peer)
                offers = (await peer.expect(lambda e: "offers" in e, timeout=60))["offers"]
                answers = []
                for i, o in enumerate(offers):
                    if server == "ours":
                        wanted = {t["mid"]: (t["userId"], t["source"]) for t in o["tracks"]}
                        user = f"s{start + i}"
                        answers.append(await ours.subscribe(ROOM, user, o["sdp"], wanted))
                    else:
                        while "video" not in stock.tracks:
                            await asyncio.sleep(0.05)
                        answers.append(await stock.subscribe(o["sdp"]))
                await peer.send(answers=answers)
            deadline = time.monotonic() + 60
            while True:  # every connection up
                states = [s for p in subscribers for s in (await report(p))["states"]]
                if all(s == "connected" for s in states) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(warmup)
            before = [await report(p) for p in subscribers]
            sent0 = (await report(publisher))["sent"]
            cpu0, wall0 = time.process_time(), time.monotonic()
            load0, drops0 = sum(cpu_seconds(p) for p in subscribers), outlet_drops(ours)
            await asyncio.sleep(window)
            cpu1, wall1 = time.process_time(), time.monotonic()
            load1, drops1 = sum(cpu_seconds(p) for p in subscribers), outlet_drops(ours)
            pub_end = await report(publisher)
            after = [await report(p) for p in subscribers]
            sent = pub_end["sent"] - sent0
            delivered = [b - a for x, y in zip(before, after, strict=True)
                         for a, b in zip(x["frames"], y["frames"], strict=True)]
            sent_at = {int(k): v for k, v in pub_end["times"].items()}
            seen = {int(k): v for k, v in after[0]["times"].items()}
            lat = sorted((seen[i] - sent_at[i]) * 1000 for i in seen
                         if i in sent_at and sent0 < i <= pub_end["sent"])
            connected = sum(s == "connected" for s in states)
            return {
                "server": server, "n": n, "connected": connected,
                "window_s": round(wall1 - wall0, 2),
                "server_cores": round((cpu1 - cpu0) / (wall1 - wall0), 3),
                "subscriber_processes_cores": round((load1 - load0) / (wall1 - wall0), 3),
                "relay_dropped_packets": drops1 - drops0,
                "load_average": os.getloadavg()[0],
                "frames_sent": sent, "delivered_min": min(delivered), "delivered_median":
                statistics.median(delivered), "latency_samples": len(lat),
                "latency_p50_ms": round(lat[len(lat) // 2], 1) if lat else None,
                "latency_p95_ms": round(lat[int(len(lat) * 0.95)], 1) if lat else None,
            }
    finally:
        for peer in peers:
            await peer.close()
        await stock.close()
        pub_ns.delete()
        sub_ns.delete()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, nargs="+", default=[1, 5, 20, 50])
    parser.add_argument("--anchor-n", type=int, nargs="*", default=[1, 5])
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=Path("bench/media/results.jsonl"))
    args = parser.parse_args()
    runs = [("ours", n) for n in args.n] + [("stock", n) for n in args.anchor_n]
    with args.out.open("a") as out:
        for server, n in runs:
            result = await one_run(server, n, args.warmup, args.window)
            result["at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            line = json.dumps(result)
            print(line, flush=True)
            out.write(line + "\n")


if __name__ == "__main__":
    asyncio.run(main())
