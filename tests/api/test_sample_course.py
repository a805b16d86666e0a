"""`collab sample-course` and the local stand-in for Mux's delivery: a fresh install gets a
course whose lessons really play, and the streams are served only for tokens Mux would accept."""

from __future__ import annotations

import base64
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from api.playback import generate_dev_key
from api.sample import SAMPLE_MODULES, load_sample_course, sample_videos
from api.settings import Settings
from tests.api.conftest import bearer, make_settings, register, user_with_role

Client = httpx.AsyncClient


@pytest.fixture(scope="module")
def made_streams(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample videos, encoded once for the module (each test copies them)."""
    from media.samplevideo import write_hls

    root = tmp_path_factory.mktemp("streams")
    for m_index in range(len(SAMPLE_MODULES)):
        for playback_id, _, label in sample_videos(m_index):
            write_hls(root / playback_id, 4, label=label)
    return root


@pytest.fixture
async def sample(
    app_factory: Callable[..., Any], database_url: str, tmp_path: Path, made_streams: Path
) -> tuple[Client, Settings]:
    data = tmp_path / "sample-data"
    shutil.copytree(made_streams, data / "streams")
    settings = make_settings(database_url, COLLAB_DATA_DIR=str(data))
    first = await load_sample_course(settings)
    assert (first.modules_created, first.lessons_created) == (3, 6)
    assert first.videos_written == [] and first.dev_key_created
    again = await load_sample_course(settings)
    assert (again.modules_created, again.lessons_created, again.dev_key_created) == (0, 0, False)
    client = await app_factory(COLLAB_DATA_DIR=str(data))
    return client, settings


async def _token(client: Client, user: dict[str, str], playback_id: str, kind: str) -> Any:
    answer = await client.post(
        "/api/mux/playback-token", json={"playbackId": playback_id, "type": kind}, headers=user
    )
    return answer


async def test_the_sample_course_plays_with_a_signed_token(sample: tuple[Client, Settings]) -> None:
    client, _ = sample
    user = bearer((await register(client))["token"])
    found = await client.get("/api/workbook/modules", params={"search": "notes"}, headers=user)
    assert [m["title"] for m in found.json()["modules"]] == ["Getting started with shared notes"]
    module = found.json()["modules"][0]
    lessons = (await client.get(f"/api/workbook/modules/{module['id']}/lessons", headers=user))
    first = lessons.json()["lessons"][1]
    assert first["title"] == "Your first shared note"
    assert [s["title"] for s in first["subLessons"]] == ["Creating", "Sharing"]

    answer = await _token(client, user, first["muxPlaybackId"], "video")
    assert answer.status_code == 200, answer.text
    token, url = answer.json()["token"], answer.json()["streamUrl"]
    assert url == f"/mux-local/stream/{first['muxPlaybackId']}.m3u8?token={token}"
    playlist = await client.get(url)
    assert playlist.status_code == 200
    assert playlist.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    segments = [line for line in playlist.text.splitlines() if ".ts?" in line]
    assert segments and all(line.endswith(f"?token={token}") for line in segments)
    segment = await client.get(f"/mux-local/stream/{segments[0]}")
    assert segment.status_code == 200 and segment.headers["content-type"] == "video/mp2t"
    assert segment.content[:1] == b"\x47"  # an MPEG-TS sync byte

    poster = await _token(client, user, first["muxPlaybackId"], "thumbnail")
    assert poster.json()["streamUrl"] is None
    image_url = f"/mux-local/image/{first['muxPlaybackId']}/thumbnail.jpg"
    image = await client.get(image_url, params={"token": poster.json()["token"]})
    assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"
    # A video token does not open the thumbnail, nor a thumbnail token the video (aud).
    assert (await client.get(image_url, params={"token": token})).status_code == 403
    wrong_aud = await client.get(url.replace(token, poster.json()["token"]))
    assert wrong_aud.status_code == 403


async def test_sample_parts_play_their_own_videos_and_custom_domain_drops_the_url(
    sample: tuple[Client, Settings], app_factory: Callable[..., Any]
) -> None:
    client, settings = sample
    user = bearer((await register(client))["token"])
    found = await client.get("/api/workbook/modules", params={"search": "workshop"}, headers=user)
    module = found.json()["modules"][0]
    lessons = (await client.get(f"/api/workbook/modules/{module['id']}/lessons", headers=user))
    during = lessons.json()["lessons"][1]
    parts = [(s["title"], s["muxPlaybackId"], s["durationSeconds"]) for s in during["subLessons"]]
    assert parts == [("Polls", "sample-m2-l2-p1", 12), ("Questions", "sample-m2-l2-p2", 10)]
    answer = await _token(client, user, "sample-m2-l2-p1", "video")
    assert answer.status_code == 200, answer.text
    assert answer.json()["customDomain"] is None
    assert (await client.get(answer.json()["streamUrl"])).status_code == 200

    # MUX_CUSTOM_DOMAIN: the page plays through stream.<domain>, so no local URL is handed out
    custom = await app_factory(
        COLLAB_DATA_DIR=str(settings.data_dir), MUX_CUSTOM_DOMAIN="media.example.test"
    )
    user2 = bearer((await register(custom))["token"])
    through = await _token(custom, user2, "sample-m2-l2-p1", "video")
    assert through.status_code == 200, through.text
    assert through.json()["customDomain"] == "media.example.test"
    assert through.json()["streamUrl"] is None
    playlist = await custom.get(
        "/mux-local/stream/sample-m2-l2-p1.m3u8", params={"token": through.json()["token"]}
    )
    assert playlist.status_code == 200


async def test_streams_refuse_tokens_mux_would_refuse(sample: tuple[Client, Settings]) -> None:
    client, settings = sample
    user = bearer((await register(client))["token"])
    answer = await _token(client, user, "sample-m1-l1", "video")
    good = answer.json()["token"]
    base = "/mux-local/stream/sample-m1-l1.m3u8"
    assert (await client.get(base, params={"token": good})).status_code == 200
    assert (await client.get(base)).status_code == 400

    header = jwt.get_unverified_header(good)
    claims = jwt.decode(good, options={"verify_signature": False})
    stored = (settings.data_dir / "mux-dev-key.json").read_text()
    key = serialization.load_pem_private_key(
        base64.b64decode(json.loads(stored)["privateKey"]), password=None
    )

    def signed(
        changes: dict[str, Any], kid: str | None = header["kid"], with_key: Any = key
    ) -> str:
        headers = {"kid": kid} if kid else {}
        return jwt.encode({**claims, **changes}, with_key, algorithm="RS256", headers=headers)

    other_key = serialization.load_pem_private_key(
        base64.b64decode(generate_dev_key().private_key_b64), password=None
    )
    refused = {
        "expired": signed({"exp": int(time.time()) - 5}),
        "another playback id": signed({"sub": "sample-m1-l2"}),
        "no kid in the header": signed({}, kid=None),
        "another kid": signed({}, kid="someone-else"),
        "another key": signed({}, with_key=other_key),
        "garbage": "not.a.token",
    }
    for why, token in refused.items():
        response = await client.get(base, params={"token": token})
        assert response.status_code == 403, why
    expired = await client.get(base, params={"token": refused["expired"]})
    assert expired.json()["error"]["code"] == "token_expired"
    segment = "/mux-local/stream/sample-m1-l1/segment-0.ts"
    assert (await client.get(segment, params={"token": refused["expired"]})).status_code == 403
    assert (await client.get(segment, params={"token": good})).status_code == 200
    for sneaky in ("..%2F..%2Fmux-dev-key.json", "..%2Findex.m3u8", "%2E%2E/%2E%2E/x.ts"):
        traversal = await client.get(f"/mux-local/stream/sample-m1-l1/{sneaky}")
        assert traversal.status_code == 404, sneaky
        assert "privateKey" not in traversal.text


async def test_the_premium_sample_module_is_locked_for_a_free_user(
    sample: tuple[Client, Settings], database_url: str
) -> None:
    client, _ = sample
    user = bearer((await register(client))["token"])
    refused = await _token(client, user, "sample-m3-l1", "video")
    assert refused.status_code == 403
    premium, _ = await user_with_role(client, database_url, "premium")
    assert (await _token(client, premium, "sample-m3-l1", "video")).status_code == 200


def test_write_hls_makes_a_playlist_segments_and_a_poster(made_streams: Path) -> None:
    import av

    one = made_streams / "sample-m1-l1"
    playlist = (one / "index.m3u8").read_text()
    assert "#EXT-X-ENDLIST" in playlist and "segment-0.ts" in playlist
    with av.open(str(one / "index.m3u8")) as container:
        kinds = sorted(stream.type for stream in container.streams)
        assert kinds == ["audio", "video"]
        assert container.duration is not None and 3.5 < container.duration / 1e6 < 4.5
