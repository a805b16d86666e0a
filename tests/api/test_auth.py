"""Auth: register, login, refresh rotation and reuse detection, logout, me, cookies and CSRF."""

from __future__ import annotations

from typing import Any

import httpx
import jwt

from tests.api.conftest import JWT_SECRET, PASSWORD, bearer, register, unique_email


async def test_register_login_me(client: httpx.AsyncClient) -> None:
    email = unique_email()
    registered = await register(client, email=email.upper(), name="Ada")
    assert registered["success"] is True
    assert registered["user"]["email"] == email
    assert registered["user"]["role"] == "user"
    claims = jwt.decode(registered["token"], JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == registered["user"]["id"]
    assert claims["type"] == "access"
    assert {"name", "email", "role", "exp", "iat", "jti"} <= claims.keys()

    login = await client.post(
        "/api/workbook/auth/login", json={"email": email, "password": PASSWORD}
    )
    assert login.status_code == 200
    me = await client.get("/api/workbook/auth/me", headers=bearer(login.json()["token"]))
    assert me.status_code == 200
    assert me.json()["user"]["name"] == "Ada"


async def test_register_duplicate_is_409_and_bad_fields_are_named(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()
    await register(client, email=email)
    again = await client.post(
        "/api/workbook/auth/register", json={"email": email, "password": PASSWORD, "name": "x"}
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    bad = await client.post(
        "/api/workbook/auth/register", json={"email": "nope", "password": "short", "name": ""}
    )
    assert bad.status_code == 422
    fields = {f["field"] for f in bad.json()["error"]["fields"]}
    assert fields == {"email", "password", "name"}


async def test_registration_can_be_closed(app_factory: Any) -> None:
    client = await app_factory(REGISTRATION_OPEN=False)
    response = await client.post(
        "/api/workbook/auth/register",
        json={"email": unique_email(), "password": PASSWORD, "name": "x"},
    )
    assert response.status_code == 403


async def test_wrong_password_and_unknown_email_are_401(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await register(client, email=email)
    for body in (
        {"email": email, "password": "wrong-password"},
        {"email": unique_email(), "password": PASSWORD},
    ):
        response = await client.post("/api/workbook/auth/login", json=body)
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "invalid email or password"


async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient) -> None:
    first = (await register(client))["refreshToken"]
    rotated = await client.post("/api/workbook/auth/refresh", json={"refreshToken": first})
    assert rotated.status_code == 200
    second = rotated.json()["refreshToken"]
    assert second != first
    assert rotated.json()["token"]

    reused = await client.post("/api/workbook/auth/refresh", json={"refreshToken": first})
    assert reused.status_code == 401
    assert "revoked" in reused.json()["error"]["message"]
    # The thief's replay also killed the legitimate successor.
    after = await client.post("/api/workbook/auth/refresh", json={"refreshToken": second})
    assert after.status_code == 401


async def test_unknown_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/workbook/auth/refresh", json={"refreshToken": "nope"})
    assert response.status_code == 401
    missing = await client.post("/api/workbook/auth/refresh")
    assert missing.status_code == 401


async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient) -> None:
    refresh = (await register(client))["refreshToken"]
    out = await client.post("/api/workbook/auth/logout", json={"refreshToken": refresh})
    assert out.status_code == 200
    again = await client.post("/api/workbook/auth/refresh", json={"refreshToken": refresh})
    assert again.status_code == 401


async def test_cookies_are_hardened(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/workbook/auth/register",
        json={"email": unique_email(), "password": PASSWORD, "name": "Cookie"},
    )
    headers = response.headers.get_list("set-cookie")
    by_name = {h.split("=", 1)[0]: h.lower() for h in headers}
    assert {"collab_access", "collab_refresh", "collab_csrf"} <= by_name.keys()
    for name in ("collab_access", "collab_refresh"):
        assert "httponly" in by_name[name]
        assert "secure" in by_name[name]
        assert "samesite=lax" in by_name[name]
    assert "path=/api/workbook/auth" in by_name["collab_refresh"]
    assert "httponly" not in by_name["collab_csrf"]


async def test_cookie_auth_and_csrf(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/workbook/auth/register",
        json={"email": unique_email(), "password": PASSWORD, "name": "Cookie"},
    )
    assert response.status_code == 201
    me = await client.get("/api/workbook/auth/me")  # cookie only
    assert me.status_code == 200

    # A cookie-authenticated refresh without the CSRF header is refused...
    no_csrf = await client.post("/api/workbook/auth/refresh")
    assert no_csrf.status_code == 403
    assert no_csrf.json()["error"]["code"] == "csrf_failed"
    # ...and accepted with it; the cookies rotate.
    csrf = client.cookies["collab_csrf"]
    old_refresh = client.cookies.get("collab_refresh", path="/api/workbook/auth")
    ok = await client.post("/api/workbook/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    assert client.cookies.get("collab_refresh", path="/api/workbook/auth") != old_refresh

    out = await client.post(
        "/api/workbook/auth/logout", headers={"X-CSRF-Token": client.cookies["collab_csrf"]}
    )
    assert out.status_code == 200
    assert "collab_access" not in client.cookies
    assert (await client.get("/api/workbook/auth/me")).status_code == 401


async def test_401_for_missing_or_bad_tokens(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/workbook/auth/me")).status_code == 401
    bad = await client.get("/api/workbook/auth/me", headers=bearer("not-a-jwt"))
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == "Bearer"
    forged = jwt.encode(
        {"sub": "x", "type": "access", "exp": 2**31, "iat": 0},
        "another-secret-of-at-least-32-bytes!!",
    )
    assert (await client.get("/api/workbook/auth/me", headers=bearer(forged))).status_code == 401
    expired = jwt.encode(
        {"sub": "8d2c1f7e-0000-4000-8000-000000000000", "type": "access", "exp": 1, "iat": 0},
        JWT_SECRET,
    )
    response = await client.get("/api/workbook/auth/me", headers=bearer(expired))
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


async def test_cookie_authenticated_writes_need_the_csrf_header(
    client: httpx.AsyncClient,
) -> None:
    await client.post(
        "/api/workbook/auth/register",
        json={"email": unique_email(), "password": PASSWORD, "name": "Browser"},
    )
    assert (await client.get("/api/workbook/notes")).status_code == 200  # safe: no header needed
    forged = await client.post("/api/workbook/notes", json={"title": "CSRF"})
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "csrf_failed"
    wrong = await client.post(
        "/api/workbook/notes", json={"title": "CSRF"}, headers={"X-CSRF-Token": "guess"}
    )
    assert wrong.status_code == 403
    ok = await client.post(
        "/api/workbook/notes",
        json={"title": "Mine"},
        headers={"X-CSRF-Token": client.cookies["collab_csrf"]},
    )
    assert ok.status_code == 201
    listed = (await client.get("/api/workbook/notes")).json()
    assert [n["title"] for n in listed["notes"]] == ["Mine"]
