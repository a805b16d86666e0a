"""`speech.audio.sniff`: the first bytes of every supported format are recognised, text and
other containers are not; `probe` reads a file object or a path as it reads bytes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from speech.audio import SNIFF_BYTES, NotAudio, probe, sniff
from tests.audio_samples import encoded, tone_pcm, wav

TONE = wav(tone_pcm(0.4))


@pytest.mark.parametrize("fmt", ["mp3", "wav", "m4a", "webm", "ogg"])
def test_every_supported_format_is_recognised_by_its_first_bytes(
    fmt: str, tmp_path: Path
) -> None:
    data = TONE if fmt == "wav" else encoded(TONE, fmt)
    assert sniff(data[:SNIFF_BYTES]) == fmt
    path = tmp_path / "audio.bin"
    path.write_bytes(data)
    with path.open("rb") as file:
        file.read(5)  # a file is read from its start wherever it stands
        assert probe(file) == probe(data) == probe(str(path))


def test_other_bytes_are_not_audio() -> None:
    for head in (b"plain text here!", b"RIFF\0\0\0\0AVI LIST", b"%PDF-1.7\n", b"\xff\xf1\x50\x80",
                 b"", b"ID"):
        assert sniff(head) is None, head
    assert sniff(b"\xff\xfb\x90\x00" + b"\0" * 12) == "mp3"  # a bare MPEG layer III frame
    with pytest.raises(NotAudio):
        probe(io.BytesIO(b"ID3\x04\x00" + b"\x01" * 4000))
