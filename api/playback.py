"""Mux signed playback: RS256 tokens and webhook signatures.

Mux validates a playback token by the `kid` in the JWT *header* (the seed's production lesson:
a `kid` only in the payload gets a 403); Mux's own SDK also writes it as a claim, so we do both.
`aud` is one letter: v (video), t (thumbnail), s (storyboard), g (gif).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from api.schema import ascii_uint

PlaybackType = Literal["video", "thumbnail", "storyboard", "gif"]
AUDIENCES: dict[str, str] = {"video": "v", "thumbnail": "t", "storyboard": "s", "gif": "g"}
WEBHOOK_TOLERANCE_SECONDS = 300
TOKEN_SLACK_SECONDS = 3600


class SigningKeyError(ValueError):
    """MUX_SIGNING_PRIVATE_KEY is not a base64-encoded PEM RSA private key."""


@dataclass(frozen=True, slots=True)
class MuxSigner:
    key_id: str
    private_key: rsa.RSAPrivateKey
    ttl_seconds: int
    slack_seconds: int = TOKEN_SLACK_SECONDS

    @classmethod
    def from_base64_pem(
        cls, key_id: str, encoded: str, ttl_seconds: int, slack_seconds: int = TOKEN_SLACK_SECONDS
    ) -> MuxSigner:
        try:
            pem = base64.b64decode(encoded.strip(), validate=False)
            key: PrivateKeyTypes = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, binascii.Error) as exc:
            raise SigningKeyError(
                "MUX_SIGNING_PRIVATE_KEY must be a base64-encoded PEM RSA private key"
            ) from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise SigningKeyError("MUX_SIGNING_PRIVATE_KEY must be an RSA key")
        return cls(
            key_id=key_id, private_key=key, ttl_seconds=ttl_seconds, slack_seconds=slack_seconds
        )

    def sign(
        self, playback_id: str, kind: PlaybackType, *, covers_seconds: int = 0
    ) -> tuple[str, int]:
        """A token for ``playback_id``, valid for the configured TTL or, when longer,
        ``covers_seconds`` (the video's duration) plus the slack for pauses (an hour by default)."""
        covered = covers_seconds + self.slack_seconds if covers_seconds else 0
        lifetime = max(self.ttl_seconds, covered)
        expires_at = int(time.time()) + lifetime
        claims = {"sub": playback_id, "aud": AUDIENCES[kind], "exp": expires_at, "kid": self.key_id}
        token = jwt.encode(
            claims, self.private_key, algorithm="RS256", headers={"kid": self.key_id}
        )
        return token, expires_at


@dataclass(frozen=True, slots=True)
class DevKey:
    key_id: str
    private_key_b64: str
    public_key_pem: str


def generate_dev_key() -> DevKey:
    """A local RSA key pair in the shape Mux hands out (for development and tests)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_id = "dev-" + hashlib.sha256(public).hexdigest()[:20]
    return DevKey(key_id, base64.b64encode(pem).decode(), public.decode())


class WebhookSignatureError(ValueError):
    """The mux-signature header is missing, malformed, stale or does not match."""

    def __init__(self, message: str, *, malformed: bool = False) -> None:
        super().__init__(message)
        self.malformed = malformed


def verify_webhook(
    header: str | None,
    body: bytes,
    secret: str,
    *,
    now: float | None = None,
    tolerance: int = WEBHOOK_TOLERANCE_SECONDS,
) -> None:
    """Check `mux-signature: t=<unix>,v1=<hex hmac-sha256 of "t.body">` within the tolerance."""
    if not header:
        raise WebhookSignatureError("missing mux-signature header", malformed=True)
    timestamp: str | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamp = value
        elif name == "v1":
            signatures.append(value)
    # ASCII digits only, and few of them: "²" passes isdigit() but not int(), and an int too
    # big for a float overflows the tolerance check.
    seconds = ascii_uint(timestamp or "", max_digits=12)
    if timestamp is None or seconds is None or not signatures:
        raise WebhookSignatureError(
            "mux-signature must be 't=<unix time>,v1=<hex>'", malformed=True
        )
    current = time.time() if now is None else now
    if abs(current - seconds) > tolerance:
        raise WebhookSignatureError("mux-signature timestamp outside the tolerance")
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    # Bytes: compare_digest raises TypeError on a str with non-ASCII characters.
    if not any(hmac.compare_digest(expected.encode(), v.encode()) for v in signatures):
        raise WebhookSignatureError("mux-signature does not match")
