"""The benchmark report's ratio cells: our figure over the best anchor's, bold when it misses."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize(
    ("ours", "anchors", "better", "cell"),
    [
        (2.0, [4.0, 8.0], "lower", "0.50"),  # the best anchor is the lowest
        (6.0, [4.0, 8.0], "lower", "**1.50**"),
        (6.0, [4.0, 8.0], "higher", "**0.75**"),  # ...or the highest
        (9.0, [4.0, None], "higher", "2.25"),
        (0.0, [0.0, 3.0], "lower", "1.00"),
        (1.0, [0.0, 3.0], "lower", "**∞**"),
        (18.6, [-0.87, 63.2], "lower", "**above best (≤ 0)**"),  # an anchor's RSS shrank
        (-2.0, [-0.87, 63.2], "lower", "≤ best"),
        (None, [1.0], "lower", ""),
        (1.0, [None], "lower", ""),
        (1.0, [2.0], "info", ""),
    ],
)
def test_ratio_cell(
    ours: float | None,
    anchors: list[float | None],
    better: str,
    cell: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    report = importlib.import_module("harness.report")
    assert report.ratio(ours, anchors, better) == cell
