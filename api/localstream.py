"""A local stand-in for Mux's delivery hosts, for development and tests.

Mux serves a signed playback id only with a valid token, and so does this: HLS at
``/mux-local/stream/{playbackId}.m3u8`` (Mux: ``https://stream.mux.com/{id}.m3u8``), its
segments below it, and a poster at ``/mux-local/image/{playbackId}/thumbnail.jpg`` (Mux:
``https://image.mux.com/...``). A token is checked as Mux checks it: an RS256 JWT verified with
the signing key's public half, the header's ``kid`` naming that key, ``aud`` the letter of what
is fetched (``v`` video, ``t`` thumbnail), ``sub`` the playback id, ``exp`` in the future. An
expired token is a 403, which is what a player sees from Mux.

The files come from ``{COLLAB_DATA_DIR}/streams/{playbackId}/`` (``index.m3u8``, segments,
``thumbnail.jpg``), written by ``collab sample-course``. The playlist is rewritten so every
segment carries the token it was fetched with, as Mux's signed playlists do.
"""

from __future__ import annotations

import re
from pathlib import Path

import jwt
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from api.errors import error_response
from api.playback import AUDIENCES, MuxSigner
from api.settings import Settings

__all__ = ["PREFIX", "dev_key_file", "local_stream_routes", "stream_url"]

PREFIX = "/mux-local"
_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,64}\.ts")
_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t", ".jpg": "image/jpeg"}


def dev_key_file(settings: Settings) -> Path:
    """Where ``collab sample-course`` keeps the development signing key (not in production)."""
    return settings.data_dir / "mux-dev-key.json"


def stream_url(playback_id: str, token: str) -> str:
    """Where the page plays a local stream (the token travels in the query, as with Mux)."""
    return f"{PREFIX}/stream/{playback_id}.m3u8?token={token}"


class _Verifier:
    def __init__(self, signer: MuxSigner, root: Path) -> None:
        self._key = signer.private_key.public_key()
        self._key_id = signer.key_id
        self.root = root

    def check(self, request: Request, playback_id: str, kind: str) -> Response | None:
        """None when the request carries a token for ``playback_id`` and ``kind``; otherwise
        the refusal (400 without a token, 403 for a wrong or expired one)."""
        token = request.query_params.get("token")
        if not token:
            return error_response(400, "bad_request", "a signed playback id needs ?token=")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self._key_id:
                raise jwt.InvalidTokenError("the token's kid does not name our signing key")
            jwt.decode(
                token,
                self._key,
                algorithms=["RS256"],
                audience=AUDIENCES[kind],
                subject=playback_id,
                options={"require": ["exp", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            return error_response(403, "token_expired", "the playback token has expired")
        except jwt.InvalidTokenError as exc:
            return error_response(403, "forbidden", f"invalid playback token: {exc}")
        return None

    def file(self, playback_id: str, name: str) -> Response:
        path = self.root / playback_id / name
        if not path.is_file():
            return error_response(404, "not_found", "no such stream")
        return FileResponse(path, media_type=_TYPES[path.suffix])


def local_stream_routes(signer: MuxSigner, root: Path) -> list[BaseRoute]:
    verifier = _Verifier(signer, root)

    async def playlist(request: Request) -> Response:
        playback_id = str(request.path_params["playback_id"])
        if not _ID.fullmatch(playback_id):
            return error_response(404, "not_found", "no such stream")
        refusal = verifier.check(request, playback_id, "video")
        if refusal is not None:
            return refusal
        path = verifier.root / playback_id / "index.m3u8"
        if not path.is_file():
            return error_response(404, "not_found", "no such stream")
        token = request.query_params["token"]
        lines = [
            f"{playback_id}/{line}?token={token}" if _SEGMENT.fullmatch(line) else line
            for line in path.read_text().splitlines()
        ]
        return Response(
            "\n".join(lines) + "\n",
            media_type=_TYPES[".m3u8"],
            headers={"Cache-Control": "no-store"},
        )

    async def segment(request: Request) -> Response:
        playback_id = str(request.path_params["playback_id"])
        name = str(request.path_params["segment"])
        if not _ID.fullmatch(playback_id) or not _SEGMENT.fullmatch(name):
            return error_response(404, "not_found", "no such segment")
        return verifier.check(request, playback_id, "video") or verifier.file(playback_id, name)

    async def thumbnail(request: Request) -> Response:
        playback_id = str(request.path_params["playback_id"])
        if not _ID.fullmatch(playback_id):
            return error_response(404, "not_found", "no such image")
        return verifier.check(request, playback_id, "thumbnail") or verifier.file(
            playback_id, "thumbnail.jpg"
        )

    return [
        Route(PREFIX + "/stream/{playback_id}.m3u8", playlist, methods=["GET"]),
        Route(PREFIX + "/stream/{playback_id}/{segment}", segment, methods=["GET"]),
        Route(PREFIX + "/image/{playback_id}/thumbnail.jpg", thumbnail, methods=["GET"]),
    ]
