"""The speaker meter on RFC 6464 levels: peak with release, hysteresis, hold, staleness and the
active speaker's margin (pure: the clock is passed in)."""

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


def test_a_short_blip_ends_soon_and_a_pause_between_words_does_not_end_speech() -> None:
    meter = SpeakerMeter()
    now = _feed(meter, {"ann": 127}, 0.0, 0.5)
    meter.observe("ann", 10, now + 0.02)  # one loud packet: a cough
    now = _feed(meter, {"ann": 127}, now + 0.02, 0.1)
    assert meter.evaluate(now).active == "ann"
    now = _feed(meter, {"ann": 127}, now, 1.5)  # (55 - 10) / 40 + 0.3 s at most
    assert meter.evaluate(now) == Speakers()
    now = _feed(meter, {"ann": 20}, now, 1.0)
    assert meter.evaluate(now).active == "ann"
    now = _feed(meter, {"ann": 127}, now, 0.3)  # between words: still speaking
    assert meter.evaluate(now).active == "ann"
    now = _feed(meter, {"ann": 127}, now, 1.5)  # done
    assert meter.evaluate(now) == Speakers()


def test_beeps_twice_a_second_are_one_stretch_of_speech() -> None:
    """Chromium's fake microphone: a 20 ms beep every 500 ms, silence between."""
    meter = SpeakerMeter()
    now, states = 0.0, []
    for _ in range(8):
        meter.observe("ann", 25, now + 0.02)
        now = _feed(meter, {"ann": 127}, now + 0.02, 0.48)
        for step in range(0, 480, 250):  # evaluated four times a second, as the relay does
            states.append(meter.evaluate(now - 0.48 + step / 1000).active)
        states.append(meter.evaluate(now).active)
    assert states[1:] == ["ann"] * (len(states) - 1)


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
