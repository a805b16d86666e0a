"""Word error rate and real-time factor of the transcription engines on a spoken corpus.

The corpus (`bench/transcription_corpus.txt`, one sentence a line) is spoken here by espeak-ng
(voice ``en-us+f2``, 130 words a minute), each sentence as its own WAV file and all of them as
one long file with a second of silence between sentences. Each engine transcribes every file;
the word error rate is the word-level edit distance to the corpus text over its word count
(case and punctuation ignored), the real-time factor the wall time of a transcription over the
audio's duration (below 1: faster than real time), next to the CPU time it took. The offline
engine runs in this process (`speech.sphinx.transcribe_bytes`, its model loaded once
beforehand); the OpenAI engine only
when ``OPENAI_API_KEY`` is set (with ``OPENAI_BASE_URL`` and ``OPENAI_TRANSCRIPTION_MODEL``).

    .venv/bin/python bench/transcription.py            # prints the table
    .venv/bin/python bench/transcription.py --write    # and rewrites it in docs/transcription.md
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from speech.audio import RATE, decode_pcm  # noqa: E402
from speech.sphinx import transcribe_bytes  # noqa: E402

CORPUS = REPO / "bench" / "transcription_corpus.txt"
DOC = REPO / "docs" / "transcription.md"
BEGIN, END = "<!-- transcription-bench:begin -->", "<!-- transcription-bench:end -->"
VOICE = "en-us+f2"
_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def wer(reference: str, hypothesis: str) -> tuple[int, int]:
    """Word-level edit distance (substitutions, insertions, deletions) and reference length."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[len(hyp)], len(ref)


def speak(text: str) -> bytes:
    return subprocess.run(
        ["espeak-ng", "-v", VOICE, "-s", "130", "--stdout", text],
        check=True, capture_output=True, timeout=60,
    ).stdout


def joined(files: list[bytes]) -> bytes:
    """The sentences as one 16 kHz WAV, a second of silence between them."""
    pcm = bytearray()
    for data in files:
        pcm += decode_pcm(data) + bytes(2 * RATE)
    out = Path(os.environ.get("TMPDIR", "/tmp")) / "transcription-bench-long.wav"
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(pcm))
    return out.read_bytes()


@dataclass
class Result:
    engine: str
    case: str
    errors: int
    total: int
    seconds: float
    audio: float
    cpu: float

    @property
    def wer(self) -> float:
        return self.errors / self.total

    @property
    def rtf(self) -> float:
        return self.seconds / self.audio

    @property
    def cpu_rtf(self) -> float:
        return self.cpu / self.audio


def run(engine: str, transcribe: Callable[[bytes], str], sentences: list[str],
        files: list[bytes], long_file: bytes) -> list[Result]:
    results = []
    errors = total = 0
    elapsed = audio = cpu = 0.0
    for text, data in zip(sentences, files, strict=True):
        started, cpu_started = time.perf_counter(), time.process_time()
        heard = transcribe(data)
        elapsed += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
        audio += len(decode_pcm(data)) / 2 / RATE
        e, n = wer(text, heard)
        errors, total = errors + e, total + n
    results.append(Result(engine, f"{len(files)} sentences, one file each", errors, total,
                          elapsed, audio, cpu))
    started, cpu_started = time.perf_counter(), time.process_time()
    heard = transcribe(long_file)
    e, n = wer(" ".join(sentences), heard)
    results.append(Result(engine, "the same as one file", e, n, time.perf_counter() - started,
                          len(decode_pcm(long_file)) / 2 / RATE,
                          time.process_time() - cpu_started))
    return results


def openai_engine() -> Callable[[bytes], str] | None:
    key = os.environ.get("OPENAI_API_KEY")
    if not key:
        return None
    from speech.openai_api import OpenAITranscriber

    engine = OpenAITranscriber(api_key=key, base_url=os.environ.get("OPENAI_BASE_URL"),
                               model=os.environ.get("OPENAI_TRANSCRIPTION_MODEL", "whisper-1"))

    def transcribe(data: bytes) -> str:
        return asyncio.run(engine.transcribe(data, "audio/wav")).text

    return transcribe


def render(results: list[Result]) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"corpus `bench/transcription_corpus.txt` spoken by espeak-ng {VOICE}.",
        "",
        "| engine | audio | words | WER | real-time factor (wall) | CPU s per audio s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(f"| {r.engine} | {r.case} ({r.audio:.0f} s) | {r.total} | "
                     f"{r.wer:.1%} | {r.rtf:.2f} | {r.cpu_rtf:.2f} |")
    lines += ["", "Wall time counts what other processes on the machine took from us; CPU time "
              "is this process's own (for the OpenAI engine it excludes the service's work)."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite docs/transcription.md")
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed (make system-deps)", file=sys.stderr)
        return 2
    sentences = [line.strip() for line in CORPUS.read_text().splitlines() if line.strip()]
    files = [speak(text) for text in sentences]
    long_file = joined(files)
    transcribe_bytes(files[0])  # load the model once: not part of any measurement
    results = run("offline (pocketsphinx)", lambda d: transcribe_bytes(d).text, sentences,
                  files, long_file)
    remote = openai_engine()
    if remote is not None:
        results += run("openai", remote, sentences, files, long_file)
    table = render(results)
    if remote is None:
        table += "\n\nThe OpenAI engine is not measured here: no `OPENAI_API_KEY` on this machine."
    print(table)
    if args.write:
        doc = DOC.read_text()
        head, _, rest = doc.partition(BEGIN)
        _, _, tail = rest.partition(END)
        DOC.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
