"""Rate limits of the admin analytics (per admin, JSON and CSV share one budget) and of polling
and downloading a background account export (per user): 429, a JSON error naming the limit,
Retry-After; another user keeps their own budget; a refused request changes nothing."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import bearer, register, user_with_role

ANALYTICS = "/api/admin/analytics"


def _refused(response: Any) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    retry = int(response.headers["Retry-After"])
    assert 1 <= retry <= 900
    assert f"retry in {retry} s" in error["message"]


async def test_analytics_are_rate_limited_per_admin(app_factory: Any, database_url: str) -> None:
    client = await app_factory(RATE_LIMITS_ENABLED=True, RATE_LIMIT_ANALYTICS="3/900")
    admin, _ = await user_with_role(client, database_url, "admin", name="Admin")
    codes = [
        (await client.get(f"{ANALYTICS}/overview", headers=admin)).status_code,
        (await client.get(f"{ANALYTICS}/lessons", headers=admin)).status_code,
        (await client.get(f"{ANALYTICS}/modules?format=csv", headers=admin)).status_code,
    ]
    assert codes == [200, 200, 200]
    _refused(await client.get(f"{ANALYTICS}/sessions", headers=admin))
    _refused(await client.get(f"{ANALYTICS}/recordings?format=csv", headers=admin))
    other, _ = await user_with_role(client, database_url, "admin", name="Other Admin")
    assert (await client.get(f"{ANALYTICS}/overview", headers=other)).status_code == 200
    # a bad range is a 422 naming the field and does not use the budget
    bad = await client.get(f"{ANALYTICS}/overview?from=2026-13-01", headers=other)
    assert bad.status_code == 422
    assert (await client.get(f"{ANALYTICS}/overview", headers=other)).status_code == 200


async def test_analytics_refuse_non_admins_before_counting(
    app_factory: Any, database_url: str
) -> None:
    client = await app_factory(RATE_LIMITS_ENABLED=True, RATE_LIMIT_ANALYTICS="1/900")
    user = bearer((await register(client))["token"])
    for _ in range(3):
        assert (await client.get(f"{ANALYTICS}/overview", headers=user)).status_code == 403


async def test_export_polling_is_rate_limited_per_user(app_factory: Any) -> None:
    client = await app_factory(RATE_LIMITS_ENABLED=True, RATE_LIMIT_ACCOUNT_EXPORT_POLL="2/900")
    me = bearer((await register(client))["token"])
    unknown = "/api/workbook/me/exports/" + "0" * 32
    assert (await client.get(unknown, headers=me)).status_code == 404
    assert (await client.get(f"{unknown}/download", headers=me)).status_code == 404
    _refused(await client.get(unknown, headers=me))
    _refused(await client.get(f"{unknown}/download", headers=me))
    other = bearer((await register(client))["token"])
    assert (await client.get(unknown, headers=other)).status_code == 404
