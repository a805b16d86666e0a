"""The speaker meter on RFC 6464 levels: smoothing, hysteresis, hold, staleness and the active
speaker's margin (pure: the clock is passed in)."""

from __future__ import annotations

from media.speaker import SpeakerMeter, Speakers


def _feed(meter: SpeakerMeter, levels: dict[str, int], start: float, seconds: float) -> float:
    """20 ms packets of each user at a constant level; returns the time after the last."""
    now = start
    for _ in range(round(seconds / 0.02)):
        now += 0.02
        for user_id, level in levels.items():
            meter.observe(user_id, level, now)
    return now


def test_a_loud_voice_speaks_and_a_silent_one_does_not() -> None:
    meter = SpeakerMeter()
    now = _feed(meter, {"ann": 127, "bob": 127}, 0.0, 1.0)
    assert meter.evaluate(now) == Speakers()
    now = _feed(meter, {"ann": 20, "bob": 127}, now, 2.0)
    assert meter.evaluate(now) == Speakers("ann", frozenset({"ann"}))
    assert -21 < meter.level("ann") < -19  # the average reached the steady level


def test_one_loud_packet_is_not_speech_and_a_short_pause_does_not_end_it() -> None:
    meter = SpeakerMeter()
    now = _feed(meter, {"ann": 127}, 0.0, 0.5)
    meter.observe("ann", 0, now + 0.02)
    now = _feed(meter, {"ann": 127}, now + 0.02, 0.02)
    assert meter.evaluate(now) == Speakers()
    now = _feed(meter, {"ann": 20}, now, 1.0)
    assert meter.evaluate(now).active == "ann"
    now = _feed(meter, {"ann": 127}, now, 0.3)  # between words: held
    assert meter.evaluate(now).active == "ann"
    now = _feed(meter, {"ann": 127}, now, 1.0)  # past the hold: done
    assert meter.evaluate(now) == Speakers()


def test_the_active_speaker_keeps_the_place_within_the_margin() -> None:
    meter = SpeakerMeter()
    now = _feed(meter, {"ann": 25}, 0.0, 1.0)
    assert meter.evaluate(now).active == "ann"
    now = _feed(meter, {"ann": 25, "bob": 22}, now, 1.0)  # 3 dB louder: Ann stays
    assert meter.evaluate(now) == Speakers("ann", frozenset({"ann", "bob"}))
    now = _feed(meter, {"ann": 25, "bob": 10}, now, 1.0)  # 15 dB louder: Bob takes it
    assert meter.evaluate(now).active == "bob"


def test_a_voice_whose_packets_stop_is_forgotten() -> None:
    meter = SpeakerMeter()
    now = _feed(meter, {"ann": 10}, 0.0, 1.0)
    assert meter.evaluate(now).active == "ann" and not meter.idle
    assert meter.evaluate(now + 1.0) == Speakers()  # muted or gone: no packets
    assert meter.idle
