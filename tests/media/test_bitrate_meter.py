"""The incoming bitrate meter (``media.bitrate``): a sliding window, verdicts only after a whole
window, bounded memory (pure: the clock is passed in)."""

from __future__ import annotations

from media.bitrate import BUCKETS, BitrateMeter


def _feed(meter: BitrateMeter, bits_per_second: float, start: float, seconds: float,
          fps: int = 30) -> float:
    """Frames at ``fps`` adding up to ``bits_per_second``; returns the time of the last."""
    size = round(bits_per_second / 8 / fps)
    now = start
    for i in range(round(seconds * fps)):
        now = start + (i + 1) / fps
        meter.add(size, now)
    return now


def test_the_rate_is_the_bytes_of_the_last_window() -> None:
    meter = BitrateMeter(threshold=1_000_000, window=5.0)
    assert meter.rate(0.0) == 0.0
    now = _feed(meter, 800_000, 0.0, 6.0)
    assert 760_000 < meter.rate(now) < 840_000
    now = _feed(meter, 200_000, now, 6.0)  # the old rate left the window
    assert 180_000 < meter.rate(now) < 220_000
    assert meter.rate(now + 60) == 0.0  # silence: nothing in the window


def test_over_only_after_a_whole_window_above_the_threshold() -> None:
    meter = BitrateMeter(threshold=1_000_000, window=5.0)
    now = _feed(meter, 3_000_000, 0.0, 4.0)
    assert meter.rate(now) > 1_000_000 and not meter.over(now)  # not a whole window yet
    now = _feed(meter, 3_000_000, now, 1.5)
    assert meter.over(now)


def test_a_keyframe_burst_under_the_average_is_not_over() -> None:
    meter = BitrateMeter(threshold=1_000_000, window=5.0)
    now = 0.0
    for second in range(12):  # 600 kbit/s with a 50 kB keyframe every 2 s (at most 3 a window)
        meter.add(50_000 if second % 2 == 0 else 0, now)
        now = _feed(meter, 600_000, now, 1.0)
        assert not meter.over(now), second
    assert meter.rate(now) < 1_000_000


def test_memory_is_bounded_by_the_buckets() -> None:
    meter = BitrateMeter(threshold=1, window=1.0)
    _feed(meter, 100_000, 0.0, 60.0, fps=1000)
    assert len(meter._buckets) <= BUCKETS + 1
