"""Short test videos as HLS (H.264 + AAC, two-second segments) and a poster, made with PyAV.

Each second of the video shows its label and the second it is at in large digits and starts with
a short tone, so a person (or a screenshot) can tell where playback is. Used by
``collab sample-course`` to give a fresh install lessons that really play.
"""

from __future__ import annotations

import colorsys
import math
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont

__all__ = ["write_hls"]

_WIDTH, _HEIGHT, _FPS = 640, 360, 15
_RATE = 44_100
_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(_FONT, size)
    except OSError:
        return ImageFont.load_default()


def _picture(label: str, second: int, hue: float) -> Image.Image:
    red, green, blue = (int(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.55, 0.45))
    image = Image.new("RGB", (_WIDTH, _HEIGHT), (red, green, blue))
    draw = ImageDraw.Draw(image)
    size = 30
    while size > 12 and draw.textlength(label, font=_font(size)) > _WIDTH - 64:
        size -= 2  # the label fits the frame's width
    draw.text((32, 28), label, fill="white", font=_font(size))
    draw.text((_WIDTH // 2, _HEIGHT // 2 + 20), f"{second // 60}:{second % 60:02d}",
              fill="white", font=_font(110), anchor="mm")
    return image


def _tone(samples: int, beep: int) -> bytes:
    """``samples`` of 16-bit mono: a 660 Hz tone for the first ``beep`` samples, then silence."""
    out = bytearray()
    for n in range(samples):
        value = int(6000 * math.sin(2 * math.pi * 660 * n / _RATE)) if n < beep else 0
        out += value.to_bytes(2, "little", signed=True)
    return bytes(out)


def write_hls(dest: Path, seconds: int, *, label: str, hue: float = 0.6) -> None:
    """Write ``dest/index.m3u8``, its ``segment-N.ts`` files and ``dest/thumbnail.jpg``."""
    dest.mkdir(parents=True, exist_ok=True)
    second_of_audio = _tone(_RATE, _RATE // 8)
    with av.open(
        str(dest / "index.m3u8"),
        "w",
        format="hls",
        options={
            "hls_time": "2",
            "hls_list_size": "0",
            "hls_playlist_type": "vod",
            "hls_segment_filename": str(dest / "segment-%d.ts"),
        },
    ) as container:
        video = container.add_stream("libx264", rate=_FPS)
        video.width, video.height, video.pix_fmt = _WIDTH, _HEIGHT, "yuv420p"
        video.options = {"g": str(_FPS * 2), "preset": "veryfast", "crf": "30"}
        audio = container.add_stream("aac", rate=_RATE)
        audio.layout = "mono"
        chunk = 1024
        audio_pts = 0
        for second in range(seconds):
            picture = _picture(label, second, hue)
            for index in range(_FPS):
                frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]
                frame.pts = second * _FPS + index
                frame.time_base = Fraction(1, _FPS)
                container.mux(video.encode(frame))
            for start in range(0, _RATE, chunk):
                part = second_of_audio[start * 2 : (start + chunk) * 2]
                frame = av.AudioFrame(format="s16", layout="mono", samples=len(part) // 2)
                frame.planes[0].update(part)
                frame.sample_rate = _RATE
                frame.pts = audio_pts
                frame.time_base = Fraction(1, _RATE)
                audio_pts += len(part) // 2
                container.mux(audio.encode(frame))
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    _picture(label, 0, hue).save(dest / "thumbnail.jpg", quality=80)
