"""Debian's Chromium (fake camera and microphone) publishing through the relay, and a second
Chromium page receiving and really decoding the pictures; the offers and answers travel as
``media.*`` actions on the room's socket. Chromium runs in a network namespace of its own
(it ignores loopback interfaces)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from media.relay import MediaRelay, RelayLimits
from rooms.media import RoomMedia
from storage.db import migrate
from storage.models import Role
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, missing
from tests.collab._kit import wait_for
from tests.media._netns import Namespace, namespaces
from tests.rooms._room import room_env

__all__ = ["namespaces"]

pytestmark = pytest.mark.browser

PAGE = "https://media.test/"
ARGS = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        "--disable-features=WebRtcHideLocalIpsWithMdns"]

# Non-trickle: the offer is sent once gathering is complete, with every candidate in it.
OFFER = """async (spec) => {
  const pc = new RTCPeerConnection({iceServers: []});
  window.pc = pc;
  const tracks = [];
  if (spec.publish) {
    const stream = await navigator.mediaDevices.getUserMedia(
      {audio: true, video: {width: 320, height: 240, frameRate: 15}});
    for (const track of stream.getTracks()) {
      const t = pc.addTransceiver(track, {direction: 'sendonly'});
      tracks.push({t, source: track.kind === 'audio' ? 'audio' : 'camera'});
    }
  } else {
    for (const want of spec.want) {
      const t = pc.addTransceiver(want.source === 'audio' ? 'audio' : 'video',
                                  {direction: 'recvonly'});
      tracks.push({t, source: want.source, userId: want.userId});
    }
    pc.ontrack = (event) => {
      if (event.track.kind !== 'video') return;
      const video = document.querySelector('video');
      video.srcObject = new MediaStream([event.track]);
      video.play();
    };
  }
  await pc.setLocalDescription(await pc.createOffer());
  if (pc.iceGatheringState !== 'complete') {
    await new Promise((resolve) => pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') resolve();
    }));
  }
  return {sdp: pc.localDescription.sdp,
          tracks: tracks.map(({t, source, userId}) => (
            userId ? {mid: t.mid, source, userId} : {mid: t.mid, source}))};
}"""

STATS = """async (direction) => {
  const out = {};
  (await window.pc.getStats()).forEach((r) => {
    if (r.type === direction && r.kind === 'video') out.video = r;
    if (r.type === direction && r.kind === 'audio') out.audio = r;
  });
  const video = document.querySelector('video');
  out.width = video ? video.videoWidth : 0;
  out.state = window.pc.connectionState;
  return out;
}"""


CAP = 120_000  # bit/s: below Chromium's 300 kbit/s start, so an ignored cap shows


@pytest.fixture
async def url(tmp_path: Path) -> str:
    database = f"sqlite+aiosqlite:///{tmp_path / 'chromium.db'}"
    await migrate(database)
    return database


async def test_chromium_publishes_and_another_chromium_renders(
    url: str, namespaces: Callable[[], Namespace], tmp_path: Path
) -> None:
    if not Path(CHROMIUM).exists():
        missing(f"Debian's Chromium is not installed at {CHROMIUM}")
    from playwright.async_api import Route, async_playwright

    namespace = namespaces()
    wrapper = tmp_path / "chromium-in-netns"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {namespace.name} {CHROMIUM} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)

    async def page_html(route: Route) -> None:
        await route.fulfill(content_type="text/html",
                            body="<html><body><video muted playsinline></video></body></html>")

    async with (
        MediaRelay(RelayLimits(connect_timeout=20, max_video_bitrate=CAP,
                               bitrate_window=2.0)) as relay,
        room_env(url, media=RoomMedia(relay)) as env,
        async_playwright() as playwright,
    ):
        host, ann = await env.user("Hannah", Role.HOST), await env.user("Ann")
        live = await env.session(host)
        await env.join(live, ann)
        live = await env.start(live)
        host_room, ann_room = await env.attend(live, host), await env.attend(live, ann)
        browser = await playwright.chromium.launch(executable_path=str(wrapper), args=ARGS)
        try:
            pages: list[Any] = []
            for _ in range(2):
                context = await browser.new_context()
                await context.route(PAGE, page_html)
                page = await context.new_page()
                await page.goto(PAGE)
                pages.append(page)
            publisher, subscriber = pages

            offer = await publisher.evaluate(OFFER, {"publish": True})
            reply = await host_room.ok("media.publish", sdp=offer["sdp"], tracks=offer["tracks"])
            await publisher.evaluate(
                "(sdp) => window.pc.setRemoteDescription({type: 'answer', sdp})", reply["sdp"])
            doc_id = str(live.id)
            await wait_for(lambda: "camera" in relay.publications(doc_id).get(host.id, []), 10)
            camera = relay._rooms[doc_id][host.id].publications["camera"].forwarder
            await wait_for(lambda: camera.received >= 15, 15)

            offer = await subscriber.evaluate(OFFER, {"publish": False, "want": [
                {"userId": host.id, "source": "camera"}, {"userId": host.id, "source": "audio"}]})
            reply = await ann_room.ok("media.subscribe", sdp=offer["sdp"], tracks=offer["tracks"])
            await subscriber.evaluate(
                "(sdp) => window.pc.setRemoteDescription({type: 'answer', sdp})", reply["sdp"])

            seen: dict[str, Any] = {}

            async def rendering() -> bool:
                seen.update(await subscriber.evaluate(STATS, "inbound-rtp"))
                video = seen.get("video") or {}
                return bool(video.get("framesDecoded", 0) >= 30 and seen["width"] == 320)

            for _ in range(150):  # up to 15 s, polling the page's stats
                if await rendering():
                    break
                await subscriber.wait_for_timeout(100)
            else:
                raise AssertionError(f"the subscriber page decoded too little: {seen}")
            assert (seen.get("audio") or {}).get("packetsReceived", 0) > 0
            sent = await publisher.evaluate(STATS, "outbound-rtp")
            # The publisher's own bitstream: the relay asked it for keyframes, no encoder of
            # ours made any.
            assert sent["video"]["codecId"] and sent["video"].get("pliCount", 0) >= 1
            assert camera.requests_sent >= 1
            # The relay's answer caps the video; Chromium's encoder aims under it.
            remote = await publisher.evaluate("() => window.pc.remoteDescription.sdp")
            assert f"b=TIAS:{CAP}" in remote
            assert 0 < sent["video"]["targetBitrate"] <= CAP, sent["video"]
            # A browser that keeps to the cap is never stopped for it (media.bitrate): watched
            # for two whole windows, it is under 1.5 x CAP and still published.
            publication = relay._rooms[doc_id][host.id].publications["camera"]
            meter, clock = publication.meter, anyio.current_time
            assert meter is not None and meter._first is not None
            await wait_for(lambda: clock() - (meter._first or 0) > 2 * meter.window, 15)
            assert 0 < meter.rate(clock()) <= 1.5 * CAP
            assert relay.publications(doc_id)[host.id] == ["audio", "camera"]
        finally:
            await browser.close()
