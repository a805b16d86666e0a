"""`mux-signature` parsing: the 300 s window on both sides, and no header ever reaches a 500.

Header values arrive as latin-1 text, so "²" (0xB2) is a real input: `str.isdigit()` accepts
it and `int()` does not.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.playback import WEBHOOK_TOLERANCE_SECONDS, WebhookSignatureError, verify_webhook
from api.schema import ascii_uint

SECRET = "webhook-secret-for-tests"
BODY = json.dumps({"type": "video.asset.ready"}).encode()
NOW = 1_800_000_000


def sign(timestamp: int | str, body: bytes = BODY, secret: str = SECRET) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@pytest.mark.parametrize("offset", [0, -WEBHOOK_TOLERANCE_SECONDS, WEBHOOK_TOLERANCE_SECONDS])
def test_a_signature_within_the_window_is_accepted(offset: int) -> None:
    verify_webhook(sign(NOW + offset), BODY, SECRET, now=NOW)


@pytest.mark.parametrize(
    "offset", [-WEBHOOK_TOLERANCE_SECONDS - 1, WEBHOOK_TOLERANCE_SECONDS + 1, 10**9]
)
def test_a_signature_outside_the_window_is_refused(offset: int) -> None:
    # Both sides: a timestamp far in the future is no fresher than one far in the past.
    with pytest.raises(WebhookSignatureError, match="tolerance") as refused:
        verify_webhook(sign(NOW + offset), BODY, SECRET, now=NOW)
    assert not refused.value.malformed


def test_the_window_is_five_minutes() -> None:
    assert WEBHOOK_TOLERANCE_SECONDS == 300


@pytest.mark.parametrize(
    "header",
    [
        "t=²,v1=ab",  # isdigit() but not int()
        "t=١٢٣,v1=ab",  # int() accepts other scripts' digits: still not a unix time
        "t= 123,v1=ab",
        "t=+123,v1=ab",
        "t=1_000,v1=ab",
        "t=-5,v1=ab",
        "t=" + "9" * 5000 + ",v1=ab",  # int() refuses more than 4300 digits
        "t=" + "9" * 400 + ",v1=ab",  # an int too big for a float
        "t=,v1=ab",
        "t=123",
    ],
)
def test_a_malformed_timestamp_is_a_malformed_header(header: str) -> None:
    with pytest.raises(WebhookSignatureError) as refused:
        verify_webhook(header, BODY, SECRET, now=NOW)
    assert refused.value.malformed


def test_a_non_ascii_signature_does_not_match() -> None:
    # hmac.compare_digest raises TypeError for a str with non-ASCII characters.
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify_webhook(f"t={NOW},v1=é", BODY, SECRET, now=NOW)


LATIN_1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF)
DIGITISH = st.sampled_from("0123456789¹²³¼½ +-_.e\u0663\u0966")  # what isdigit/int disagree on
TIMESTAMP = st.one_of(
    st.text(DIGITISH, min_size=1, max_size=14),
    st.integers(-(10**15), 10**15).map(str),
    st.integers(NOW - 400, NOW + 400).map(str),  # in the window: the signature is compared
    st.text(LATIN_1, max_size=14),
)
SIGNATURE = st.one_of(st.text(LATIN_1, max_size=70), st.text("0123456789abcdef", max_size=64))
EXTRA = st.lists(st.text(LATIN_1, max_size=20), max_size=3)


@settings(max_examples=400, deadline=None)
@given(timestamp=TIMESTAMP, signature=SIGNATURE, extra=EXTRA)
def test_any_header_is_accepted_or_refused_never_an_error(
    timestamp: str, signature: str, extra: list[str]
) -> None:
    header = ",".join([f"t={timestamp}", f"v1={signature}", *extra])
    with contextlib.suppress(WebhookSignatureError):
        verify_webhook(header, BODY, SECRET, now=NOW)


@settings(max_examples=200, deadline=None)
@given(text=st.text(LATIN_1, max_size=25))
def test_ascii_uint_takes_only_ascii_digits(text: str) -> None:
    value = ascii_uint(text)
    if value is None:
        assert not (text.isascii() and text.isdigit() and 0 < len(text) <= 18)
    else:
        assert str(value) == text.lstrip("0") or (value == 0 and set(text) == {"0"})


WEBHOOK = "/api/mux/webhooks"


@pytest.fixture
async def mux_client(app_factory: Any) -> httpx.AsyncClient:
    client = await app_factory(MUX_WEBHOOK_SECRET=SECRET)
    assert isinstance(client, httpx.AsyncClient)
    return client


@pytest.mark.parametrize(
    "header", ["t=²,v1=ab", "t=" + "9" * 5000 + ",v1=ab", "t=" + "9" * 400 + ",v1=ab"]
)
async def test_the_route_answers_400_for_a_malformed_header(
    mux_client: httpx.AsyncClient, header: str
) -> None:
    response = await mux_client.post(
        WEBHOOK, content=BODY, headers={"mux-signature": header.encode("latin-1")}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_signature"


async def test_the_route_answers_401_for_a_non_ascii_signature(
    mux_client: httpx.AsyncClient,
) -> None:
    header = f"t={int(time.time())},v1=é".encode("latin-1")
    response = await mux_client.post(WEBHOOK, content=BODY, headers={"mux-signature": header})
    assert response.status_code == 401, response.text


@pytest.mark.parametrize("length", [b"\xb2", b"9" * 5000, b"+5"])
async def test_a_malformed_content_length_is_a_400(
    mux_client: httpx.AsyncClient, length: bytes
) -> None:
    # A server in front normally refuses these; the app must not depend on it.
    scope_headers = [(b"content-length", length), (b"mux-signature", sign(NOW).encode())]
    response = await _raw_post(mux_client, WEBHOOK, scope_headers, BODY)
    assert response[0] == 400, response


async def _raw_post(
    client: httpx.AsyncClient, path: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[int, bytes]:
    """POST straight into the ASGI app: httpx would write its own Content-Length."""
    app = client.app  # type: ignore[attr-defined]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "https", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1), "server": ("testserver", 443), "state": {},
    }
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, payload
