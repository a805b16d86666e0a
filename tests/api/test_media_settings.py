"""MEDIA_* settings: ICE servers for browsers and for the relay (no third-party default), and
the limits, as `api.live.build_media` hands them to the relay."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from api.live import build_media
from api.settings import Settings
from media.config import IceServer


def test_no_ice_server_unless_configured() -> None:
    relay = build_media(Settings())
    assert relay is not None
    assert relay.client_ice_servers == () and relay._ice_servers == ()


def test_ice_servers_and_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIA_ICE_SERVERS", json.dumps([
        {"urls": ["stun:stun.example.org:3478"]},
        {"urls": ["turn:turn.example.org:3478", "turns:turn.example.org:443"],
         "username": "u", "credential": "secret"},
    ]))
    monkeypatch.setenv("MEDIA_SERVER_ICE_SERVERS", '[{"urls": ["stun:10.0.0.1:3478"]}]')
    monkeypatch.setenv("MEDIA_PUBLISHERS_PER_ROOM", "2")
    monkeypatch.setenv("MEDIA_MAX_CONNECTIONS", "10")
    relay = build_media(Settings())
    assert relay is not None
    assert [s.as_json() for s in relay.client_ice_servers] == [
        {"urls": ["stun:stun.example.org:3478"]},
        {"urls": ["turn:turn.example.org:3478", "turns:turn.example.org:443"],
         "username": "u", "credential": "secret"},
    ]
    assert relay._ice_servers == (IceServer(("stun:10.0.0.1:3478",)),)
    assert (relay.limits.publishers_per_room, relay.limits.connections_per_process) == (2, 10)


def test_a_bad_ice_server_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIA_ICE_SERVERS", '[{"urls": ["http://example.org"]}]')
    with pytest.raises(ValidationError, match="MEDIA_ICE_SERVERS"):
        Settings()


def test_media_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIA_ENABLED", "false")
    assert build_media(Settings()) is None
