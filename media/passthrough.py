"""Encoded-frame passthrough: make chosen aiortc receivers hand out ``av.Packet``, not frames.

aiortc (pinned at ``AIORTC_VERSION``) always decodes what it receives: each ``RTCRtpReceiver``
runs the module-level function ``aiortc.rtcrtpreceiver.decoder_worker`` in a thread, which
turns every reassembled frame of the jitter buffer into decoded ``av`` frames and puts them on
the receiver track's queue. Its senders, on the other hand, accept an ``av.Packet`` from their
track and only re-packetize it (``encoder.pack``). A relay that forwards without transcoding
therefore needs one change: for the receivers it marks, the worker puts the *encoded* frame on
the queue as an ``av.Packet`` (payload, RTP ``pts``, ``time_base`` 1/clock rate, keyframe bit).

The function is private and changed its signature between aiortc 1.15 and 1.16, so ``check``
verifies the installed version and the shapes this module relies on, ``install`` refuses to run
on anything else, and ``tests/media/test_passthrough_hook.py`` fails loudly on an upgrade.
Receivers that are not marked keep decoding (the worker delegates to the original).

``release_at_marker`` replaces one video receiver's private jitter buffer (the name-mangled
``RTCRtpReceiver.__jitter_buffer``, which ``_handle_rtp_packet`` feeds with every depayloaded
packet) by ``media.marker.MarkerJitterBuffer``, so a complete frame is forwarded when its last
packet arrives, not when the next frame starts; ``check`` verifies the attribute and its use.

``tap_audio_level`` wraps one receiver's private ``_handle_rtp_packet`` (which the DTLS
transport calls with every RTP packet for it) to read the RFC 6464 audio level aiortc has
already parsed from the header; ``check`` verifies that too.
"""

from __future__ import annotations

import asyncio
import fractions
import inspect
import queue
import threading
import weakref
from collections.abc import Callable
from importlib import metadata
from typing import Any

import av

__all__ = ["AIORTC_VERSION", "HookUnavailable", "check", "forward_encoded", "install",
           "is_keyframe", "release_at_marker", "tap_audio_level"]

AIORTC_VERSION = "1.16.0"  # the version whose private receiver this module replaces
_WORKER_PARAMETERS = ("loop", "input_q", "output_q", "decode_error")
_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"  # RTCRtpReceiver.__jitter_buffer, mangled

_encoded_queues: weakref.WeakSet[asyncio.Queue[Any]] = weakref.WeakSet()
_lock = threading.Lock()
_original: Any = None


class HookUnavailable(RuntimeError):
    """The installed aiortc is not the one this hook was written for (the message says why)."""


def check() -> None:
    """Verify that the installed aiortc has the private shapes the hook relies on.

    Raises:
        HookUnavailable: naming the mismatch (version, worker signature, receiver or sender).
    """
    import aiortc.rtcrtpreceiver as receiver_module
    import aiortc.rtcrtpsender as sender_module

    version = metadata.version("aiortc")
    if version != AIORTC_VERSION:
        raise HookUnavailable(f"aiortc {version} installed, the passthrough hook needs "
                              f"{AIORTC_VERSION} (media/passthrough.py)")
    worker = _original if _original is not None else receiver_module.decoder_worker
    parameters = tuple(inspect.signature(worker).parameters)
    if parameters != _WORKER_PARAMETERS:
        raise HookUnavailable(f"aiortc.rtcrtpreceiver.decoder_worker{parameters} changed")
    track = receiver_module.RemoteStreamTrack(kind="video")
    if not isinstance(getattr(track, "_queue", None), asyncio.Queue):
        raise HookUnavailable("aiortc RemoteStreamTrack has no _queue")
    if not callable(getattr(receiver_module.RTCRtpReceiver, "_send_rtcp_pli", None)):
        raise HookUnavailable("aiortc RTCRtpReceiver has no _send_rtcp_pli")
    if not callable(getattr(sender_module.RTCRtpSender, "_send_keyframe", None)):
        raise HookUnavailable("aiortc RTCRtpSender has no _send_keyframe")
    handler = getattr(receiver_module.RTCRtpReceiver, "_handle_rtp_packet", None)
    if handler is None or tuple(inspect.signature(handler).parameters) != (
            "self", "packet", "arrival_time_ms"):
        raise HookUnavailable("aiortc RTCRtpReceiver._handle_rtp_packet changed")
    import aiortc.rtp as rtp_module

    if "audio_level" not in getattr(rtp_module.HeaderExtensions, "__dataclass_fields__", {}):
        raise HookUnavailable("aiortc HeaderExtensions has no audio_level")
    source = inspect.getsource(receiver_module.RTCRtpReceiver.receive)
    if "target=decoder_worker" not in source:
        raise HookUnavailable("RTCRtpReceiver.receive no longer starts decoder_worker")
    _check_jitter_buffer(receiver_module)


