"""The recorded video follows the presenter: their camera, their screen while they share it,
the camera again when they stop, in one VP8 track switching at keyframes (aiortc publisher in a
network namespace, through the room's ``media.*`` actions)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import av

from media.relay import MediaRelay, RelayLimits
from rooms.media import RoomMedia
from storage.models import Role
from tests.collab._kit import wait_for
from tests.media._netns import Namespace, namespaces
from tests.media.test_relay_netns import _publish, _renegotiate, _Sink, url
from tests.rooms._room import room_env

__all__ = ["namespaces", "url"]


async def test_the_recording_switches_to_the_screen_and_back(
    url: str, namespaces: Callable[[], Namespace], tmp_path: Path
) -> None:
    sink = _Sink()
    async with (
        MediaRelay(RelayLimits(connect_timeout=20)) as relay,
        room_env(url, media=RoomMedia(relay, sink, tmp_path / "rec")) as env,
    ):
        host = await env.user("Hannah", Role.HOST)
        live = await env.start(await env.session(host))
        room = await env.attend(live, host)
        doc_id = str(live.id)
        publisher = await namespaces().spawn("publish", "audio,camera")
        try:
            await _publish(room, publisher)
            await room.ok("media.record", on=True)
            recording = relay._recordings[doc_id]
            assert recording.video_source == "camera"
            await wait_for(lambda: recording.written("video") >= 15, 10)

            # Sharing the screen later: the recording takes it at its first keyframe.
            await _renegotiate(room, publisher, ["audio", "camera", "screen"])
            assert recording.video_source == "screen"
            screen = relay._rooms[doc_id][host.id].publications["screen"].forwarder
            await wait_for(lambda: recording._video_now is not None
                           and recording._outlets.get(recording._video_now) is screen, 10)
            written = recording.written("video")
            await wait_for(lambda: recording.written("video") >= written + 15, 10)

            # The screen stops: back to the camera (still published).
            await _renegotiate(room, publisher, ["audio", "camera"])
            await wait_for(lambda: recording.video_source == "camera", 10)
            written = recording.written("video")
            await wait_for(lambda: recording.written("video") >= written + 15, 10)
            reply = await room.ok("media.record", on=False)
        finally:
            await publisher.close()

    data, recorded, _ = sink.files[reply["objectKey"]]
    assert recorded.video
    sizes: list[tuple[int, int]] = []
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        assert (video.width, video.height) == (320, 240)  # the header: the first keyframe's
        for packet in container.demux(video):
            for frame in packet.decode():  # raises on a broken bitstream
                if not sizes or sizes[-1] != (frame.width, frame.height):
                    sizes.append((frame.width, frame.height))
    assert sizes == [(320, 240), (480, 272), (320, 240)]
