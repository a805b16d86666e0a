"""Peak memory and wall time of transcribing one long recording, per engine's preparation.

Makes a recording of `--minutes` minutes (16 kHz mono WAV, in a temporary folder): a corpus
sentence spoken by espeak-ng at the start of every minute, silence between. Then, each in a
fresh process: the offline engine transcribing it in-process (`speech.sphinx`), and the OpenAI
engine's preparation, decoding and WAV-encoding every chunk it would send (no network). Prints
each one's wall time and its peak resident memory above the process's own after imports and
the model's load (``VmHWM`` minus ``VmRSS`` before, from /proc).

    .venv/bin/python bench/transcription_memory.py                 # this checkout's code
    .venv/bin/python bench/transcription_memory.py --code ../main  # another checkout's code
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "bench" / "transcription_corpus.txt"
RATE = 16_000


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def _make(path: Path, minutes: int) -> None:
    sys.path.insert(0, str(REPO))
    from speech.audio import decode_pcm

    lines = [line for line in CORPUS.read_text().splitlines() if line.strip()]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        for minute in range(minutes):
            text = lines[minute % len(lines)]
            spoken = subprocess.run(["espeak-ng", "-v", "en-us+f2", "-s", "130", "--stdout", text],
                                    check=True, capture_output=True, timeout=60).stdout
            said = decode_pcm(spoken)[: 50 * RATE * 2]
            out.writeframes(said + bytes(60 * RATE * 2 - len(said)))


def _case(code: Path, case: str, path: Path) -> None:
    sys.path.insert(0, str(code))
    import speech.openai_api as api
    import speech.sphinx as sphinx

    sphinx._decoder()  # the model: loaded before the baseline
    before = _status("VmRSS")
    started = time.perf_counter()
    if case == "offline":
        run = getattr(sphinx, "transcribe_file", None) or sphinx.transcribe_bytes
        result = f"{len(run(path).segments)} segments"
    elif hasattr(api, "chunk_spans"):
        spans, _ = api.chunk_spans(path, 24 * 1024 * 1024)
        sent = 0
        for part in api.encoded_chunks(path, spans):
            sent += len(part.wav)
            del part  # as the engine does once a chunk is sent
        result = f"{len(spans)} chunks, {sent / 2**20:.0f} MiB of WAV"
    else:
        parts, _ = api.prepare_chunks(path, 24 * 1024 * 1024)  # type: ignore[attr-defined]
        result = f"{len(parts)} chunks, {sum(len(p.wav) for p in parts) / 2**20:.0f} MiB of WAV"
    elapsed = time.perf_counter() - started
    peak = _status("VmHWM") - before
    print(f"{case:8} {elapsed:7.1f} s  peak +{max(peak, 0) / 2**20:6.1f} MiB  ({result})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=REPO)
    parser.add_argument("--minutes", type=int, default=20)
    parser.add_argument("--case", choices=["offline", "openai"])
    parser.add_argument("--file", type=Path)
    args = parser.parse_args()
    if args.case:
        _case(args.code.resolve(), args.case, args.file)
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.wav"
        _make(path, args.minutes)
        print(f"{args.minutes} min, {path.stat().st_size / 2**20:.0f} MiB WAV; code {args.code}")
        for case in ("offline", "openai"):
            subprocess.run([sys.executable, __file__, "--code", str(args.code), "--case", case,
                            "--file", str(path)], check=True)


if __name__ == "__main__":
    main()
