"""Speech to text: audio files read from their bytes (PyAV) and the transcription engines.

The offline engine (`PocketSphinxTranscriber`, the embedded default, its model shipped in the
`pocketsphinx` package) and the OpenAI engine (`OpenAITranscriber`, any OpenAI-compatible
transcription endpoint) both satisfy `jobs.Transcriber` structurally. Imports no sibling.
"""

from speech.audio import FORMATS, AudioInfo, NotAudio, decode_pcm, probe
from speech.openai_api import OpenAITranscriber
from speech.sphinx import PocketSphinxTranscriber
from speech.transcript import Segment, Transcript, TranscriptionFailed, TranscriptionRetryable

__all__ = [
    "FORMATS",
    "AudioInfo",
    "NotAudio",
    "OpenAITranscriber",
    "PocketSphinxTranscriber",
    "Segment",
    "Transcript",
    "TranscriptionFailed",
    "TranscriptionRetryable",
    "decode_pcm",
    "probe",
]
