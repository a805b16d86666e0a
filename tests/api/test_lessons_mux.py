"""Lessons, sub-lessons and Mux: playback tokens verified with the public key, webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from api.playback import DevKey, generate_dev_key
from api.settings import Settings
from tests.api.conftest import bearer, register, user_with_role

WEBHOOK_SECRET = "webhook-secret-for-tests"


@pytest.fixture(scope="module")
def dev_key() -> DevKey:
    return generate_dev_key()


@pytest.fixture
async def mux_client(app_factory: Any, dev_key: DevKey) -> httpx.AsyncClient:
    client = await app_factory(
        MUX_SIGNING_KEY_ID=dev_key.key_id,
        MUX_SIGNING_PRIVATE_KEY=dev_key.private_key_b64,
        MUX_WEBHOOK_SECRET=WEBHOOK_SECRET,
        MUX_TOKEN_TTL_SECONDS=7200,
    )
    assert isinstance(client, httpx.AsyncClient)
    return client


async def _course(client: httpx.AsyncClient, admin: dict[str, str], tier: str) -> dict[str, str]:
    module = await client.post(
        "/api/workbook/modules",
        json={"title": f"{tier} course", "requiredTier": tier},
        headers=admin,
    )
    module_id = module.json()["module"]["id"]
    lesson = await client.post(
        f"/api/workbook/modules/{module_id}/lessons",
        json={
            "title": "Intro",
            "order": 1,
            "muxPlaybackId": f"{tier}Lesson01",
            "durationSeconds": 600,
        },
        headers=admin,
    )
    assert lesson.status_code == 201, lesson.text
    lesson_id = lesson.json()["lesson"]["id"]
    sub = await client.post(
        f"/api/workbook/lessons/{lesson_id}/sub-lessons",
        json={
            "title": "Part 2",
            "order": 2,
            "muxPlaybackId": f"{tier}Sub02",
            "durationSeconds": 120,
            "startTimeSeconds": 300,
        },
        headers=admin,
    )
    assert sub.status_code == 201, sub.text
    return {"module": module_id, "lesson": lesson_id, "sub": sub.json()["subLesson"]["id"]}


async def test_lessons_listed_with_sub_lessons(
    mux_client: httpx.AsyncClient, database_url: str
) -> None:
    admin, _ = await user_with_role(mux_client, database_url, "admin")
    ids = await _course(mux_client, admin, "free")
    user = bearer((await register(mux_client))["token"])
    listed = await mux_client.get(f"/api/workbook/modules/{ids['module']}/lessons", headers=user)
    assert listed.status_code == 200
    lesson = listed.json()["lessons"][0]
    assert lesson["muxPlaybackId"] == "freeLesson01"
    assert lesson["subLessons"][0]["startTimeSeconds"] == 300
    subs = await mux_client.get(f"/api/workbook/lessons/{ids['lesson']}/sub-lessons", headers=user)
    assert [s["id"] for s in subs.json()["subLessons"]] == [ids["sub"]]
    forbidden = await mux_client.post(
        f"/api/workbook/modules/{ids['module']}/lessons", json={"title": "x"}, headers=user
    )
    assert forbidden.status_code == 403
    missing = await mux_client.post(
        f"/api/workbook/modules/{uuid.uuid4()}/lessons", json={"title": "x"}, headers=admin
    )
    assert missing.status_code == 404


async def test_playback_token_verifies_with_the_public_key(
    mux_client: httpx.AsyncClient, database_url: str, dev_key: DevKey
) -> None:
    admin, _ = await user_with_role(mux_client, database_url, "admin")
    await _course(mux_client, admin, "free")
    user = bearer((await register(mux_client))["token"])
    public = serialization.load_pem_public_key(dev_key.public_key_pem.encode())
    for kind, aud, playback in (
        ("video", "v", "freeLesson01"),
        ("thumbnail", "t", "freeSub02"),
        ("storyboard", "s", "freeLesson01"),
        ("gif", "g", "freeSub02"),
    ):
        response = await mux_client.post(
            "/api/mux/playback-token", json={"playbackId": playback, "type": kind}, headers=user
        )
        assert response.status_code == 200, response.text
        token = response.json()["token"]
        assert jwt.get_unverified_header(token)["kid"] == dev_key.key_id
        claims = jwt.decode(token, public, algorithms=["RS256"], audience=aud)  # type: ignore[arg-type]
        assert claims["sub"] == playback
        assert claims["kid"] == dev_key.key_id
        assert claims["exp"] == response.json()["expiresAt"]
        assert 7000 < claims["exp"] - time.time() <= 7200


async def test_playback_token_refused_for_locked_or_unknown(
    mux_client: httpx.AsyncClient, database_url: str
) -> None:
    admin, _ = await user_with_role(mux_client, database_url, "admin")
    ids = await _course(mux_client, admin, "premium")
    free = bearer((await register(mux_client))["token"])
    locked = await mux_client.post(
        "/api/mux/playback-token", json={"playbackId": "premiumLesson01"}, headers=free
    )
    assert locked.status_code == 403
    lessons = await mux_client.get(f"/api/workbook/modules/{ids['module']}/lessons", headers=free)
    assert lessons.status_code == 403
    unknown = await mux_client.post(
        "/api/mux/playback-token", json={"playbackId": "nope"}, headers=free
    )
    assert unknown.status_code == 404
    bad = await mux_client.post(
        "/api/mux/playback-token", json={"playbackId": "x y", "type": "movie"}, headers=free
    )
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["error"]["fields"]} == {"playbackId", "type"}
    premium, _ = await user_with_role(mux_client, database_url, "premium")
    ok = await mux_client.post(
        "/api/mux/playback-token", json={"playbackId": "premiumSub02"}, headers=premium
    )
    assert ok.status_code == 200


async def test_playback_token_503_without_a_key(client: httpx.AsyncClient) -> None:
    user = bearer((await register(client))["token"])
    response = await client.post(
        "/api/mux/playback-token", json={"playbackId": "abc"}, headers=user
    )
    assert response.status_code == 503
    assert "MUX_SIGNING_PRIVATE_KEY" in response.json()["error"]["message"]


def _sign(body: bytes, timestamp: int, secret: str = WEBHOOK_SECRET) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


async def test_webhook_signature(mux_client: httpx.AsyncClient) -> None:
    body = json.dumps({"type": "video.asset.ready", "data": {"id": "a1"}}).encode()
    now = int(time.time())
    url = "/api/mux/webhooks"
    good = await mux_client.post(url, content=body, headers={"mux-signature": _sign(body, now)})
    assert good.status_code == 200
    assert good.json() == {"received": True, "type": "video.asset.ready"}

    wrong = await mux_client.post(
        url, content=body, headers={"mux-signature": _sign(body, now, "other")}
    )
    assert wrong.status_code == 401
    stale = await mux_client.post(
        url, content=body, headers={"mux-signature": _sign(body, now - 301)}
    )
    assert stale.status_code == 401
    tampered = await mux_client.post(
        url, content=body + b" ", headers={"mux-signature": _sign(body, now)}
    )
    assert tampered.status_code == 401
    missing = await mux_client.post(url, content=body)
    assert missing.status_code == 400
    garbled = await mux_client.post(url, content=body, headers={"mux-signature": "v1=abc"})
    assert garbled.status_code == 400


def test_token_lifetime_covers_the_video_plus_the_configured_slack(dev_key: DevKey) -> None:
    from api.playback import TOKEN_SLACK_SECONDS, MuxSigner

    default = MuxSigner.from_base64_pem(dev_key.key_id, dev_key.private_key_b64, 60)
    none = MuxSigner.from_base64_pem(dev_key.key_id, dev_key.private_key_b64, 60, 0)
    now = int(time.time())
    _, expires = default.sign("pb", "video", covers_seconds=600)
    assert 600 + TOKEN_SLACK_SECONDS <= expires - now <= 600 + TOKEN_SLACK_SECONDS + 2
    _, expires = none.sign("pb", "video", covers_seconds=600)
    assert 600 <= expires - now <= 602  # the video alone: tests watch such a token expire
    _, expires = none.sign("pb", "video", covers_seconds=10)
    assert 60 <= expires - now <= 62  # never shorter than the TTL


@pytest.mark.parametrize(
    "domain", ["https://media.example.com", "media.example.com/x", "localhost", "a.b:443", ""]
)
def test_mux_custom_domain_must_be_a_bare_dns_name(domain: str) -> None:
    with pytest.raises(ValueError, match="MUX_CUSTOM_DOMAIN"):
        Settings(MUX_CUSTOM_DOMAIN=domain)
    assert Settings(MUX_CUSTOM_DOMAIN="media.example.com").mux_custom_domain == "media.example.com"
