"""The transcription benchmark's word error rate (the figure docs/transcription.md reports)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("transcription_bench",
                                                  ROOT / "bench" / "transcription.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["transcription_bench"] = module
    spec.loader.exec_module(module)
    return module


def test_word_error_rate_counts_edits_ignoring_case_and_punctuation() -> None:
    wer = _bench().wer  # type: ignore[attr-defined]
    assert wer("Please bring a pencil.", "please bring a pencil") == (0, 4)
    assert wer("Please bring a pencil.", "please ring a pencil") == (1, 4)  # substitution
    assert wer("Please bring a pencil.", "please bring pencil") == (1, 4)  # deletion
    assert wer("Please bring a pencil.", "please do bring a big pencil") == (2, 4)  # insertions
    assert wer("a b", "") == (2, 2)