def _check_jitter_buffer(receiver_module: Any) -> None:
    """What ``release_at_marker`` and ``media.marker`` rely on: the receiver's buffer attribute,
    the one call that feeds it, and the buffer's fields."""
    import aiortc.jitterbuffer as jitter_module

    handler = inspect.getsource(receiver_module.RTCRtpReceiver._handle_rtp_packet)
    if "self.__jitter_buffer.add(packet)" not in handler:
        raise HookUnavailable("RTCRtpReceiver._handle_rtp_packet no longer feeds __jitter_buffer")
    if "if not self._enabled:" not in handler:  # what a limited m-line relies on
        raise HookUnavailable("RTCRtpReceiver._handle_rtp_packet no longer checks _enabled")
    if "packet._data = depayload(" not in handler:
        raise HookUnavailable("RTCRtpReceiver._handle_rtp_packet no longer sets packet._data")

    class _Transport:
        state = "new"

    receiver = receiver_module.RTCRtpReceiver("video", _Transport())
    buffer = getattr(receiver, _JITTER_BUFFER, None)
    if type(buffer) is not jitter_module.JitterBuffer:
        raise HookUnavailable("RTCRtpReceiver has no __jitter_buffer JitterBuffer")
    for name in ("_origin", "_packets", "_capacity"):
        if not hasattr(buffer, name):
            raise HookUnavailable(f"aiortc JitterBuffer has no {name}")
    if tuple(inspect.signature(buffer.add).parameters) != ("packet",) or tuple(
            inspect.signature(buffer.remove).parameters) != ("count",):
        raise HookUnavailable("aiortc JitterBuffer.add/remove changed")


def install() -> None:
    """Replace aiortc's decoder worker by one that honours ``forward_encoded`` (idempotent).

    Raises:
        HookUnavailable: see ``check``; nothing was replaced.
    """
    global _original
    import aiortc.rtcrtpreceiver as receiver_module

    with _lock:
        if _original is not None:
            return
        check()
        _original = receiver_module.decoder_worker
        receiver_module.decoder_worker = _worker


def forward_encoded(track: Any) -> None:
    """Mark a remote track (``RTCRtpReceiver.track``) so that it yields ``av.Packet`` values.

    Call after ``setRemoteDescription`` (which creates the track) and before the connection
    is up (``RTCRtpReceiver.receive`` starts the worker then). ``install`` must have run.
    """
    if _original is None:
        raise HookUnavailable("media.passthrough.install() has not run")
    _encoded_queues.add(track._queue)


def release_at_marker(receiver: Any) -> None:
    """Make a video ``RTCRtpReceiver`` hand out each complete frame at its marker packet
    (``media.marker``). Call before the connection is up (no packet buffered yet)."""
    from media.marker import MarkerJitterBuffer

    current = getattr(receiver, _JITTER_BUFFER, None)
    if current is None or receiver.track is None or receiver.track.kind != "video":
        raise HookUnavailable("release_at_marker needs a video RTCRtpReceiver")
    setattr(receiver, _JITTER_BUFFER, MarkerJitterBuffer(current.capacity))


def tap_audio_level(receiver: Any, observe: Callable[[int], None]) -> None:
    """Call ``observe(level)`` with the RFC 6464 level (0 loudest .. 127 silent, -dBov) of
    every RTP packet ``receiver`` gets that carries one, before aiortc handles the packet.
    ``observe`` runs on the event loop and must not block; its errors are not caught."""
    handle = receiver._handle_rtp_packet

    async def tapped(packet: Any, arrival_time_ms: int) -> None:
        level = packet.extensions.audio_level  # (voice activity, level) or None
        if level is not None:
            observe(int(level[1]))
        await handle(packet, arrival_time_ms)

    receiver._handle_rtp_packet = tapped


def is_keyframe(packet: av.Packet[Any]) -> bool:
    """Whether a forwarded packet starts a picture that decodes on its own (audio: always)."""
    return bool(packet.is_keyframe)


def _worker(
    loop: asyncio.AbstractEventLoop,
    input_q: queue.Queue[Any],
    output_q: asyncio.Queue[Any],
    decode_error: threading.Event,
) -> None:
    if output_q not in _encoded_queues:
        _original(loop, input_q, output_q, decode_error)
        return
    while True:
        task = input_q.get()
        if task is None:  # the receiver stopped: end the track
            asyncio.run_coroutine_threadsafe(output_q.put(None), loop)
            return
        codec, encoded = task
        packet = av.Packet(encoded.data)
        packet.pts = encoded.timestamp
        packet.time_base = fractions.Fraction(1, codec.clockRate)
        if codec.mimeType.lower() == "video/vp8":
            # RFC 6386 9.1: bit 0 of the frame tag is 0 for a key frame.
            packet.is_keyframe = bool(encoded.data) and not encoded.data[0] & 0x01
        else:
            packet.is_keyframe = codec.mimeType.lower().startswith("audio/")
        asyncio.run_coroutine_threadsafe(output_q.put(packet), loop)
